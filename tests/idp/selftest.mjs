// Self-test of the latchkey test IdP. Usage: node tests/idp/selftest.mjs  (exit code != 0 on failure)
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ----------------------------------------------------------------------------- harness
let failures = 0;
let passes = 0;
async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passes += 1;
    console.log(`ok   - ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failures += 1;
    console.log(`FAIL - ${name}: ${err?.stack || err}`);
  }
}
function assert(cond, msg, extra) {
  if (!cond) throw new Error(`${msg}${extra === undefined ? '' : ` -- got ${JSON.stringify(extra)}`}`);
}
function eq(actual, expected, msg) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${msg}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

const child = spawn(process.execPath, [path.join(HERE, 'server.mjs')], {
  cwd: '/',
  env: { ...process.env, PORT: '0' },
  stdio: ['pipe', 'pipe', 'inherit'],
});
const stdoutLines = [];
const rl = createInterface({ input: child.stdout });
const ready = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('server did not become ready in 20 s')), 20_000);
  child.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
  rl.on('line', (line) => {
    stdoutLines.push(line);
    if (stdoutLines.length === 1) { clearTimeout(timer); resolve(JSON.parse(line)); }
  });
});
const ISS = ready.issuer;
console.log(`ready line: ${stdoutLines[0]}`);

// ----------------------------------------------------------------------------- helpers
const formEnc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
const basic = (id, secret) => `Basic ${Buffer.from(`${formEnc(id)}:${formEnc(secret)}`).toString('base64')}`;

async function call(method, pathOrUrl, { form, json, headers = {}, redirect = 'manual' } = {}) {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${ISS}${pathOrUrl}`;
  const h = { ...headers };
  let body;
  if (form) { h['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(form).toString(); }
  if (json) { h['content-type'] = 'application/json'; body = JSON.stringify(json); }
  const res = await fetch(url, { method, headers: h, body, redirect });
  const text = await res.text();
  let data;
  try { data = JSON.parse(text); } catch { data = undefined; }
  return { status: res.status, headers: res.headers, text, data };
}
const admin = (method, p, json) => call(method, `/__admin${p}`, json ? { json } : {});
const token = (form, headers) => call('POST', '/token', { form, headers });

function makeAssertion(keyFile, alg, kid, aud) {
  const key = createPrivateKey(readFileSync(path.join(HERE, 'keys', keyFile)));
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg, kid, typ: 'JWT' })}.${b64({
    iss: 'svc-jwt', sub: 'svc-jwt', aud, jti: randomBytes(16).toString('hex'), iat: now, exp: now + 60,
  })}`;
  const sig = alg === 'ES256'
    ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', Buffer.from(input), key);
  return `${input}.${sig.toString('base64url')}`;
}
const jwtHeader = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());
const jwtPayload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

const alicePw = (scope) => token({
  grant_type: 'password', client_id: 'pw-client', username: 'alice', password: 'alice-password', ...(scope ? { scope } : {}),
});

// ----------------------------------------------------------------------------- tests
let disco;
await test('admin health + counters reset', async () => {
  eq((await admin('GET', '/health')).data, { ok: true }, 'health');
  eq((await admin('POST', '/counters/reset')).status, 200, 'reset');
});

await test('discovery', async () => {
  const r = await call('GET', '/.well-known/openid-configuration');
  eq(r.status, 200, 'status');
  disco = r.data;
  eq(disco.issuer, ISS, 'issuer');
  eq(disco.token_endpoint, `${ISS}/token`, 'token_endpoint');
  for (const g of ['client_credentials', 'password', 'refresh_token', 'authorization_code', 'urn:ietf:params:oauth:grant-type:device_code']) {
    assert(disco.grant_types_supported.includes(g), `grant ${g} advertised`);
  }
  for (const s of ['api:read', 'api:write', 'offline_access']) assert(disco.scopes_supported.includes(s), `scope ${s}`);
  assert(disco.revocation_endpoint && disco.introspection_endpoint && disco.userinfo_endpoint && disco.device_authorization_endpoint, 'endpoints');
  const r2 = await call('GET', '/.well-known/oauth-authorization-server');
  eq(r2.data?.issuer, ISS, 'RFC 8414 alias');
});

await test('client_credentials svc-basic (form-encoded Basic with special chars)', async () => {
  const r = await token({ grant_type: 'client_credentials', scope: 'api:read api:write' }, { authorization: basic('svc-basic', 's3cr:t+/ %&=é~') });
  eq(r.status, 200, `status ${r.text}`);
  eq(r.data.token_type, 'Bearer', 'token_type');
  eq(r.data.expires_in, 3600, 'expires_in');
  eq(r.data.scope, 'api:read api:write', 'scope');
  // raw (not form-encoded) secret must fail
  const raw = await token({ grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from('svc-basic:s3cr:t+/ %&=é~').toString('base64')}` });
  assert(raw.status === 400 || raw.status === 401, 'raw secret rejected', raw.text);
  const wrong = await token({ grant_type: 'client_credentials' }, { authorization: basic('svc-basic', 'nope') });
  eq([wrong.status, wrong.data.error], [401, 'invalid_client'], 'wrong secret');
  const badScope = await token({ grant_type: 'client_credentials', scope: 'openid' }, { authorization: basic('svc-basic', 's3cr:t+/ %&=é~') });
  eq(badScope.data.error, 'invalid_scope', 'scope outside client scope');
});

