#!/usr/bin/env bash
# latchkey in about three minutes: builds the CLI (the first build is most of the time),
# starts the bundled identity provider fixture (tests/idp, oidc-provider on a loopback
# port) and walks through a client-credentials profile, a device login and a browser login
# (both approved by a scripted person), `status`, `doctor`, an error with its hint and a
# revoking logout. No manual steps; everything it creates is removed on exit.
#
#   scripts/demo.sh          run the walk-through
#   scripts/demo.sh --keep   then keep the identity provider running to try things by hand
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
case "${1:-}" in
  --keep) KEEP=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
esac

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$'\e[1m'; D=$'\e[2m'; R=$'\e[0m'; else B=; D=; R=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$R"; }
say() { printf '%s%s%s\n' "$D" "$*" "$R"; }
# Echoes a command quoted as a shell needs it (copy-pasteable), then runs it.
echo_cmd() { printf '%s$' "$B"; printf ' %q' "$@"; printf '%s\n' "$R"; }
show() { echo_cmd "$@"; "$@"; }
# Like `show` for a command that is expected to fail: shows its exit code, keeps going.
show_fails() { echo_cmd "$@"; local rc=0; "$@" || rc=$?; say "(exit code $rc)"; }
# Shows a command, runs it, and shortens its output's lines to N characters (tokens).
show_cut() { local n=$1; shift; echo_cmd "$@"; "$@" | cut -c1-"$n" | sed 's/$/…/'; }

# --- what the demo needs -------------------------------------------------------------
step "Checking prerequisites"
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust from https://rustup.rs and run this again" >&2
  exit 1
