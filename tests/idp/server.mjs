// latchkey test identity provider: oidc-provider 9.13.3 plus a small admin/fault layer.
// Contract: see README.md next to this file.
//
// stdout carries exactly one line (the ready line); everything else goes to stderr.
import http from 'node:http';
import { generateKeyPairSync, createPublicKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { totp, verifyTotp } from './totp.mjs';
import { CLIENT_AUTH_CLIENTS, clientAuthMethods, mtlsAliases, mtlsFeature, mtlsResource, startMtlsListener } from './mtls.mjs';
import { bindDpop, dpopFeature, handleDpop } from './dpop.mjs';
import { resourceIndicators, stepUpConfiguration, grantRequestedAcr, handleResource } from './resource.mjs';
import { exchangeClients, exchangeFacts, registerExchangeGrants } from './exchange.mjs';
import { protectionClients, protectionFeatures, countProtection, protectionAdmin } from './protection.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEBUG = process.env.IDP_DEBUG === '1' || process.env.IDP_DEBUG === 'true';

// ---------------------------------------------------------------------------------------------
// Logging: keep stdout clean. oidc-provider prints NOTICEs with console.info (= stdout) and
// WARNINGs with console.warn; route everything to stderr, and drop library chatter unless IDP_DEBUG.
// ---------------------------------------------------------------------------------------------
const writeErr = (...args) => process.stderr.write(`${args.map((a) => (typeof a === 'string' ? a : inspectish(a))).join(' ')}\n`);
function inspectish(a) {
  if (a instanceof Error) return a.stack || String(a);
  try { return JSON.stringify(a); } catch { return String(a); }
}
const isLibChatter = (args) => typeof args[0] === 'string' && /^(\x1b\[[0-9;]*m)?oidc-provider (NOTICE|WARNING)/.test(args[0]);
console.log = (...args) => { if (DEBUG) writeErr(...args); };
console.info = (...args) => { if (DEBUG) writeErr(...args); };
console.debug = (...args) => { if (DEBUG) writeErr(...args); };
console.warn = (...args) => { if (DEBUG || !isLibChatter(args)) writeErr(...args); };
console.error = (...args) => writeErr(...args);
const log = (...args) => writeErr('[idp]', ...args); // always (rare, important)
const debug = (...args) => { if (DEBUG) writeErr('[idp:debug]', ...args); };

const { default: Provider, errors } = await import('oidc-provider');

// ---------------------------------------------------------------------------------------------
// Static data: accounts, scopes, clients
// ---------------------------------------------------------------------------------------------
const CAROL_TOTP_SECRET = 'JBSWY3DPEHPK3PXP';

const USERS = {
  alice: {
    password: 'alice-password',
    claims: {
      sub: 'alice', name: 'Alice Example', email: 'alice@example.org', email_verified: true,
    },
  },
  carol: {
    password: 'carol-password',
    totpSecret: CAROL_TOTP_SECRET,
    claims: {
      sub: 'carol', name: 'Carol Example', email: 'carol@example.org', email_verified: true,
    },
  },
};

const SCOPES = ['openid', 'profile', 'email', 'offline_access', 'api:read', 'api:write'];
const DEFAULT_PASSWORD_SCOPE = 'openid profile email';

function loadPublicJwk(file, kid, alg) {
  const pem = readFileSync(path.join(HERE, 'keys', file), 'utf8');
  const jwk = createPublicKey(pem).export({ format: 'jwk' });
  return { ...jwk, kid, alg, use: 'sig' };
}

// oidc-provider only accepts client secrets made of VSCHAR (%x20-7E, RFC 6749 Appendix A), so a
// secret with 'é' can neither be registered nor sent in a Basic header. Such clients are registered
// with an internal ASCII secret, and the outer layer (see rewriteOuterSecret) checks the real secret
// and swaps the Authorization header to the internal one before the provider sees the request.
const OUTER_SECRETS = new Map([
  ['svc-basic', { secret: 's3cr:t+/ %&=é~', internal: `svc-basic-internal-${randomBytes(12).toString('hex')}` }],
]);

const CLIENTS = [
  {
    client_id: 'svc-basic',
    client_secret: OUTER_SECRETS.get('svc-basic').internal,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'api:read api:write',
  },
  {
    client_id: 'svc-post',
    client_secret: 'post-secret-123',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
    scope: 'api:read api:write',
  },
  {
    client_id: 'svc-jwt',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    scope: 'api:read api:write',
    jwks: {
      keys: [
        loadPublicJwk('svc-jwt.private.pem', 'svc-jwt-1', 'RS256'),
        loadPublicJwk('svc-jwt-ec.private.pem', 'svc-jwt-ec-1', 'ES256'),
      ],
    },
  },
  {
    client_id: 'native-app',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback', 'http://[::1]/callback'],
  },
  {
    client_id: 'web-app',
    client_secret: 'web-app-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [
      'http://127.0.0.1:8765/callback',
      'http://127.0.0.1:18080/auth/callback',
      'http://localhost:18080/auth/callback',
    ],
    post_logout_redirect_uris: ['http://127.0.0.1:18080/', 'http://localhost:18080/'],
  },
  {
    client_id: 'pw-client',
    token_endpoint_auth_method: 'none',
    grant_types: ['password', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  },
  {
    client_id: 'pw-confidential',
    client_secret: 'pw-confidential-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['password', 'refresh_token', 'client_credentials'],
    response_types: [],
    redirect_uris: [],
  },
];
CLIENTS.push(...CLIENT_AUTH_CLIENTS);
CLIENTS.push(...exchangeClients());
CLIENTS.push(...protectionClients(CLIENTS.find((c) => c.client_id === 'svc-jwt').jwks.keys));
const CLIENT_AUTH_METHOD = new Map(CLIENTS.map((c) => [c.client_id, c.token_endpoint_auth_method]));

// ---------------------------------------------------------------------------------------------
// Mutable runtime state (admin API)
// ---------------------------------------------------------------------------------------------
const TTL_DEFAULTS = {
  AccessToken: 3600,
  ClientCredentials: 3600,
  RefreshToken: 14 * 24 * 3600,
  DeviceCode: 600,
  AuthorizationCode: 60,
  IdToken: 3600,
  Interaction: 3600,
  Session: 14 * 24 * 3600,
  Grant: 14 * 24 * 3600,
};
const ttls = { ...TTL_DEFAULTS };

const deviceSettings = { interval: null, slowDown: 0 };

// Split metadata (POST /__admin/metadata): models a provider that lists some endpoints only in
// its RFC 8414 document, as a Django OAuth Toolkit server does with its revocation and
// introspection endpoints. The OpenID document then lacks SPLIT_FIELDS; the RFC 8414 document
// (/.well-known/oauth-authorization-server) keeps them, under `rfc8414Issuer` when set (a
// document about another issuer, which clients must ignore).
const SPLIT_FIELDS = ['revocation_endpoint', 'introspection_endpoint', 'device_authorization_endpoint'];
const metadataSettings = { split: false, rfc8414Issuer: null };

const TOKEN_GRANTS = ['client_credentials', 'password', 'refresh_token', 'authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'];
function freshCounters() {
  const token = Object.fromEntries(TOKEN_GRANTS.map((g) => [g, 0]));
  token.total = 0;
  return {
    token,
    by_client: {},
    revocation: 0,
    introspection: 0,
    userinfo: 0,
    jwks: 0,
    discovery: 0,
    oauth_metadata: 0,
    device_authorization: 0,
  };
}
let counters = freshCounters();

let faults = [];
let faultSeq = 0;

// ---------------------------------------------------------------------------------------------
// Unbounded in-memory adapter shared by every Provider instance (key rotation rebuilds the
// Provider but keeps the storage).
// ---------------------------------------------------------------------------------------------
const store = new Map(); // "<Model>:<id>" -> { payload, exp (ms epoch) | undefined }
const grantIndex = new Map(); // grantId -> Set<key>
const uidIndex = new Map(); // session uid -> id
const userCodeIndex = new Map(); // userCode -> id
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

function liveEntry(key) {
  const e = store.get(key);
  if (!e) return undefined;
  if (e.exp !== undefined && e.exp <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return e;
}

class MapAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, exp: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined });
    if (GRANTABLE.has(this.model) && payload.grantId) {
      let set = grantIndex.get(payload.grantId);
      if (!set) { set = new Set(); grantIndex.set(payload.grantId, set); }
      set.add(key);
    }
    if (this.model === 'Session' && payload.uid) uidIndex.set(payload.uid, id);
    if (payload.userCode) userCodeIndex.set(payload.userCode, id);
  }

  async find(id) { return liveEntry(this.key(id))?.payload; }

  async findByUid(uid) {
    const id = uidIndex.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = userCodeIndex.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const e = liveEntry(this.key(id));
    if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    const set = grantIndex.get(grantId);
    if (set) for (const key of set) store.delete(key);
    grantIndex.delete(grantId);
  }
}