await test('client_credentials svc-post; svc-basic via post and svc-post via basic rejected', async () => {
  const r = await token({ grant_type: 'client_credentials', client_id: 'svc-post', client_secret: 'post-secret-123' });
  eq(r.status, 200, `status ${r.text}`);
  const viaPost = await token({ grant_type: 'client_credentials', client_id: 'svc-basic', client_secret: 's3cr:t+/ %&=é~' });
  eq([viaPost.status, viaPost.data.error], [401, 'invalid_client'], 'svc-basic via post');
  const viaBasic = await token({ grant_type: 'client_credentials' }, { authorization: basic('svc-post', 'post-secret-123') });
  eq([viaBasic.status, viaBasic.data.error], [401, 'invalid_client'], 'svc-post via basic');
});

await test('private_key_jwt svc-jwt (RSA kid svc-jwt-1 and EC kid svc-jwt-ec-1)', async () => {
  for (const [file, alg, kid] of [['svc-jwt.private.pem', 'RS256', 'svc-jwt-1'], ['svc-jwt-ec.private.pem', 'ES256', 'svc-jwt-ec-1']]) {
    const r = await token({
      grant_type: 'client_credentials',
      scope: 'api:read',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: makeAssertion(file, alg, kid, disco.token_endpoint),
    });
    eq(r.status, 200, `${alg} status ${r.text}`);
    eq(r.data.scope, 'api:read', 'scope');
  }
  const bad = await token({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: makeAssertion('svc-jwt.private.pem', 'RS256', 'svc-jwt-1', 'http://wrong.example/token'),
  });
  eq(bad.data.error, 'invalid_client', 'wrong aud rejected');
});