fi
node_major() { node -e 'console.log(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 || [ "$(node_major)" -lt 20 ]; then
  say "installing Node.js and npm (apt)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  if [ "$(node_major)" -lt 20 ]; then
    echo "the identity provider fixture needs Node.js 20+, apt installed $(node --version)" >&2
    echo "hint: install Node.js 20+ (https://nodejs.org or nodesource) and run this again" >&2
    exit 1
  fi
fi
if [ ! -f tests/idp/node_modules/oidc-provider/package.json ]; then
  say "installing the fixture's npm packages (npm ci, pinned by package-lock.json)"
  (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
fi
say "node $(node --version), $(cargo --version)"

step "Building the latchkey CLI"
say "The first build downloads and compiles about 220 crates: 1-2 minutes on two cores"
say "(seconds after that). It is a debug build without the optional SQLite, Redis, keyring and"
say "clipboard support, which the demo does not use; a release build with everything is:"
say "  cargo build --release -p latchkey-cli"
cargo build -p latchkey-cli --no-default-features --bin latchkey
export PATH="$PWD/target/debug:$PATH"
LK=latchkey
# The person who approves logins: a script that fills the fixture's login and consent pages.
person() { node tests/idp/person.mjs "$@"; }

# --- a throwaway world ----------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-demo.XXXXXX")"
IDP_PID=""; LOGIN_PID=""
cleanup() {
  [ -n "$LOGIN_PID" ] && kill "$LOGIN_PID" 2>/dev/null || true
  [ -n "$IDP_PID" ] && kill "$IDP_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
export LATCHKEY_CONFIG="$WORK/profiles.toml" LATCHKEY_STATE_DIR="$WORK/state" LATCHKEY_NO_BROWSER=1
unset LATCHKEY_PROFILE LATCHKEY_URL LATCHKEY_TOKEN 2>/dev/null || true

step "Starting the bundled identity provider (tests/idp)"
IDP_IGNORE_STDIN=1 PORT=0 HOST=127.0.0.1 node tests/idp/server.mjs >"$WORK/idp.out" 2>"$WORK/idp.err" </dev/null &
IDP_PID=$!
for _ in $(seq 100); do
  grep -q '"ready":true' "$WORK/idp.out" 2>/dev/null && break
  kill -0 "$IDP_PID" 2>/dev/null || { cat "$WORK/idp.err" >&2; exit 1; }
  sleep 0.1
done
ISSUER="$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$WORK/idp.out")"
[ -n "$ISSUER" ] || { echo "the identity provider did not start" >&2; cat "$WORK/idp.err" >&2; exit 1; }
say "issuer: $ISSUER (an OpenID Connect provider with test clients and the user alice)"

# --- 1. a service account: client credentials -------------------------------------------
step "1. A service profile: OAuth 2 client credentials, secret read from an env variable"
export SVC_SECRET="post-secret-123"
show "$LK" profile add svc --auth client-credentials --issuer "$ISSUER" \
  --client-id svc-post --client-secret-env SVC_SECRET --client-auth client_secret_post \
  --scope api:read --default
say "the profiles file now says (the secret is a reference, not a value):"
sed 's/^/    /' "$LATCHKEY_CONFIG"

step "2. Get a token: the first call asks the IdP, the token is cached in the file store"
show_cut 24 "$LK" token
show_cut 38 "$LK" header
say "(tokens shortened for the demo; a second call is served from $LATCHKEY_STATE_DIR/tokens,"
say " without a request to the IdP, until the token is about to expire)"
show "$LK" status

# --- 2. a person: device login --------------------------------------------------------------
step "3. A person: device login (RFC 8628) for the public client native-app"
show "$LK" profile add me --auth device-code --issuer "$ISSUER" --client-id native-app \
  --scope "openid offline_access api:read" --base-url "$ISSUER"
echo_cmd "$LK" -p me login --device
"$LK" -p me login --device 2>"$WORK/login.err" &
LOGIN_PID=$!
URL=""
for _ in $(seq 100); do
  URL="$(grep -o 'http[^ ]*user_code=[^ ]*' "$WORK/login.err" 2>/dev/null | head -n1 || true)"
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { cat "$WORK/login.err" >&2; exit 1; }
sed 's/^/    /' "$WORK/login.err"
say "(a person would open that URL on a phone; the demo approves it as alice with a script)"
person "$URL"
wait "$LOGIN_PID"; LOGIN_PID=""
tail -n1 "$WORK/login.err" | sed 's/^/    /'

step "4. Status of the device login, as JSON for scripts"
show "$LK" -p me status --json
say "an authenticated API call (the IdP's userinfo endpoint, relative to base_url):"
show "$LK" -p me request GET me
echo

# --- 3. a person at a browser: authorization code + PKCE ---------------------------------------
step "5. A browser login: authorization code + PKCE, the redirect caught on a loopback port"
show "$LK" profile add web --auth authorization-code --issuer "$ISSUER" --client-id native-app \
  --scope "openid offline_access api:read"
say "(LATCHKEY_NO_BROWSER=1 is set, so latchkey prints the URL instead of opening a browser;"
say " the scripted person opens it, signs in as alice and consents)"
echo_cmd "$LK" -p web login
"$LK" -p web login 2>"$WORK/web.err" &
LOGIN_PID=$!
URL=""
for _ in $(seq 100); do
  URL="$(grep -o 'http[^ ]*/auth?[^ ]*' "$WORK/web.err" 2>/dev/null | head -n1 || true)"
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { cat "$WORK/web.err" >&2; exit 1; }
sed 's/^/    /' "$WORK/web.err" | cut -c1-100 | sed 's/\(.\{99\}\)$/\1…/'
person "$URL"
wait "$LOGIN_PID"; LOGIN_PID=""
tail -n1 "$WORK/web.err" | sed 's/^/    /'

step "6. doctor: checks a profile end to end (configuration, discovery, store, token)"
show "$LK" -p web doctor

step "7. When something is wrong, the error says what and a hint says what to do"
say "(a profile whose secret variable holds the wrong secret)"
export WRONG_SECRET="not-the-secret"
show "$LK" profile add wrong --auth client-credentials --issuer "$ISSUER" \
  --client-id svc-post --client-secret-env WRONG_SECRET --client-auth client_secret_post
show_fails "$LK" -p wrong token

step "8. Log out and revoke the tokens at the identity provider"
show "$LK" -p me logout --revoke
say "(status exits 1 when not logged in, so scripts can use it as a check)"
show_fails "$LK" -p me status

step "Done"
say "Next: docs/cli.md (every command, the profiles file, environment variables, exit codes)."
if [ "$KEEP" = 1 ]; then
  step "The identity provider keeps running until you press Ctrl-C"
  cat <<EOF_KEEP
  issuer:   $ISSUER  (discovery: $ISSUER/.well-known/openid-configuration)
  user:     alice / alice-password
  clients:  svc-post (secret post-secret-123, client_secret_post, client credentials)
            native-app (public: authorization code + PKCE, device code, refresh)
  In another shell, use the demo's profiles (svc, me, web) with:
    export LATCHKEY_CONFIG=$(printf %q "$LATCHKEY_CONFIG") LATCHKEY_STATE_DIR=$(printf %q "$LATCHKEY_STATE_DIR") SVC_SECRET=post-secret-123
    export PATH=$(printf %q "$PWD/target/debug"):\$PATH
    latchkey profile list
    latchkey -p web login     # opens your browser: sign in as alice
EOF_KEEP
  wait "$IDP_PID" || true
else
  say "To keep the identity provider running and try things by hand: scripts/demo.sh --keep"
fi
