// DPoP (RFC 9449) in the fixture: server nonces behind an admin switch, DPoP binding for the
// fixture's own password grant, and a resource route that checks proofs the way RFC 9449 §7
// asks a resource server to (it counts what it saw, so tests can tell a retry from a refusal).
//
//   POST /__admin/dpop {"requireNonce":true}   token endpoint: a proof without a valid nonce
//                                              is answered 400 use_dpop_nonce + DPoP-Nonce
//   POST /__admin/dpop {"resourceNonce":true}  the resource route does the same with a 401
//   POST /__admin/dpop {"rotateNonce":true}    the resource route's nonce changes
//   POST /__admin/dpop {"consumeRefreshWithoutNonce":true}
//                                              a refresh whose proof has no nonce spends the
//                                              refresh token before the use_dpop_nonce answer,
//                                              as ATProto's server did:
//                                              https://github.com/bluesky-social/atproto/issues/3859
//   GET  /__admin/dpop                         settings and counters
//   GET|POST /__resource/dpop                  Authorization: DPoP <token> + DPoP proof
//
// oidc-provider always has a nonce secret here (it cannot be switched on a running provider),
// so it offers DPoP-Nonce headers in both modes; `requireNonce` decides whether it insists.
import { createHash, randomBytes } from 'node:crypto';
import { EmbeddedJWK, calculateJwkThumbprint, decodeJwt, jwtVerify } from 'jose';

const NONCE_SECRET = randomBytes(32);
const PROOF_WINDOW_S = 60;
const settings = { requireNonce: false, resourceNonce: false, consumeRefreshWithoutNonce: false };
let nonce = randomBytes(16).toString('base64url');
const seenJti = new Map();
let stats = freshStats();

function freshStats() {
  return { requests: 0, ok: 0, refused: {} };
}

/** The `features.dPoP` configuration of the provider. */
export function dpopFeature() {
  return {
    enabled: true,
    nonceSecret: NONCE_SECRET,
    requireNonce: () => settings.requireNonce,
  };
}

let helpers;
async function providerHelpers() {
  // Loaded lazily: oidc-provider is imported only after server.mjs has routed its logging.
  helpers ??= {
    validateDpop: (await import('oidc-provider/lib/helpers/validate_dpop.js')).default,
    applyDpopBinding: (await import('oidc-provider/lib/helpers/grant_common.js')).applyDpopBinding,
  };
  return helpers;
}

/** Binds an access token minted by a custom grant to the request's DPoP proof, as the
 * built-in grants do (a custom grant must do it itself). */
export async function bindDpop(provider, ctx, token) {
  const { validateDpop, applyDpopBinding } = await providerHelpers();
  const dPoP = await validateDpop(provider, ctx);
  await applyDpopBinding(provider, ctx, dPoP, token);
}

function refuse(res, sendJson, reason, error, description, headers = {}) {
  stats.refused[reason] = (stats.refused[reason] ?? 0) + 1;
  const challenge = `DPoP error="${error}", error_description="${description}", algs="ES256 EdDSA"`;
  sendJson(res, 401, { error, error_description: description }, { 'www-authenticate': challenge, ...headers });
  return true;
}

/**
 * Handles the admin switch and the resource route; returns false for any other path.
 * `findToken(value)` returns the stored access token payload (with `jkt` when bound);
 * `consumeRefreshToken(value)` marks a refresh token used.
 */