let aliceTokens;
await test('password grant alice (pw-client): tokens, refresh_expires_in, id_token, userinfo, introspection', async () => {
  const r = await alicePw();
  eq(r.status, 200, `status ${r.text}`);
  aliceTokens = r.data;
  assert(r.data.access_token && r.data.refresh_token && r.data.id_token, 'tokens present', r.data);
  eq(r.data.refresh_expires_in, 14 * 24 * 3600, 'refresh_expires_in');
  eq(r.data.expires_in, 3600, 'expires_in');
  eq(r.data.scope, 'openid profile email', 'default scope');
  const idt = jwtPayload(r.data.id_token);
  eq([idt.sub, idt.aud, idt.iss, idt.name, idt.email], ['alice', 'pw-client', ISS, 'Alice Example', 'alice@example.org'], 'id_token claims');
  const ui = await call('GET', '/me', { headers: { authorization: `Bearer ${r.data.access_token}` } });
  eq([ui.status, ui.data?.sub, ui.data?.name, ui.data?.email, ui.data?.email_verified], [200, 'alice', 'Alice Example', 'alice@example.org', true], 'userinfo');
  const intro = await call('POST', '/token/introspection', { form: { token: r.data.access_token, client_id: 'svc-post', client_secret: 'post-secret-123' } });
  eq([intro.data.active, intro.data.sub, intro.data.client_id], [true, 'alice', 'pw-client'], 'introspection');
  const ins = await admin('POST', '/inspect', { token: r.data.refresh_token });
  eq(ins.data, { active: true, kind: 'RefreshToken', model: 'RefreshToken', client_id: 'pw-client', consumed: false }, 'inspect');
  // no openid -> no id_token
  const r2 = await alicePw('profile api:read');
  eq([r2.status, r2.data.id_token, r2.data.scope], [200, undefined, 'profile api:read'], 'no openid');
  // confidential password client
  const c = await token({ grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'openid' }, { authorization: basic('pw-confidential', 'pw-confidential-secret') });
  assert(c.status === 200 && c.data.refresh_token, 'pw-confidential ok', c.text);
  const cp = await token({ grant_type: 'password', username: 'alice', password: 'alice-password', client_id: 'pw-confidential', client_secret: 'pw-confidential-secret' });
  eq(cp.data.error, 'invalid_client', 'pw-confidential via post rejected');
});

await test('password grant failures are all invalid_grant "Invalid user credentials"', async () => {
  const totpNow = (await admin('GET', '/totp/carol')).data.code;
  const wrongTotp = String((Number(totpNow) + 500000) % 1000000).padStart(6, '0');
  const cases = [
    { username: 'alice', password: 'wrong' },
    { username: 'mallory', password: 'x' },
    { username: 'carol', password: 'carol-password' },
    { username: 'carol', password: 'carol-password', totp: wrongTotp },
    { username: 'carol', password: 'wrong', totp: totpNow },
    { password: 'alice-password' },
  ];
  for (const c of cases) {
    const r = await token({ grant_type: 'password', client_id: 'pw-client', ...c });
    eq([r.status, r.data], [400, { error: 'invalid_grant', error_description: 'Invalid user credentials' }], `case ${JSON.stringify(c)}`);
  }
});

await test('password grant carol with TOTP from admin endpoint', async () => {
  const t = await admin('GET', '/totp/carol');
  assert(/^\d{6}$/.test(t.data.code), 'code format', t.data);
  const r = await token({
    grant_type: 'password', client_id: 'pw-client', username: 'carol', password: 'carol-password', totp: t.data.code, scope: 'openid profile email offline_access',
  });
  eq(r.status, 200, `status ${r.text}`);
  eq(jwtPayload(r.data.id_token).name, 'Carol Example', 'name');
  assert(r.data.refresh_token, 'refresh token');
});

await test('refresh rotation: old refresh token rejected, reuse revokes the grant', async () => {
  const first = await alicePw('openid offline_access');
  const rt1 = first.data.refresh_token;
  const r2 = await token({ grant_type: 'refresh_token', client_id: 'pw-client', refresh_token: rt1 });
  eq(r2.status, 200, `refresh ${r2.text}`);
  const rt2 = r2.data.refresh_token;
  assert(rt2 && rt2 !== rt1, 'rotated');
  assert(typeof r2.data.refresh_expires_in === 'number' && r2.data.refresh_expires_in > 0, 'refresh_expires_in on refresh', r2.data);
  assert(r2.data.id_token, 'id_token on refresh');
  eq((await admin('POST', '/inspect', { token: rt1 })).data.consumed, true, 'rt1 consumed');
  const ui = await call('GET', '/me', { headers: { authorization: `Bearer ${r2.data.access_token}` } });
  eq(ui.status, 200, 'new access token works');
  const again = await token({ grant_type: 'refresh_token', client_id: 'pw-client', refresh_token: rt1 });
  eq([again.status, again.data.error], [400, 'invalid_grant'], 'reuse rejected');
  eq((await admin('POST', '/inspect', { token: rt2 })).data.active, false, 'successor revoked');
  const succ = await token({ grant_type: 'refresh_token', client_id: 'pw-client', refresh_token: rt2 });
  eq(succ.data.error, 'invalid_grant', 'successor unusable');
  // a refresh token of another client
  const other = await token({ grant_type: 'refresh_token', refresh_token: aliceTokens.refresh_token }, { authorization: basic('pw-confidential', 'pw-confidential-secret') });
  eq(other.data.error, 'invalid_grant', 'client mismatch');
});

