#!/usr/bin/env bash
# Scale figures for the shared token stores, one run, one machine, one table:
#   bench/redis_scale.sh [--quick]
# 8 processes x 100 keys on a single Redis, a three-master Redis Cluster, the file and the
# SQLite store (IdP token requests per key per expiry, counted at the IdP fixture), lock
# hand-over latency between processes, `load` per second, and the web session lookup per
# request with memory and Redis sessions. Builds in release. The table goes to stdout and to
# target/redis-scale.md, the raw JSON lines to target/redis-scale.jsonl; docs/bench.md
# ("Redis at scale") explains the columns. CARGO="flock /tmp/cargo.lock cargo" serialises
# the builds with other users of a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=""; [ "${1:-}" = "--quick" ] && QUICK="--quick"
CARGO="${CARGO:-cargo}"
log() { echo "redis-scale: $*" >&2; }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The IdP fixture needs Node and its npm packages (as scripts/test.sh installs them).
if [ ! -f tests/idp/node_modules/oidc-provider/package.json ]; then
  (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
fi

log "building the scale runner and the session lookup bench (release)"
$CARGO build --release -q -p latchkey-testkit --features stores --bin latchkey-redis-scale
runner="${CARGO_TARGET_DIR:-target}/release/latchkey-redis-scale"
sessions="$($CARGO bench --profile release -q -p latchkey-axum --features redis \
    --bench session_lookup --no-run --message-format=json \
  | python3 -c 'import json, sys
found = [m["executable"] for m in map(json.loads, sys.stdin)
         if m.get("reason") == "compiler-artifact" and m.get("executable")
         and m["target"]["name"] == "session_lookup"]
print(found[-1])')"

mkdir -p target
results="target/redis-scale.jsonl"
: > "$results"
status=0
started=$SECONDS
log "measuring the stores"
"$runner" $QUICK >> "$results" || status=$?
log "measuring the web session lookup"
"$sessions" $QUICK >> "$results" || status=$?
log "measured in $((SECONDS - started)) s"
python3 bench/redis_scale_table.py "$results" | tee target/redis-scale.md
exit "$status"
