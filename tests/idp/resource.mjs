// Resource indicators (RFC 8707) and step-up (RFC 9470) for the test identity provider.
//
// - `resourceIndicators()`: the provider's `features.resourceIndicators`. Every absolute
//   http(s) or urn resource is a resource server whose access tokens are JWTs (RFC 9068)
//   with `aud` = the resource, so a test can see which resource a token is for.
// - `stepUpConfiguration`: authentication context classes, and `acr`/`auth_time` copied
//   into access tokens (`extraTokenClaims`) so a resource can judge the sign-in behind them.
// - `grantRequestedAcr(provider)`: a login through the fixture's form gets the first known
//   class the authorization request asked for in `acr_values` (a provider that always
//   steps up when asked), else the basic class.
// - `handleResource(...)`: `GET /__resource/stepup`, a resource that answers 401
//   `insufficient_user_authentication` with `acr_values` and `max_age` unless the token's
//   `acr` is the strong class and its `auth_time` is recent enough.
//
// JWTs are verified with `jose`, oidc-provider's own dependency (pinned by package-lock.json).
import { createPublicKey } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';

export const ACR_BASIC = 'urn:latchkey:loa:1';
export const ACR_STRONG = 'urn:latchkey:loa:2';
export const STEP_UP_PATH = '/__resource/stepup';
const STEP_UP_MAX_AGE = 300;
const RESOURCE_SCOPES = 'openid profile email offline_access api:read api:write';

const hits = { stepup: 0, accepted: 0 };

export function resourceIndicators() {
  return {
    enabled: true,
    async getResourceServerInfo(ctx, resourceIndicator) {
      if (!/^(https?:\/\/[^#]+|urn:[^#]+)$/.test(resourceIndicator)) {
        const { errors } = await import('oidc-provider');
        throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
      }
      return {
        scope: RESOURCE_SCOPES,
        audience: resourceIndicator,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
}

// The login or refresh a token comes from carries the sign-in's class and time.
export const stepUpConfiguration = {
  acrValues: [ACR_BASIC, ACR_STRONG],
  async extraTokenClaims(ctx) {
    const { entities } = ctx.oidc;
    const source = entities.AuthorizationCode || entities.RefreshToken || entities.DeviceCode;
    if (!source) return undefined;
    return { acr: source.acr, auth_time: source.authTime };
  },
};

export function grantRequestedAcr(provider) {
  const original = provider.interactionResult.bind(provider);
  // interactionFinished calls this.interactionResult: the override sees every form login.
  provider.interactionResult = async function interactionResult(req, res, result, options) {
    if (result?.login && !result.login.acr) {
      const { params } = await provider.interactionDetails(req, res);
      const asked = String(params.acr_values || '').split(' ');
      const acr = asked.find((a) => stepUpConfiguration.acrValues.includes(a)) || ACR_BASIC;
      return original(req, res, { ...result, login: { ...result.login, acr } }, options);
    }
    return original(req, res, result, options);
  };
}

function send(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

// Returns true when it answered the request.
export async function handleResource(req, res, pathname, { issuer, signingKeys }) {
  if (pathname === '/__resource/counters') {
    send(res, 200, hits);
    return true;
  }
  if (pathname !== STEP_UP_PATH) return false;
  hits.stepup += 1;
  const audience = `${issuer}${STEP_UP_PATH}`;
  const [scheme, token] = String(req.headers.authorization || '').split(' ');
  if (!/^bearer$/i.test(scheme || '') || !token) {
    send(res, 401, { error: 'no token' }, { 'www-authenticate': 'Bearer realm="stepup"' });
    return true;
  }
  let claims;
  try {
    const keys = signingKeys.map((k) => ({ ...createPublicKey({ key: k, format: 'jwk' }).export({ format: 'jwk' }), kid: k.kid, alg: k.alg }));
    ({ payload: claims } = await jwtVerify(token, createLocalJWKSet({ keys }), { issuer, audience }));
  } catch (err) {
    send(res, 401, { error: 'invalid_token', reason: err.message }, {
      'www-authenticate': `Bearer realm="stepup", error="invalid_token", error_description="${err.code || 'invalid'}"`,
    });
    return true;
  }
  const age = Math.floor(Date.now() / 1000) - Number(claims.auth_time || 0);
  if (claims.acr !== ACR_STRONG || age > STEP_UP_MAX_AGE) {
    send(res, 401, { error: 'insufficient_user_authentication', acr: claims.acr ?? null }, {
      'www-authenticate': `Bearer realm="stepup", error="insufficient_user_authentication", error_description="a stronger sign-in is required", acr_values="${ACR_STRONG}", max_age=${STEP_UP_MAX_AGE}`,
    });
    return true;
  }
  hits.accepted += 1;
  send(res, 200, { ok: true, sub: claims.sub, acr: claims.acr, aud: claims.aud });
  return true;
}