await test('revocation of a refresh token', async () => {
  const r = await alicePw();
  const rev = await call('POST', '/token/revocation', { form: { token: r.data.refresh_token, token_type_hint: 'refresh_token', client_id: 'pw-client' } });
  eq(rev.status, 200, `revocation ${rev.text}`);
  eq((await admin('POST', '/inspect', { token: r.data.refresh_token })).data.active, false, 'inactive');
  const use = await token({ grant_type: 'refresh_token', client_id: 'pw-client', refresh_token: r.data.refresh_token });
  eq(use.data.error, 'invalid_grant', 'revoked refresh token rejected');
  const ui = await call('GET', '/me', { headers: { authorization: `Bearer ${r.data.access_token}` } });
  eq(ui.status, 401, 'access token of the revoked grant is dead too');
});

await test('counters', async () => {
  const c = (await admin('GET', '/counters')).data;
  if (process.env.SELFTEST_VERBOSE) console.log(JSON.stringify(c));
  for (const k of ['client_credentials', 'password', 'refresh_token', 'authorization_code', 'urn:ietf:params:oauth:grant-type:device_code', 'total']) {
    assert(typeof c.token[k] === 'number', `token.${k} present`);
  }
  for (const k of ['revocation', 'introspection', 'userinfo', 'jwks', 'discovery', 'device_authorization']) assert(typeof c[k] === 'number', `${k} present`);
  // exact numbers of the requests made by the tests above (including rejected ones)
  eq(c.token.client_credentials, 10, 'client_credentials count');
  eq(c.token.password, 13, 'password count');
  eq(c.token.refresh_token, 5, 'refresh_token count');
  eq(c.token.total, 28, 'total');
  eq(c.by_client, {
    'svc-basic': 5, 'svc-post': 2, 'svc-jwt': 3, 'pw-client': 15, 'pw-confidential': 3,
  }, 'by_client (svc-jwt taken from the assertion)');
  eq(c.discovery, 2, 'discovery');
  eq(c.revocation, 1, 'revocation');
  eq(c.introspection, 1, 'introspection');
  eq(c.userinfo, 3, 'userinfo');
  eq(c.token.authorization_code, 0, 'zero');
  const z = (await admin('POST', '/counters/reset')).data;
  eq([z.token.total, z.by_client, z.jwks], [0, {}, 0], 'reset');
});

const ccBasic = (extra = {}) => token({ grant_type: 'client_credentials', ...extra }, { authorization: basic('svc-basic', 's3cr:t+/ %&=é~') });

await test('fault: status (with headers, times=2, grant_type filter)', async () => {
  await admin('POST', '/faults', {
    path: '/token', grant_type: 'client_credentials', action: 'status', status: 503, headers: { 'Retry-After': '1' }, times: 2,
  });
  const pw = await alicePw();
  eq(pw.status, 200, 'other grant type not affected');
  for (let i = 0; i < 2; i += 1) {
    const r = await ccBasic();
    eq([r.status, r.headers.get('retry-after'), r.data], [503, '1', { error: 'server_error', error_description: 'injected fault' }], `faulted ${i}`);
  }
  eq((await ccBasic()).status, 200, 'fault used up');
  const c = (await admin('GET', '/counters')).data;
  eq(c.token.client_credentials, 3, 'faulted requests counted');
  const custom = await admin('POST', '/faults', { path: '/jwks', action: 'status', status: 429, body: 'slow down', content_type: 'text/plain' });
  eq(custom.status, 200, 'fault accepted');
  const j = await call('GET', '/jwks');
  eq([j.status, j.text, j.headers.get('content-type')], [429, 'slow down', 'text/plain'], 'custom body');
});