setInterval(() => {
  const now = Date.now();
  for (const [key, e] of store) if (e.exp !== undefined && e.exp <= now) store.delete(key);
  for (const [grantId, set] of grantIndex) {
    for (const key of set) if (!store.has(key)) set.delete(key);
    if (set.size === 0) grantIndex.delete(grantId);
  }
  for (const [uid, id] of uidIndex) if (!store.has(`Session:${id}`)) uidIndex.delete(uid);
  for (const [code, id] of userCodeIndex) if (!store.has(`DeviceCode:${id}`)) userCodeIndex.delete(code);
}, 30_000).unref();

// ---------------------------------------------------------------------------------------------
// Signing keys
// ---------------------------------------------------------------------------------------------
let keyGeneration = 0;
function newSigningKeys() {
  keyGeneration += 1;
  const tag = `${keyGeneration}-${randomBytes(3).toString('hex')}`;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rsa-${tag}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `ec-${tag}`, alg: 'ES256', use: 'sig' },
  ];
}
let signingKeys = newSigningKeys();
const cookieKeys = [randomBytes(32).toString('base64url')];

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------
function accountFor(id) {
  const user = Object.prototype.hasOwnProperty.call(USERS, id) ? USERS[id] : undefined;
  if (!user) return undefined;
  return {
    accountId: id,
    async claims() { return { ...user.claims }; },
  };
}

