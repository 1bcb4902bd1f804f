#!/usr/bin/env bash
# Whole-process cost of `latchkey token` with a valid cached token (the path scripts hit in
# loops): median wall time with hyperfine, peak RSS with /usr/bin/time -v, for the shipped
# build (scripts/build-dist.sh, static-pie musl) and the plain `cargo build --release` one.
# Goal: < 5 ms median, < 10 MB peak RSS. Run: bench/cli_token.sh
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
[ -x /usr/bin/time ] || missing+=(time)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release --quiet -p latchkey-cli --bin latchkey
LK="$PWD/target/release/latchkey"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export LATCHKEY_CONFIG="$WORK/profiles.toml" LATCHKEY_STATE_DIR="$WORK/state" SVC_SECRET=unused
unset LATCHKEY_PROFILE LATCHKEY_URL LATCHKEY_TOKEN 2>/dev/null || true

# A client-credentials profile whose token is already in the file store and valid for an
# hour: the command must answer from the store without contacting the (unreachable) IdP.
"$LK" -q profile add svc --auth client-credentials --token-url https://idp.invalid/token \
  --client-id svc --client-secret-env SVC_SECRET --scope api:read --default 2>/dev/null
now_ms=$(($(date +%s) * 1000))
(
  umask 077
  mkdir -p "$LATCHKEY_STATE_DIR/tokens"
  printf '{"version":1,"access_token":"bench-access-token","token_type":"Bearer","scopes":["api:read"],"expires_at_ms":%d,"obtained_at_ms":%d}\n' \
    $((now_ms + 3600000)) "$now_ms" >"$LATCHKEY_STATE_DIR/tokens/svc.json"
)
[ "$("$LK" token)" = "bench-access-token" ] || { echo "the cached token was not served" >&2; exit 1; }

measure() { # LABEL BINARY
  hyperfine --warmup 20 --runs 300 -N --export-json "$WORK/h.json" "$2 token" >&2
  median_ms=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.2f" % (r["median"]*1000))' "$WORK/h.json")
  rss_kb=$(/usr/bin/time -v "$2" token 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p')
  echo "latchkey token (valid cached token), $1: median ${median_ms} ms, peak RSS $((rss_kb / 1024)).$(((rss_kb % 1024) * 10 / 1024)) MB (${rss_kb} kB)"
}
measure "cargo build --release (glibc, dynamic)" "$LK"
if DIST="$(scripts/build-dist.sh)"; then
  [ "$("$DIST" token)" = "bench-access-token" ] || { echo "the static build did not serve the cached token" >&2; exit 1; }
  measure "scripts/build-dist.sh (static-pie, musl)" "$DIST"
else
  echo "latchkey token, scripts/build-dist.sh: skipped (the static build failed, see above)"
fi