await test('fault: delay', async () => {
  await admin('POST', '/faults', { path: '/token', action: 'delay', delay_ms: 1200 });
  const t0 = Date.now();
  const r = await ccBasic();
  const dt = Date.now() - t0;
  eq(r.status, 200, 'passes through');
  assert(dt >= 1150, 'delayed', dt);
});

await test('fault: drop', async () => {
  await admin('POST', '/faults', { path: '/token', action: 'drop' });
  let err;
  try { await ccBasic(); } catch (e) { err = e; }
  assert(err, 'fetch failed');
  eq((await ccBasic()).status, 200, 'next ok');
});

await test('fault: malformed; list and clear (times=-1)', async () => {
  await admin('POST', '/faults', { path: '/token', action: 'malformed', times: -1 });
  for (let i = 0; i < 3; i += 1) {
    const r = await ccBasic();
    eq([r.status, r.text, r.headers.get('content-type')], [200, '{"access_token": "abc", ', 'application/json'], 'malformed');
  }
  const list = (await admin('GET', '/faults')).data.faults;
  eq([list.length, list[0].times, list[0].hits], [1, -1, 3], 'listed');
  await admin('DELETE', '/faults');
  eq((await admin('GET', '/faults')).data.faults.length, 0, 'cleared');
  eq((await ccBasic()).status, 200, 'normal again');
});

await test('ttl change applies to new tokens', async () => {
  const t = await admin('POST', '/ttl', { AccessToken: 5, ClientCredentials: 7, RefreshToken: 3600 });
  eq(t.status, 200, 'ttl accepted');
  eq((await ccBasic()).data.expires_in, 7, 'ClientCredentials ttl');
  const p = await alicePw();
  eq([p.data.expires_in, p.data.refresh_expires_in], [5, 3600], 'AccessToken/RefreshToken ttl');
  const r = await token({ grant_type: 'refresh_token', client_id: 'pw-client', refresh_token: p.data.refresh_token });
  eq([r.data.expires_in, r.data.refresh_expires_in], [5, 3600], 'refresh response ttl');
  eq((await admin('POST', '/ttl', { Nope: 1 })).status, 400, 'unknown ttl rejected');
  await admin('POST', '/ttl', { AccessToken: 1 });
  const s = await alicePw();
  await new Promise((res) => { setTimeout(res, 2100); });
  const ui = await call('GET', '/me', { headers: { authorization: `Bearer ${s.data.access_token}` } });
  eq(ui.status, 401, 'expired access token rejected by userinfo');
  await admin('POST', '/ttl', { AccessToken: 3600, ClientCredentials: 3600, RefreshToken: 1209600 });
});

await test('key rotation changes /jwks kids', async () => {
  const kids = async () => (await call('GET', '/jwks')).data.keys.map((k) => k.kid);
  const before = await kids();
  eq(before.length, 2, 'RSA + EC');
  const soft = (await admin('POST', '/rotate-keys', { mode: 'soft' })).data.kids;
  eq(soft.length, 4, 'soft keeps old');
  const afterSoft = await kids();
  eq(afterSoft, soft, '/jwks matches');
  assert(before.every((k) => afterSoft.includes(k)), 'old kept');
  assert(!before.includes(afterSoft[0]), 'new key first');
  const p = await alicePw();
  eq(jwtHeader(p.data.id_token).kid, afterSoft[0], 'id_token signed with the new key');
  // tokens issued before the rotation still work (shared storage)
  const ui = await call('GET', '/me', { headers: { authorization: `Bearer ${aliceTokens.access_token}` } });
  eq(ui.status, 200, 'old access token survives rotation');
  const hard = (await admin('POST', '/rotate-keys', { mode: 'hard' })).data.kids;
  const afterHard = await kids();
  eq(afterHard, hard, '/jwks matches hard');
  eq(afterHard.length, 2, 'hard: only new');
  assert(afterSoft.every((k) => !afterHard.includes(k)), 'old kids gone');
  const cc = await ccBasic();
  eq(cc.status, 200, 'provider still serves after rebuild');
});