function safeEqual(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Returns null when ok, or a reason string. */
function checkCredentials(username, password, code) {
  if (!username || !Object.prototype.hasOwnProperty.call(USERS, username)) return 'unknown user';
  const user = USERS[username];
  if (typeof password !== 'string' || !safeEqual(password, user.password)) return 'wrong password';
  if (user.totpSecret) {
    if (!code) return 'missing TOTP code';
    if (!verifyTotp(user.totpSecret, String(code))) return 'wrong TOTP code';
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Password grant (Keycloak style)
// ---------------------------------------------------------------------------------------------
async function passwordGrant(ctx) {
  const { provider, client, params } = ctx.oidc;
  const reason = checkCredentials(params.username, params.password, params.totp);
  if (reason) {
    log(`password grant rejected (client ${client.clientId}, username ${JSON.stringify(params.username ?? null)}): ${reason}`);
    throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid user credentials');
  }

  const requested = (params.scope || DEFAULT_PASSWORD_SCOPE).split(' ').filter(Boolean);
  const allowed = client.scope ? new Set(client.scope.split(' ')) : new Set(SCOPES);
  const bad = requested.filter((s) => !SCOPES.includes(s) || !allowed.has(s));
  if (bad.length) {
    throw new errors.InvalidScope('requested scope is not allowed', bad.join(' '));
  }
  const scope = [...new Set(requested)].join(' ');

  const account = accountFor(params.username);
  ctx.oidc.entity('Account', account);

  const grant = new provider.Grant({ accountId: account.accountId, clientId: client.clientId });
  grant.addOIDCScope(scope);
  await grant.save();
  ctx.oidc.entity('Grant', grant);

  const authTime = Math.floor(Date.now() / 1000);
  const amr = USERS[params.username].totpSecret ? ['pwd', 'otp'] : ['pwd'];

  const at = new provider.AccessToken({
    accountId: account.accountId, client, grantId: grant.jti, gty: 'password', scope,
  });
  await bindDpop(provider, ctx, at);
  ctx.oidc.entity('AccessToken', at);
  const accessToken = await at.save();

  let refreshToken;
  if (client.grantTypeAllowed('refresh_token')) {
    const rt = new provider.RefreshToken({
      accountId: account.accountId,
      client,
      grantId: grant.jti,
      gty: 'password',
      scope,
      authTime,
      amr,
      rotations: 0,
    });
    ctx.oidc.entity('RefreshToken', rt);
    refreshToken = await rt.save();
  }

  let idToken;
  if (requested.includes('openid')) {
    const claims = await account.claims('id_token', scope, {}, []);
    const token = new provider.IdToken({
      ...claims, sub: account.accountId, auth_time: authTime, amr,
    }, { ctx });
    token.scope = scope;
    token.mask = {};
    token.rejected = [];
    idToken = await token.issue({ use: 'idtoken' });
  }

  ctx.body = {
    access_token: accessToken,
    token_type: at.tokenType,
    expires_in: at.expiration,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    scope,
    ...(idToken ? { id_token: idToken } : {}),
  };
  // refresh_expires_in is added by the generic token post-processor below.
}

// ---------------------------------------------------------------------------------------------
// Provider construction (rebuilt on key rotation)
// ---------------------------------------------------------------------------------------------
let issuer;
let mtlsOrigin = null; // the HTTPS listener for mutual TLS (mtls.mjs), when it runs
let current; // { provider, callback }

function buildProvider() {
  const configuration = {
    adapter: MapAdapter,
    clients: CLIENTS,
    jwks: { keys: signingKeys },
    cookies: { keys: cookieKeys },
    findAccount: async (ctx, sub) => accountFor(sub),
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      mTLS: mtlsFeature(),
      dPoP: dpopFeature(),
      resourceIndicators: resourceIndicators(),
      ...protectionFeatures(),
    },
    discovery: { claim_types_supported: ['normal'], ...mtlsAliases(mtlsOrigin) },
    clientAuthMethods: clientAuthMethods(),
    pkce: {
      required: (ctx, client) => client.clientAuthMethod === 'none',
    },
    ...stepUpConfiguration,
    rotateRefreshToken: true,
    issueRefreshToken: async (ctx, client, source) => client.grantTypeAllowed('refresh_token')
      && (source.scopes.has('offline_access') || client.clientAuthMethod === 'none'),
    ttl: {
      AccessToken: () => ttls.AccessToken,
      ClientCredentials: () => ttls.ClientCredentials,
      RefreshToken: () => ttls.RefreshToken,
      DeviceCode: () => ttls.DeviceCode,
      AuthorizationCode: () => ttls.AuthorizationCode,
      IdToken: () => ttls.IdToken,
      Interaction: () => ttls.Interaction,
      Session: () => ttls.Session,
      Grant: () => Math.max(ttls.Grant, ttls.RefreshToken, ttls.AccessToken),
    },
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'HS256'],
      idTokenSigningAlgValues: ['RS256', 'ES256'],
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.registerGrantType('password', passwordGrant, ['username', 'password', 'scope', 'totp']);
  grantRequestedAcr(provider);
  registerExchangeGrants(provider);
  // web-app also accepts its callback and post-logout page on any loopback port, so the axum
  // example app can run on an ephemeral port in tests (exact registered URIs still match first).
  const webAppLoopback = { redirect: /^http:\/\/(127\.0\.0\.1|localhost):\d{1,5}\/auth\/callback$/, logout: /^http:\/\/(127\.0\.0\.1|localhost):\d{1,5}\/$/ };
  const { redirectUriAllowed, postLogoutRedirectUriAllowed } = provider.Client.prototype;
  provider.Client.prototype.redirectUriAllowed = function allowed(value) {
    return redirectUriAllowed.call(this, value) || (this.clientId === 'web-app' && webAppLoopback.redirect.test(value));
  };
  provider.Client.prototype.postLogoutRedirectUriAllowed = function allowed(value) {
    return postLogoutRedirectUriAllowed.call(this, value) || (this.clientId === 'web-app' && webAppLoopback.logout.test(value));
  };

  provider.on('server_error', (ctx, err) => log('server_error', ctx?.method, ctx?.path, err));
  if (DEBUG) {
    for (const ev of ['grant.error', 'authorization.error', 'introspection.error', 'revocation.error',
      'userinfo.error', 'end_session.error', 'device_authorization.error', 'code_verification.error']) {
      provider.on(ev, (ctx, err) => debug(ev, ctx?.path, err?.message, err?.error_description ?? '', err?.error_detail ?? ''));
    }
  }

  // Koa middleware inside the provider: response post-processing.
  provider.use(async (ctx, next) => {
    await next();

    if (ctx.path === '/token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object'
      && typeof ctx.body.refresh_token === 'string' && ctx.body.refresh_expires_in === undefined) {
      const e = liveEntry(`RefreshToken:${ctx.body.refresh_token}`);
      const exp = e?.payload?.exp;
      if (typeof exp === 'number') {
        ctx.body = { ...ctx.body, refresh_expires_in: Math.max(0, exp - Math.floor(Date.now() / 1000)) };
      }
    }

    if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200 && metadataSettings.split
      && ctx.body && typeof ctx.body === 'object') {
      const doc = { ...ctx.body };
      if (ctx.req.latchkeyRfc8414) {
        if (metadataSettings.rfc8414Issuer !== null) doc.issuer = metadataSettings.rfc8414Issuer;
      } else {
        for (const field of SPLIT_FIELDS) delete doc[field];
      }
      ctx.body = doc;
    }

    if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object'
      && deviceSettings.interval !== null) {
      ctx.body = { ...ctx.body, interval: deviceSettings.interval };
    }

    // devInteractions login form: add a TOTP field (carol) and show failed-login errors.
    if (ctx.method === 'GET' && /^\/interaction\/[^/]+$/.test(ctx.path)
      && typeof ctx.body === 'string' && ctx.body.includes('name="password"')) {
      let html = ctx.body.replace(/(<input required type="password" name="password"[^>]*>)/,
        '$1\n  <input type="text" name="totp" inputmode="numeric" autocomplete="one-time-code" placeholder="TOTP code (if enabled)">');
      if (ctx.query.error) {
        html = html.replace(/(<form [^>]*>)/, '<p class="red" id="login-error">Invalid username or password.</p>\n$1');
      }
      ctx.body = html;
    }
  });

  return { provider, callback: provider.callback() };
}

