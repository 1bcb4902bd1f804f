// Token exchange (RFC 8693) and JWT bearer (RFC 7523 §2.1) grants for the fixture, and the
// clients that use them. server.mjs adds `exchangeClients()` to its clients and calls
// `registerExchangeGrants(provider)` after building each Provider.
//
// oidc-provider has neither grant built in; both are registered like the password grant
// (provider.registerGrantType) and issue ordinary ClientCredentials tokens, so introspection,
// revocation and the admin inspect route work on what they issue.
//
// Trust: assertions and JWT subject tokens are verified against the public keys below
// (signature, exp, aud; an assertion's jti only once); opaque subject tokens must be live
// access tokens of this fixture.
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const { errors } = await import('oidc-provider');

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TT = 'urn:ietf:params:oauth:token-type:';

// The service account of keys/sa-bearer.private.pem (a Google-style key file is built from it
// by the tests), and the "workload issuer" of keys/workload-issuer.private.pem, which stands
// for a Kubernetes API server, a SPIRE server or GitHub's token service.
export const SERVICE_ACCOUNT = 'sa-bearer@latchkey-test.iam.example';
export const WORKLOAD_ISSUER = 'https://workload.example';
// Audiences token exchange issues tokens for; any other is `invalid_target`.
export const EXCHANGE_AUDIENCES = ['https://api.example', 'https://reports.example'];

function publicKey(file) {
  return createPublicKey(readFileSync(path.join(HERE, 'keys', file), 'utf8'));
}

const TRUSTED_ISSUERS = new Map([
  [SERVICE_ACCOUNT, { key: publicKey('sa-bearer.private.pem'), alg: 'RS256' }],
  [WORKLOAD_ISSUER, { key: publicKey('workload-issuer.private.pem'), alg: 'ES256' }],
]);

function jwkOf(file, kid, alg) {
  return { ...publicKey(file).export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

export function exchangeClients() {
  return [
    {
      // Google style: no client authentication; the assertion is the credential.
      client_id: 'sa-bearer',
      token_endpoint_auth_method: 'none',
      grant_types: [JWT_BEARER],
      response_types: [],
      redirect_uris: [],
      scope: 'api:read api:write',
    },
    {
      client_id: 'exchanger',
      client_secret: 'exchanger-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [TOKEN_EXCHANGE],
      response_types: [],
      redirect_uris: [],
      scope: 'api:read api:write',
    },
    {
      // Workload identity: authenticates with a JWT the workload issuer signed (its key is the
      // client's key). oidc-provider insists that such an assertion has iss = sub = client_id
      // (lib/shared/jwt_client_auth.js), so the workload issuer mints this client's tokens
      // with those claims; see README.md.
      client_id: 'workload-client',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      grant_types: ['client_credentials', TOKEN_EXCHANGE],
      response_types: [],
      redirect_uris: [],
      scope: 'api:read api:write',
      jwks: { keys: [jwkOf('workload-issuer.private.pem', 'workload-1', 'ES256')] },
    },
  ];
}

// oidc-provider's own error classes replace the description with a fixed text; these say why.
function refused(code, description) {
  return new errors.CustomOIDCProviderError(code, description);
}

// What each issued token stands for (the subject, its actor, the assertion's issuer), for the
// admin inspect route: oidc-provider recomputes a token's `extra` when it saves it.
const facts = new Map(); // token value -> { sub, act?, ... }

/**
 * For the admin inspect route: a token these grants issued gets its `aud` and, under `extra`,
 * what it stands for; any other token nothing (its answer stays as it was).
 */
export function exchangeFacts(token, payload) {
  const extra = facts.get(token);
  return extra ? { aud: payload.aud ?? null, extra } : {};
}

const seenJti = new Map(); // `${iss} ${jti}` -> exp (s)

function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** Verifies a JWT from a trusted issuer; returns its payload or throws `error` (a class). */
function verifyJwt(jwt, { audiences, what, subOptional = false, once = false }) {
  const fail = (reason) => { throw refused('invalid_grant', `${what}: ${reason}`); };
  const parts = String(jwt ?? '').split('.');
  if (parts.length !== 3) fail('not a JWT');
  let header; let payload;
  try { header = decodePart(parts[0]); payload = decodePart(parts[1]); } catch { fail('not a JWT'); }
  const trusted = TRUSTED_ISSUERS.get(payload.iss);
  if (!trusted) fail(`issuer ${JSON.stringify(payload.iss ?? null)} is not trusted`);
  if (header.alg !== trusted.alg) fail(`alg must be ${trusted.alg}`);
  const ok = verifySignature('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), trusted.alg === 'ES256'
    ? { key: trusted.key, dsaEncoding: 'ieee-p1363' } : trusted.key, Buffer.from(parts[2], 'base64url'));
  if (!ok) fail('signature does not verify');
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.exp !== 'number' || payload.exp < now - 5) fail('expired or without exp');
  if (payload.sub === undefined && subOptional) payload.sub = payload.iss;
  if (typeof payload.sub !== 'string' || !payload.sub) fail('no sub');
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!aud.some((a) => audiences.includes(a))) fail(`audience ${JSON.stringify(payload.aud ?? null)} is not this server`);
  // An assertion is good once (RFC 7523 §3); a subject token (a Kubernetes token) may be
  // presented again until it expires.
  if (once && payload.jti !== undefined) {
    const key = `${payload.iss} ${payload.jti}`;
    for (const [k, exp] of seenJti) if (exp < now) seenJti.delete(k);
    if (seenJti.has(key)) fail('jti already used');
    seenJti.set(key, payload.exp);
  }
  return payload;
}