await test('device authorization: interval + slow_down', async () => {
  const plain = await call('POST', '/device/auth', { form: { client_id: 'native-app', scope: 'openid' } });
  eq([plain.status, plain.data.interval], [200, undefined], 'no interval by default');
  eq((await admin('POST', '/device', { interval: 2, slow_down: 1 })).data, { interval: 2, slow_down: 1 }, 'admin device');
  const d = await call('POST', '/device/auth', { form: { client_id: 'native-app', scope: 'openid offline_access' } });
  eq(d.status, 200, `device auth ${d.text}`);
  eq(d.data.interval, 2, 'interval announced');
  assert(d.data.device_code && d.data.user_code && d.data.verification_uri, 'fields', d.data);
  const poll = () => token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: 'native-app', device_code: d.data.device_code });
  eq((await poll()).data.error, 'slow_down', 'slow_down first');
  eq((await poll()).data.error, 'authorization_pending', 'then pending');
  await admin('POST', '/device', { interval: null, slow_down: 0 });
  const c = (await admin('GET', '/counters')).data;
  eq([c.device_authorization, c.token['urn:ietf:params:oauth:grant-type:device_code']], [2, 2], 'device counters');
});

// Minimal cookie jar honouring cookie paths (oidc-provider scopes cookies to /interaction/<uid> etc.).
function cookieJar() {
  const jar = new Map();
  return {
    store(res) {
      for (const sc of res.headers.getSetCookie()) {
        const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
        const i = pair.indexOf('=');
        const name = pair.slice(0, i);
        const value = pair.slice(i + 1);
        let p = '/';
        let expired = false;
        for (const a of attrs) {
          const [k, v] = a.split('=');
          if (k.toLowerCase() === 'path') p = v;
          if (k.toLowerCase() === 'expires' && new Date(v) < new Date()) expired = true;
          if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
        }
        const key = `${name}|${p}`;
        if (expired || value === '') jar.delete(key); else jar.set(key, { name, value, path: p });
      }
    },
    header(urlPath) {
      return [...jar.values()]
        .filter((c) => urlPath === c.path || urlPath.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
        .map((c) => `${c.name}=${c.value}`).join('; ');
    },
  };
}

await test('authorization_code + PKCE for native-app (any loopback port) with devInteractions login check', async () => {
  const jar = cookieJar();
  const go = async (method, url, form) => {
    const u = new URL(url, ISS);
    const res = await fetch(u, {
      method,
      redirect: 'manual',
      headers: { cookie: jar.header(u.pathname), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    jar.store(res);
    return { status: res.status, location: res.headers.get('location'), text: await res.text() };
  };
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = 'http://127.0.0.1:54321/callback';
  const q = new URLSearchParams({
    client_id: 'native-app', response_type: 'code', redirect_uri: redirectUri, scope: 'openid profile offline_access', prompt: 'consent', state: 'st4te', code_challenge: challenge, code_challenge_method: 'S256',
  });
  let r = await go('GET', `/auth?${q}`);
  assert(r.status === 303 && r.location.startsWith('/interaction/'), 'to interaction', r);
  const loginUrl = r.location;
  r = await go('GET', loginUrl);
  assert(r.text.includes('name="totp"'), 'login form has totp field');
  r = await go('POST', loginUrl, { prompt: 'login', login: 'alice', password: 'wrong' });
  assert(r.status === 303 && r.location.includes('error='), 'bad password bounced', r);
  r = await go('GET', r.location);
  assert(r.text.includes('Invalid username or password'), 'error shown');
  r = await go('POST', loginUrl, { prompt: 'login', login: 'mallory', password: 'anything' });
  assert(r.status === 303 && r.location.includes('error='), 'unknown user bounced', r);
  r = await go('POST', loginUrl, { prompt: 'login', login: 'alice', password: 'alice-password' });
  assert(r.status === 303 && r.location.includes('/auth/'), 'login ok resumes', r);
  r = await go('GET', r.location);
  assert(r.status === 303 && r.location.startsWith('/interaction/'), 'consent interaction', r);
  const consentUrl = r.location;
  r = await go('POST', consentUrl, { prompt: 'consent' });
  assert(r.status === 303, 'consent submitted', r);
  r = await go('GET', r.location);
  assert(r.status === 303 && r.location.startsWith(redirectUri), 'redirect to client', r);
  const cb = new URL(r.location);
  eq(cb.searchParams.get('state'), 'st4te', 'state');
  const code = cb.searchParams.get('code');
  const bad = await token({ grant_type: 'authorization_code', client_id: 'native-app', code, redirect_uri: redirectUri, code_verifier: 'x'.repeat(43) });
  eq(bad.data.error, 'invalid_grant', 'wrong verifier');
  const t = await token({ grant_type: 'authorization_code', client_id: 'native-app', code, redirect_uri: redirectUri, code_verifier: verifier });
  eq(t.status, 200, `code exchange ${t.text}`);
  assert(t.data.refresh_token && t.data.id_token && t.data.refresh_expires_in, 'tokens', t.data);
  eq(jwtPayload(t.data.id_token).sub, 'alice', 'sub');
  const rr = await token({ grant_type: 'refresh_token', client_id: 'native-app', refresh_token: t.data.refresh_token });
  eq(rr.status, 200, 'refresh');
});

await test('the demo\'s scripted person (person.mjs) approves a device login as alice', async () => {
  const run = (url, ...rest) => new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(HERE, 'person.mjs'), url, ...rest], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b) => { err += b; });
    p.on('exit', (code) => resolve({ code, err }));
  });
  const deviceToken = (d) => token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: 'native-app', device_code: d.data.device_code });
  const wrong = await call('POST', '/device/auth', { form: { client_id: 'native-app', scope: 'openid' } });
  const refused = await run(wrong.data.verification_uri_complete, 'alice', 'not-her-password');
  assert(refused.code !== 0, 'a wrong password is not an approval', refused);
  eq((await deviceToken(wrong)).data.error, 'authorization_pending', 'still pending');
  const d = await call('POST', '/device/auth', { form: { client_id: 'native-app', scope: 'openid' } });
  const approved = await run(d.data.verification_uri_complete);
  eq(approved.code, 0, `person.mjs exit code (${approved.err})`);
  const t = await deviceToken(d);
  eq(t.status, 200, `device token ${t.text}`);
  eq(jwtPayload(t.data.id_token).sub, 'alice', 'sub');
});

await test('stdout carries only the ready line', async () => {
  eq(stdoutLines.length, 1, 'one stdout line');
  eq(Object.keys(ready), ['ready', 'issuer', 'port'], 'ready line keys');
  eq(ready.issuer, `http://127.0.0.1:${ready.port}`, 'issuer format');
});

await test('server exits when stdin closes', async () => {
  const exited = new Promise((resolve) => { child.once('exit', (code, sig) => resolve({ code, sig })); });
  child.stdin.end();
  const timeout = new Promise((resolve) => { setTimeout(() => resolve('timeout'), 5000); });
  const res = await Promise.race([exited, timeout]);
  assert(res !== 'timeout', 'exited within 5 s');
  eq(res.code, 0, 'exit code');
});

console.log(`\n${passes} passed, ${failures} failed`);
if (child.exitCode === null) child.kill('SIGTERM');
process.exit(failures ? 1 : 0);
