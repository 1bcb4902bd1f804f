// A scripted person for the demo (scripts/demo.sh): logs in to this fixture as alice and
// approves, the way someone clicking through its pages would. Plain HTTP with a cookie jar
// that honours cookie paths, filling the fixture's own HTML forms; the tests use the Rust
// twin in crates/latchkey-testkit/src/person.rs.
//
//   node tests/idp/person.mjs URL
//
// URL is a device login's verification_uri_complete, or an authorization URL: then the final
// redirect (to latchkey's loopback receiver) is followed too, so the waiting login completes.
// Only for this fixture: no other identity provider's pages are understood.

const [, , start, user = 'alice', password = 'alice-password'] = process.argv;
if (!start) {
  console.error('usage: node tests/idp/person.mjs URL [USER PASSWORD]');
  process.exit(2);
}
const idpOrigin = new URL(start).origin;
const jar = []; // { name, value, path }

function cookieHeader(url) {
  const path = new URL(url).pathname;
  return jar.filter((c) => path.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');
}

function keepCookies(url, response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const pathAttr = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
    const path = pathAttr ? pathAttr.slice(5) : new URL(url).pathname;
    const i = jar.findIndex((c) => c.name === name && c.path === path);
    if (i >= 0) jar.splice(i, 1);
    if (!/expires=Thu, 01 Jan 1970/i.test(line)) jar.push({ name, value, path });
  }
}

function firstForm(pageUrl, html) {
  const form = /<form([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return null;
  const attr = (s, name) => (new RegExp(`${name}="([^"]*)"`, 'i').exec(s) || [])[1];
  const fields = new URLSearchParams();
  for (const input of form[2].matchAll(/<input([^>]*)>/gi)) {
    const name = attr(input[1], 'name');
    if (name) fields.set(name, attr(input[1], 'value') ?? '');
  }
  return {
    action: new URL(attr(form[1], 'action') ?? pageUrl, pageUrl).href,
    method: (attr(form[1], 'method') ?? 'get').toLowerCase(),
    fields,
  };
}

async function visit(url, init = {}) {
  const headers = { cookie: cookieHeader(url), ...(init.headers ?? {}) };
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  keepCookies(url, response);
  return response;
}

let response = await visit(start);
let url = start;
let signedIn = false;
for (let step = 0; step < 20; step += 1) {
  if (response.status >= 300 && response.status < 400) {
    url = new URL(response.headers.get('location'), url).href;
    if (new URL(url).origin !== idpOrigin) {
      // The redirect back to the application (latchkey's loopback receiver).
      const done = await fetch(url);
      console.error(`logged in as ${user}; the application answered ${done.status}`);
      process.exit(done.ok ? 0 : 1);
    }
    response = await visit(url);
    continue;
  }
  const html = await response.text();
  if (response.status !== 200) {
    console.error(`the identity provider answered ${response.status} at ${url}`);
    process.exit(1);
  }
  const form = firstForm(url, html);
  if (!form) {
    // The device flow ends on a page without a form ("you can close this window").
    console.error(`approved the device login as ${user}`);
    process.exit(0);
  }
  if (form.fields.has('password')) {
    if (signedIn) {
      console.error(`the identity provider refused the password of ${user}`);
      process.exit(1);
    }
    signedIn = true;
    form.fields.set('login', user);
    form.fields.set('password', password);
  }
  url = form.action;
  response = form.method === 'post'
    ? await visit(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.fields.toString(),
    })
    : await visit(`${url}${url.includes('?') ? '&' : '?'}${form.fields}`);
}
console.error('gave up after 20 pages: the fixture\'s pages changed?');
process.exit(1);