// ---------------------------------------------------------------------------------------------
// Outer HTTP layer: admin API, counters, faults, auth-method enforcement, slow_down, login check
// ---------------------------------------------------------------------------------------------
const MAX_BODY = 1024 * 1024;
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function formDecode(s) {
  return decodeURIComponent(s.replace(/\+/g, '%20'));
}

function basicCredentials(req) {
  const h = req.headers.authorization;
  if (!h || !/^basic /i.test(h)) return null;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i === -1) return { id: null, secret: null };
  let id;
  let secret = null;
  try { id = formDecode(decoded.slice(0, i)); } catch { id = decoded.slice(0, i); }
  try { secret = formDecode(decoded.slice(i + 1)); } catch { secret = null; }
  return { id, secret };
}

/** See OUTER_SECRETS: verify the real (non-VSCHAR) secret here, hand the provider the internal one. */
function rewriteOuterSecret(req, form) {
  const b = basicCredentials(req);
  if (b?.id && b.secret !== null && OUTER_SECRETS.has(b.id)) {
    const { secret, internal } = OUTER_SECRETS.get(b.id);
    const ok = safeEqual(b.secret, secret);
    if (!ok) debug(`client ${b.id}: Basic secret mismatch`);
    const useSecret = ok ? internal : `wrong-${randomBytes(8).toString('hex')}`;
    req.headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(b.id)}:${encodeURIComponent(useSecret)}`).toString('base64')}`;
  }
  const pid = form.get('client_id');
  if (pid && OUTER_SECRETS.has(pid) && form.has('client_secret')) {
    // (only reachable for a client_secret_post client with a non-VSCHAR secret; none today)
    const { secret, internal } = OUTER_SECRETS.get(pid);
    form.set('client_secret', safeEqual(form.get('client_secret'), secret) ? internal : 'wrong');
    req.body = Buffer.from(form.toString());
  }
}