function requestedScope(ctx) {
  const { client, params } = ctx.oidc;
  const requested = (params.scope || '').split(' ').filter(Boolean);
  const allowed = new Set((client.scope || '').split(' '));
  const bad = requested.filter((s) => !allowed.has(s));
  if (bad.length) throw new errors.InvalidScope('requested scope is not allowed', bad.join(' '));
  return requested.join(' ') || undefined;
}

async function issue(ctx, { scope, aud, extra, issuedTokenType }) {
  const { provider, client } = ctx.oidc;
  const token = new provider.ClientCredentials({ client, scope });
  if (aud) token.aud = aud;
  ctx.oidc.entity('ClientCredentials', token);
  const value = await token.save();
  if (extra) facts.set(value, extra);
  ctx.body = {
    access_token: value,
    token_type: token.tokenType,
    expires_in: token.expiration,
    ...(scope ? { scope } : {}),
    ...(issuedTokenType ? { issued_token_type: issuedTokenType } : {}),
  };
}

function serverAudiences(ctx) {
  const { issuer } = ctx.oidc.provider;
  return [issuer, `${issuer}/token`];
}

async function jwtBearerGrant(ctx) {
  const { params } = ctx.oidc;
  const claims = verifyJwt(params.assertion, {
    // Google's service-account assertions carry `sub` only to impersonate a user.
    audiences: serverAudiences(ctx), what: 'assertion', subOptional: true, once: true,
  });
  // A Google-style assertion carries its scope as a claim; the request parameter wins.
  if (!params.scope && typeof claims.scope === 'string') params.scope = claims.scope;
  await issue(ctx, { scope: requestedScope(ctx), extra: { sub: claims.sub, assertion_iss: claims.iss } });
}

/** The subject or actor token's identity, or throws invalid_grant. */
async function presented(ctx, token, type, what) {
  if (!token) throw refused('invalid_request', `${what}_token missing`);
  if (!type) throw refused('invalid_request', `${what}_token_type missing`);
  if (type === `${TT}access_token`) {
    const { provider } = ctx.oidc;
    const found = await provider.AccessToken.find(String(token))
      ?? await provider.ClientCredentials.find(String(token));
    if (!found || found.isExpired) throw refused('invalid_grant', `${what}_token is not an active access token`);
    return { sub: found.accountId ?? found.clientId, iss: provider.issuer };
  }
  if (type === `${TT}jwt` || type === `${TT}id_token`) {
    const claims = verifyJwt(token, {
      audiences: serverAudiences(ctx), what: `${what}_token`,
    });
    return { sub: claims.sub, iss: claims.iss };
  }
  throw refused('invalid_request', `${what}_token_type ${type} is not supported`);
}

async function tokenExchangeGrant(ctx) {
  const { params } = ctx.oidc;
  const subject = await presented(ctx, params.subject_token, params.subject_token_type, 'subject');
  const actor = params.actor_token
    ? await presented(ctx, params.actor_token, params.actor_token_type, 'actor') : undefined;
  const wanted = params.requested_token_type;
  if (wanted && wanted !== `${TT}access_token`) {
    throw refused('invalid_request', `requested_token_type ${wanted} is not supported here`);
  }
  const audiences = [params.audience, params.resource].flat().filter(Boolean);
  if (audiences.length > 1) throw refused('invalid_target', 'ask for one audience or resource at a time');
  const [aud] = audiences;
  if (aud && !EXCHANGE_AUDIENCES.includes(aud)) throw refused('invalid_target', `no tokens are issued for ${aud}`);
  await issue(ctx, {
    scope: requestedScope(ctx),
    aud,
    extra: { sub: subject.sub, subject_iss: subject.iss, ...(actor ? { act: { sub: actor.sub } } : {}) },
    issuedTokenType: `${TT}access_token`,
  });
}

export function registerExchangeGrants(provider) {
  provider.registerGrantType(JWT_BEARER, jwtBearerGrant, ['assertion', 'scope']);
  provider.registerGrantType(TOKEN_EXCHANGE, tokenExchangeGrant, [
    'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
    'audience', 'resource', 'requested_token_type', 'scope',
  ], ['audience', 'resource']);
}