export async function handleDpop(req, res, {
  pathname, method, raw, issuer, findToken, consumeRefreshToken, sendJson,
}) {
  if (settings.consumeRefreshWithoutNonce && method === 'POST' && pathname === '/token') {
    const form = new URLSearchParams(raw.toString('utf8'));
    let nonce;
    try { nonce = decodeJwt(req.headers.dpop ?? '').nonce; } catch { nonce = undefined; }
    if (form.get('grant_type') === 'refresh_token' && !nonce) consumeRefreshToken(form.get('refresh_token') ?? '');
    return false;
  }
  if (pathname === '/__admin/dpop') {
    if (method === 'POST') {
      let body = {};
      try { body = raw.length ? JSON.parse(raw.toString('utf8')) : {}; } catch { return sendJson(res, 400, { error: 'invalid JSON body' }) ?? true; }
      if (typeof body.requireNonce === 'boolean') settings.requireNonce = body.requireNonce;
      if (typeof body.resourceNonce === 'boolean') settings.resourceNonce = body.resourceNonce;
      if (typeof body.consumeRefreshWithoutNonce === 'boolean') settings.consumeRefreshWithoutNonce = body.consumeRefreshWithoutNonce;
      if (body.rotateNonce) nonce = randomBytes(16).toString('base64url');
      if (body.reset) stats = freshStats();
    }
    sendJson(res, 200, { ...settings, ...stats });
    return true;
  }
  if (pathname !== '/__resource/dpop') return false;
  stats.requests += 1;

  const [scheme, token] = (req.headers.authorization ?? '').split(' ');
  if (scheme?.toLowerCase() !== 'dpop' || !token) {
    return refuse(res, sendJson, 'no_dpop_token', 'invalid_token', 'a DPoP-bound token is required (Authorization: DPoP)');
  }
  const proof = req.headers.dpop;
  if (typeof proof !== 'string' || proof.includes(',')) {
    return refuse(res, sendJson, 'no_proof', 'invalid_dpop_proof', 'exactly one DPoP proof is required');
  }
  let payload;
  let protectedHeader;
  try {
    ({ payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'EdDSA', 'Ed25519'] }));
  } catch (err) {
    return refuse(res, sendJson, 'signature', 'invalid_dpop_proof', `the proof does not verify (${err.code ?? err.message})`);
  }
  if (payload.htm !== method) return refuse(res, sendJson, 'htm', 'invalid_dpop_proof', 'htm does not match the request method');
  const htu = URL.parse(typeof payload.htu === 'string' ? payload.htu : '');
  if (htu) { htu.search = ''; htu.hash = ''; }
  if (htu?.href !== new URL(pathname, issuer).href) return refuse(res, sendJson, 'htu', 'invalid_dpop_proof', 'htu does not match the request URL');
  if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > PROOF_WINDOW_S) {
    return refuse(res, sendJson, 'iat', 'invalid_dpop_proof', 'iat is not recent');
  }
  if (payload.ath !== createHash('sha256').update(token).digest('base64url')) {
    return refuse(res, sendJson, 'ath', 'invalid_dpop_proof', 'ath does not match the access token');
  }
  if (typeof payload.jti !== 'string' || !payload.jti) return refuse(res, sendJson, 'jti', 'invalid_dpop_proof', 'jti is missing');
  const now = Date.now();
  for (const [jti, exp] of seenJti) if (exp <= now) seenJti.delete(jti);
  if (seenJti.has(payload.jti)) return refuse(res, sendJson, 'replay', 'invalid_dpop_proof', 'the proof was already used (jti replay)');
  seenJti.set(payload.jti, now + 2 * PROOF_WINDOW_S * 1000);
  if (settings.resourceNonce && payload.nonce !== nonce) {
    return refuse(res, sendJson, 'nonce', 'use_dpop_nonce', 'Resource server requires nonce in DPoP proof', { 'dpop-nonce': nonce });
  }
  const stored = findToken(token);
  if (!stored) return refuse(res, sendJson, 'token', 'invalid_token', 'the access token is not active');
  const jkt = await calculateJwkThumbprint(protectedHeader.jwk);
  if (!stored.jkt || stored.jkt !== jkt) return refuse(res, sendJson, 'jkt', 'invalid_token', 'the token is not bound to the proof key (cnf.jkt)');
  stats.ok += 1;
  const headers = settings.resourceNonce ? { 'dpop-nonce': nonce } : {};
  sendJson(res, 200, { ok: true, client_id: stored.clientId ?? null, sub: stored.accountId ?? null, jkt }, headers);
  return true;
}