function jwtPayload(jwt) {
  try { return JSON.parse(Buffer.from(String(jwt).split('.')[1], 'base64url').toString('utf8')); } catch { return null; }
}

function clientIdOf(req, form) {
  if (form.get('client_id')) return form.get('client_id');
  const basic = basicCredentials(req);
  if (basic?.id) return basic.id;
  if (form.get('client_assertion')) {
    const p = jwtPayload(form.get('client_assertion'));
    if (p && (p.sub || p.iss)) return String(p.sub || p.iss);
  }
  return null;
}

const CLIENT_AUTH_PATHS = new Set(['/token', '/token/revocation', '/token/introspection', '/device/auth']);
const DEFAULT_FAULT_BODY = '{"error":"server_error","error_description":"injected fault"}';
const DEFAULT_MALFORMED_BODY = '{"access_token": "abc", ';

function count(pathname, req, form) {
  countProtection(pathname, counters);
  switch (pathname) {
    case '/token': {
      const gt = form.get('grant_type') || '';
      counters.token[gt] = (counters.token[gt] ?? 0) + 1;
      counters.token.total += 1;
      const cid = clientIdOf(req, form);
      if (cid) counters.by_client[cid] = (counters.by_client[cid] ?? 0) + 1;
      break;
    }
    case '/token/revocation': counters.revocation += 1; break;
    case '/token/introspection': counters.introspection += 1; break;
    case '/me': counters.userinfo += 1; break;
    case '/jwks': counters.jwks += 1; break;
    case '/.well-known/openid-configuration':
      counters.discovery += 1; break;
    case '/.well-known/oauth-authorization-server':
      counters.discovery += 1;
      counters.oauth_metadata += 1;
      break;
    case '/device/auth': counters.device_authorization += 1; break;
    default:
      // RFC 8414 §3.1 metadata for an issuer with a path (never this fixture's): counted, 404.
      if (pathname.startsWith('/.well-known/oauth-authorization-server/')) counters.oauth_metadata += 1;
  }
}

