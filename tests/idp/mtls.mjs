// Client authentication beyond secrets: a client_secret_jwt client, and mutual TLS (RFC 8705)
// on a second, HTTPS listener that asks for client certificates.
//
// The certificates are made by the test kit (rcgen) and handed over in IDP_MTLS_DIR:
//   ca.pem                       the test CA (trusted for tls_client_auth)
//   server.pem, server.key       the HTTPS listener's certificate (127.0.0.1, localhost)
//   client.pem                   a client certificate from the CA (DNS SAN latchkey-test-client)
//   self-signed.pem              a self-signed client certificate (registered by svc-mtls-self)
// Without IDP_MTLS_DIR only the client_secret_jwt client exists and no HTTPS listener starts.
import https from 'node:https';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const DIR = process.env.IDP_MTLS_DIR || null;
const read = (name) => readFileSync(path.join(DIR, name), 'utf8');

export const SECRET_JWT_CLIENT = {
  client_id: 'svc-secret-jwt',
  client_secret: 'secret-jwt-0123456789abcdef0123456789abcdef',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_jwt',
  scope: 'api:read api:write',
};

function mtlsClients() {
  if (!DIR) return [];
  const selfSigned = new X509Certificate(read('self-signed.pem'));
  const jwk = selfSigned.publicKey.export({ format: 'jwk' });
  const common = {
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api:read api:write',
    tls_client_certificate_bound_access_tokens: true,
  };
  return [
    {
      ...common,
      client_id: 'svc-mtls',
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_san_dns: 'latchkey-test-client',
    },
    {
      ...common,
      client_id: 'svc-mtls-self',
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [{ ...jwk, x5c: [selfSigned.raw.toString('base64')], use: 'sig' }] },
    },
  ];
}

/** The clients this module adds to the fixture's list. */
export const CLIENT_AUTH_CLIENTS = [SECRET_JWT_CLIENT, ...mtlsClients()];

/** The peer certificate of a TLS request, or undefined (plain HTTP, or none presented). */
function peerCertificate(ctxOrReq) {
  const socket = ctxOrReq.socket ?? ctxOrReq.req?.socket;
  const cert = socket?.getPeerX509Certificate?.();
  return cert ?? undefined;
}

/** `features.mTLS` for oidc-provider (off without certificates). */
export function mtlsFeature() {
  if (!DIR) return { enabled: false };
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: (ctx) => peerCertificate(ctx.req),
    // rejectUnauthorized is off (self-signed certificates must reach the provider), so
    // whether the chain leads to the test CA is read here.
    certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
    certificateSubjectMatches: (ctx, property, expected) => {
      const cert = peerCertificate(ctx.req);
      if (!cert) return false;
      switch (property) {
        case 'tls_client_auth_san_dns':
          return (cert.subjectAltName ?? '').split(', ').includes(`DNS:${expected}`);
        case 'tls_client_auth_subject_dn':
          return cert.subject.replace(/\n/g, ',') === expected;
        default:
          return false;
      }
    },
  };
}

/** oidc-provider's `clientAuthMethods`: its defaults, plus the two mutual-TLS methods. */
export function clientAuthMethods() {
  const methods = ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none'];
  return DIR ? [...methods, 'tls_client_auth', 'self_signed_tls_client_auth'] : methods;
}

/** RFC 8705 §5 aliases for the discovery document, once the HTTPS listener has a port. */
export function mtlsAliases(mtlsOrigin) {
  if (!mtlsOrigin) return {};
  return {
    mtls_endpoint_aliases: {
      token_endpoint: `${mtlsOrigin}/token`,
      revocation_endpoint: `${mtlsOrigin}/token/revocation`,
      introspection_endpoint: `${mtlsOrigin}/token/introspection`,
      userinfo_endpoint: `${mtlsOrigin}/me`,
    },
  };
}

/**
 * A resource route on the HTTPS listener, `GET /__resource/mtls` with a Bearer token: 200
 * when the token is active and, if it is certificate-bound, the connection presents the
 * certificate it is bound to (cnf.x5t#S256, RFC 8705 §3); else 401 invalid_token. Returns
 * true when it answered.
 */
export async function mtlsResource(req, res, provider) {
  if (!req.url.startsWith('/__resource/mtls')) return false;
  const deny = (why) => {
    res.writeHead(401, {
      'content-type': 'application/json',
      'www-authenticate': `Bearer error="invalid_token", error_description="${why}"`,
    });
    res.end(JSON.stringify({ error: 'invalid_token', error_description: why }));
    return true;
  };
  const auth = req.headers.authorization ?? '';
  if (!auth.startsWith('Bearer ')) return deny('no Bearer token');
  // Tokens of the client credentials grant are their own model in oidc-provider.
  const value = auth.slice(7);
  const token = await provider.AccessToken.find(value).catch(() => undefined)
    ?? await provider.ClientCredentials.find(value).catch(() => undefined);
  if (!token) return deny('the token is not active');
  const bound = token['x5t#S256'];
  if (bound) {
    const cert = peerCertificate(req);
    if (!cert) return deny('the token is certificate-bound and no client certificate was presented');
    const presented = createHash('sha256').update(cert.raw).digest('base64url');
    if (presented !== bound) return deny('the presented certificate is not the one the token is bound to');
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: true, client_id: token.clientId, 'x5t#S256': bound ?? null }));
  return true;
}

/**
 * Starts the HTTPS listener (client certificates requested, never required: a request
 * without one must reach the provider, which answers it as RFC 8705 says). Resolves to its
 * origin, or null without certificates.
 */
export function startMtlsListener(host, handler) {
  if (!DIR) return Promise.resolve(null);
  const server = https.createServer({
    key: read('server.key'),
    cert: read('server.pem'),
    ca: read('ca.pem'),
    requestCert: true,
    rejectUnauthorized: false,
  }, handler);
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      const hostPart = host.includes(':') ? `[${host}]` : host;
      resolve(`https://${hostPart}:${port}`);
    });
  });
}
