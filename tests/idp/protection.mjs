// Protected authorization requests and responses: PAR (RFC 9126), signed request objects
// (JAR, RFC 9101) and JWT-secured responses (JARM). Imported by server.mjs, which adds the
// clients to its list, the features to the provider configuration, the counter to its
// counters and the admin route to its admin API.
//
// - features: PAR stays on (the oidc-provider default) and becomes required provider-wide
//   while the admin flag `require_par` is set; request objects are enabled (required per
//   client, `jar-app`); the JWT response modes (`query.jwt`, …) are enabled.
// - clients: `par-app` (public, must push), `jar-app` (private_key_jwt with svc-jwt's keys,
//   must sign its requests), `jarm-app` (public, a second client for JARM tests: a response
//   addressed to it is another client's).
// - POST /__admin/protection {"require_par": true|false}: rebuilds the provider, so
//   discovery shows (or stops showing) `require_pushed_authorization_requests: true`.

export const PAR_PATH = '/request';

const settings = { requirePar: false };

const LOOPBACK_REDIRECTS = ['http://127.0.0.1/callback', 'http://localhost/callback', 'http://[::1]/callback'];

/** The clients, given the public JWKs of svc-jwt's keys (for jar-app). */
export function protectionClients(svcJwtKeys) {
  return [
    {
      client_id: 'par-app',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
      require_pushed_authorization_requests: true,
    },
    {
      client_id: 'jar-app',
      application_type: 'native',
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
      require_signed_request_object: true,
      jwks: { keys: svcJwtKeys },
    },
    {
      client_id: 'jarm-app',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
      authorization_signed_response_alg: 'RS256',
    },
  ];
}

/** The provider `features` entries. */
export function protectionFeatures() {
  return {
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: settings.requirePar,
    },
    requestObjects: { enabled: true, requireSignedRequestObject: false },
    jwtResponseModes: { enabled: true },
  };
}

/** Counts pushed authorization requests (`counters.par`). */
export function countProtection(pathname, counters) {
  if (pathname === PAR_PATH) counters.par = (counters.par ?? 0) + 1;
}

/**
 * Answers the admin route, or returns null when `route` is not this module's.
 * `rebuild` rebuilds the provider with the new settings.
 */
export function protectionAdmin(route, body, rebuild) {
  if (route === 'GET /__admin/protection') {
    return { status: 200, body: { require_par: settings.requirePar } };
  }
  if (route !== 'POST /__admin/protection') return null;
  if (body.require_par !== undefined) {
    if (typeof body.require_par !== 'boolean') return { status: 400, body: { error: '"require_par" must be a boolean' } };
    settings.requirePar = body.require_par;
    rebuild();
  }
  return { status: 200, body: { require_par: settings.requirePar } };
}