function takeFault(method, pathname, form, req) {
  for (let i = 0; i < faults.length; i += 1) {
    const f = faults[i];
    if (f.path !== pathname) continue;
    if (f.method && f.method.toUpperCase() !== method) continue;
    if (f.grant_type && f.grant_type !== form.get('grant_type')) continue;
    if (f.client_id && f.client_id !== clientIdOf(req, form)) continue;
    if (f.remaining !== -1) {
      f.remaining -= 1;
      if (f.remaining <= 0) faults.splice(i, 1);
    }
    f.hits += 1;
    return f;
  }
  return null;
}

async function applyFault(f, req, res) {
  debug('fault', f.id, f.action, f.path);
  switch (f.action) {
    case 'status': {
      const body = f.body ?? DEFAULT_FAULT_BODY;
      res.writeHead(f.status ?? 500, {
        'content-type': f.content_type ?? 'application/json',
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(body),
        ...(f.headers ?? {}),
      });
      res.end(body);
      return true;
    }
    case 'malformed': {
      const body = f.body ?? DEFAULT_MALFORMED_BODY;
      res.writeHead(f.status ?? 200, {
        'content-type': f.content_type ?? 'application/json',
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(body),
        ...(f.headers ?? {}),
      });
      res.end(body);
      return true;
    }
    case 'drop':
      req.socket.destroy();
      return true;
    case 'delay':
      await new Promise((r) => { setTimeout(r, f.delay_ms ?? 1000); });
      return false; // continue to the provider
    default:
      return false;
  }
}

const VALID_ACTIONS = new Set(['status', 'delay', 'drop', 'malformed']);

function publicFault(f) {
  const { remaining, ...rest } = f;
  return { ...rest, times: f.times, remaining };
}

async function handleAdmin(req, res, pathname, raw) {
  let body = {};
  if (raw.length) {
    try { body = JSON.parse(raw.toString('utf8')); } catch { return sendJson(res, 400, { error: 'invalid JSON body' }); }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return sendJson(res, 400, { error: 'JSON object expected' });
  }
  const route = `${req.method} ${pathname.replace(/\/+$/, '')}`;
  const protection = protectionAdmin(route, body, () => { current = buildProvider(); });
  if (protection) return sendJson(res, protection.status, protection.body);
  switch (route) {
    case 'GET /__admin/health':
      return sendJson(res, 200, { ok: true });
    case 'GET /__admin/counters':
      return sendJson(res, 200, counters);
    case 'POST /__admin/counters/reset':
      counters = freshCounters();
      return sendJson(res, 200, counters);
    case 'GET /__admin/faults':
      return sendJson(res, 200, { faults: faults.map(publicFault) });
    case 'DELETE /__admin/faults':
      faults = [];
      return sendJson(res, 200, { faults: [] });
    case 'POST /__admin/faults': {
      if (typeof body.path !== 'string' || !body.path.startsWith('/')) return sendJson(res, 400, { error: '"path" (string starting with /) is required' });
      if (!VALID_ACTIONS.has(body.action)) return sendJson(res, 400, { error: `"action" must be one of ${[...VALID_ACTIONS].join(', ')}` });
      const times = body.times === undefined ? 1 : Number(body.times);
      if (!Number.isInteger(times) || (times < 1 && times !== -1)) return sendJson(res, 400, { error: '"times" must be a positive integer or -1' });
      faultSeq += 1;
      const f = {
        id: faultSeq,
        path: body.path,
        method: body.method,
        grant_type: body.grant_type,
        client_id: body.client_id,
        action: body.action,
        status: body.status === undefined ? undefined : Number(body.status),
        body: body.body === undefined ? undefined : (typeof body.body === 'string' ? body.body : JSON.stringify(body.body)),
        content_type: body.content_type,
        headers: body.headers,
        delay_ms: body.delay_ms === undefined ? undefined : Number(body.delay_ms),
        times,
        remaining: times,
        hits: 0,
      };
      faults.push(f);
      return sendJson(res, 200, publicFault(f));
    }
    case 'GET /__admin/ttl':
      return sendJson(res, 200, ttls);
    case 'POST /__admin/ttl': {
      for (const [k, v] of Object.entries(body)) {
        if (!(k in TTL_DEFAULTS)) return sendJson(res, 400, { error: `unknown ttl ${k}; known: ${Object.keys(TTL_DEFAULTS).join(', ')}` });
        if (!Number.isInteger(v) || v <= 0) return sendJson(res, 400, { error: `ttl ${k} must be a positive integer (seconds)` });
      }
      Object.assign(ttls, body);
      return sendJson(res, 200, ttls);
    }
    case 'POST /__admin/ttl/reset':
      Object.assign(ttls, TTL_DEFAULTS);
      return sendJson(res, 200, ttls);
    case 'GET /__admin/totp/carol':
      return sendJson(res, 200, { code: totp(CAROL_TOTP_SECRET) });
    case 'POST /__admin/rotate-keys': {
      const mode = body.mode ?? 'hard';
      if (mode !== 'hard' && mode !== 'soft') return sendJson(res, 400, { error: '"mode" must be "hard" or "soft"' });
      const fresh = newSigningKeys();
      signingKeys = mode === 'hard' ? fresh : [...fresh, ...signingKeys];
      current = buildProvider();
      return sendJson(res, 200, { kids: signingKeys.map((k) => k.kid) });
    }
    case 'GET /__admin/device':
      return sendJson(res, 200, { interval: deviceSettings.interval, slow_down: deviceSettings.slowDown });
    case 'POST /__admin/device': {
      if (body.interval !== undefined) {
        if (body.interval !== null && (!Number.isInteger(body.interval) || body.interval < 0)) return sendJson(res, 400, { error: '"interval" must be a non-negative integer or null' });
        deviceSettings.interval = body.interval;
      }
      if (body.slow_down !== undefined) {
        if (!Number.isInteger(body.slow_down) || body.slow_down < 0) return sendJson(res, 400, { error: '"slow_down" must be a non-negative integer' });
        deviceSettings.slowDown = body.slow_down;
      }
      return sendJson(res, 200, { interval: deviceSettings.interval, slow_down: deviceSettings.slowDown });
    }
    case 'GET /__admin/metadata':
      return sendJson(res, 200, { split: metadataSettings.split, rfc8414_issuer: metadataSettings.rfc8414Issuer });
    case 'POST /__admin/metadata': {
      if (body.split !== undefined) {
        if (typeof body.split !== 'boolean') return sendJson(res, 400, { error: '"split" must be a boolean' });
        metadataSettings.split = body.split;
      }
      if (body.rfc8414_issuer !== undefined) {
        if (body.rfc8414_issuer !== null && typeof body.rfc8414_issuer !== 'string') return sendJson(res, 400, { error: '"rfc8414_issuer" must be a string or null' });
        metadataSettings.rfc8414Issuer = body.rfc8414_issuer;
      }
      return sendJson(res, 200, { split: metadataSettings.split, rfc8414_issuer: metadataSettings.rfc8414Issuer });
    }
    case 'POST /__admin/inspect': {
      const token = typeof body.token === 'string' ? body.token : '';
      for (const [model, kind] of [['AccessToken', 'AccessToken'], ['ClientCredentials', 'AccessToken'], ['RefreshToken', 'RefreshToken']]) {
        const e = token ? liveEntry(`${model}:${token}`) : undefined;
        if (e) {
          const consumed = Boolean(e.payload.consumed);
          return sendJson(res, 200, {
            active: !consumed, kind, model, client_id: e.payload.clientId ?? null, consumed,
            ...exchangeFacts(token, e.payload),
          });
        }
      }
      return sendJson(res, 200, {
        active: false, kind: null, model: null, client_id: null, consumed: false,
      });
    }
    default:
      return sendJson(res, 404, { error: `no admin route ${route}` });
  }
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  const { pathname } = url;
  const method = req.method.toUpperCase();
  debug(method, req.url);

  let raw = Buffer.alloc(0);
  if (method !== 'GET' && method !== 'HEAD') {
    raw = await readBody(req);
    // oidc-provider uses req.body when the stream was already consumed.
    req.body = raw;
  }

  const findToken = (v) => (liveEntry(`AccessToken:${v}`) ?? liveEntry(`ClientCredentials:${v}`))?.payload;
  const consumeRefreshToken = (v) => { const e = liveEntry(`RefreshToken:${v}`); if (e) e.payload.consumed = true; };
  if (await handleDpop(req, res, { pathname, method, raw, issuer, findToken, consumeRefreshToken, sendJson })) return undefined;
  if (pathname === '/__admin' || pathname.startsWith('/__admin/')) {
    return handleAdmin(req, res, pathname, raw);
  }

  if (pathname.startsWith('/__resource/') && await handleResource(req, res, pathname, { issuer, signingKeys })) return undefined;

  const isForm = /application\/x-www-form-urlencoded/i.test(req.headers['content-type'] || '');
  const form = new URLSearchParams(isForm ? raw.toString('utf8') : '');

  // 1. counters (every request, including failed/faulted ones)
  count(pathname, req, form);

  // 2. faults
  const fault = takeFault(method, pathname, form, req);
  if (fault && await applyFault(fault, req, res)) return undefined;

  // 3. enforce the registered client authentication method
  if (method === 'POST' && CLIENT_AUTH_PATHS.has(pathname)) {
    const cid = clientIdOf(req, form);
    const registered = cid ? CLIENT_AUTH_METHOD.get(cid) : undefined;
    const usedBasic = Boolean(basicCredentials(req));
    const usedPost = form.has('client_secret');
    let mismatch = null;
    if (registered === 'client_secret_basic' && usedPost && !usedBasic) mismatch = 'client_secret_post';
    if (registered === 'client_secret_post' && usedBasic && !usedPost) mismatch = 'client_secret_basic';
    if (mismatch) {
      log(`client ${cid} registered for ${registered} authenticated with ${mismatch}: rejected (invalid_client)`);
      const headers = usedBasic ? { 'www-authenticate': `Basic realm="${issuer}"` } : {};
      return sendJson(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' }, headers);
    }
  }

  if (method === 'POST' && CLIENT_AUTH_PATHS.has(pathname)) rewriteOuterSecret(req, form);

  // 4. device flow slow_down injection
  if (method === 'POST' && pathname === '/token'
    && form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:device_code'
    && deviceSettings.slowDown > 0) {
    deviceSettings.slowDown -= 1;
    return sendJson(res, 400, { error: 'slow_down', error_description: 'polling too fast, slow down' });
  }

  // 5. account check in front of devInteractions' login form
  const interaction = /^\/interaction\/([^/]+)$/.exec(pathname);
  if (method === 'POST' && interaction && form.get('prompt') === 'login') {
    const reason = checkCredentials(form.get('login'), form.get('password'), form.get('totp'));
    if (reason) {
      log(`interactive login rejected (login ${JSON.stringify(form.get('login'))}): ${reason}`);
      res.writeHead(303, { location: `/interaction/${interaction[1]}?error=invalid_credentials`, 'content-length': 0 });
      res.end();
      return undefined;
    }
  }

  // RFC 8414 alias of the discovery document (marked, so split metadata can tell them apart).
  if (pathname === '/.well-known/oauth-authorization-server') {
    req.url = `/.well-known/openid-configuration${url.search}`;
    req.latchkeyRfc8414 = true;
  }

  return current.callback(req, res);
}

// ---------------------------------------------------------------------------------------------
// Startup / shutdown
// ---------------------------------------------------------------------------------------------
const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 0);
if (!(HOST === 'localhost' || HOST === '::1' || /^127\.\d+\.\d+\.\d+$/.test(HOST))) {
  log(`refusing to bind to non-loopback HOST ${HOST}`);
  process.exit(2);
}
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  log(`invalid PORT ${process.env.PORT}`);
  process.exit(2);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    log('request failed', req.method, req.url, err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'fixture error' });
    else res.destroy();
  });
});
server.keepAliveTimeout = 5000;

function shutdown(why) {
  debug(`shutting down: ${why}`);
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (process.env.IDP_IGNORE_STDIN !== '1') {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

server.listen(PORT, HOST, async () => {
  const { port } = server.address();
  const hostPart = HOST.includes(':') ? `[${HOST}]` : HOST;
  issuer = `http://${hostPart}:${port}`;
  mtlsOrigin = await startMtlsListener(HOST, (req, res) => {
    mtlsResource(req, res, current.provider).then((done) => done || handle(req, res)).catch((err) => {
      log('request failed', req.method, req.url, err);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'fixture error' });
      else res.destroy();
    });
  });
  current = buildProvider();
  // Static client metadata is validated lazily by oidc-provider: validate it now, fail fast.
  Promise.all(CLIENTS.map(async ({ client_id: id }) => {
    if (!await current.provider.Client.find(id)) throw new Error(`client ${id} not found`);
  })).then(() => {
    process.stdout.write(`${JSON.stringify({ ready: true, issuer, port, ...(mtlsOrigin ? { mtls: mtlsOrigin } : {}) })}\n`);
  }, (err) => {
    log('invalid client configuration', err);
    process.exit(1);
  });
});
