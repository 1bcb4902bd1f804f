#!/usr/bin/env bash
# One command, one table: latchkey next to its peers, measured in the same run.
#   bench/run.sh [--quick]
# Rust rows come from bench/peers (latchkey, yup-oauth2 and an oauth2-crate cached-token
# wrapper in one process); Python rows from bench/py/bench_peers.py, with dhis2w-client, cdse,
# pywry and authlib installed from PyPI into a throwaway virtual environment, and latchkey's
# own Python package (bindings/python) from bench/python/bench_latchkey.py. Every peer step
# runs under `timeout`; a hung peer prints "timed out" in its cell. The table goes to stdout
# and to target/bench-table.md; docs/bench.md explains the rows.
set -uo pipefail
cd "$(dirname "$0")/.."
QUICK=""; [ "${1:-}" = "--quick" ] && QUICK="--quick"
STEP_TIMEOUT="${STEP_TIMEOUT:-240}"
mkdir -p target
results="target/bench-results.jsonl"
: > "$results"
note() { printf '{"row":"%s","system":"%s","%s":"%s"}\n' "$1" "$2" "$3" "$4" >> "$results"; }
log() { echo "bench: $*" >&2; }

# Cold starts are timed with hyperfine, peak RSS with GNU time.
missing=()
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
[ -x /usr/bin/time ] || missing+=(time)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
    || log "could not install ${missing[*]}: cold starts are timed from Python instead"
fi

# The IdP fixture needs Node and its npm packages (as scripts/test.sh installs them).
if [ ! -f tests/idp/node_modules/oidc-provider/package.json ]; then
  (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
fi

log "building the cross-process worker and the Rust peers (release)"
cargo build --release -q -p latchkey-testkit --features stores --bin latchkey-store-worker \
  || log "worker build failed: the cross-process latchkey row will be skipped"
export LATCHKEY_STORE_WORKER="$PWD/target/release/latchkey-store-worker"
if (cd bench/peers && CARGO_TARGET_DIR="$PWD/../../target" cargo build --release -q); then
  log "running Rust rows"
  if ! timeout "$((STEP_TIMEOUT * 3))" target/release/latchkey-bench-peers $QUICK >> "$results"; then
    note "Rust peers" "latchkey-bench-peers" error "timed out or failed (status $?)"
  fi
else
  note "Rust peers" "latchkey-bench-peers" error "build failed"
fi

# Python peers. Some need Python >= 3.13: use one from pyenv or uv if the default is older.
python=""
for candidate in python3.13 "$HOME/.pyenv/versions/3.13"*/bin/python3.13 python3.14 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
    python="$candidate"; break
  fi
done
if [ -z "$python" ] && command -v uv >/dev/null 2>&1; then
  uv python install 3.13 >/dev/null 2>&1 && python="$(uv python find 3.13 2>/dev/null)"
fi
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
if [ -n "$python" ]; then
  log "installing Python peers with $python into a throwaway venv"
  "$python" -m venv "$venv"
  timeout "$STEP_TIMEOUT" "$venv/bin/pip" install -q --disable-pip-version-check httpx \
    >&2 || log "pip install httpx failed"
fi
declare -A package=([cdse]=cdse [dhis2w]=dhis2w-client [pywry]=pywry [authlib]=authlib)
for peer in cdse dhis2w pywry authlib; do
  if [ -z "$python" ]; then
    note "fast path, 1 task" "$peer" skipped "needs Python >= 3.13, none found ($(python3 --version 2>&1))"
    continue
  fi
  if ! timeout "$STEP_TIMEOUT" "$venv/bin/pip" install -q --disable-pip-version-check \
       "${package[$peer]}" >&2; then
    note "fast path, 1 task" "$peer" skipped "pip install ${package[$peer]} failed on $("$python" --version)"
    continue
  fi
  log "running $peer"
  timeout "$STEP_TIMEOUT" "$venv/bin/python" -W ignore bench/py/bench_peers.py "$peer" $QUICK \
    >> "$results" 2>/dev/null
  status=$?
  [ "$status" -eq 124 ] && note "stampede, $([ -n "$QUICK" ] && echo 500 || echo 10000) tasks at expiry" "$peer" timed_out "true"
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && note "fast path, 1 task" "$peer" error "exit status $status"
  timeout 120 "$venv/bin/python" -W ignore bench/py/bench_peers.py --cold "$peer" >> "$results" 2>/dev/null \
    || note "cold start (token from cache)" "$peer" error "timed out or failed"
done

# latchkey's Python package (bindings/python), built into the peers' venv: the same
# interpreter and harness as the Python peers (bench/python/bench_latchkey.py).
if [ -n "$python" ] \
   && timeout "$STEP_TIMEOUT" "$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.16,<2" >&2 \
   && CARGO_TARGET_DIR="$PWD/target/python" "$venv/bin/maturin" build --release -q \
        --manifest-path bindings/python/Cargo.toml -i "$venv/bin/python" -o "$venv/dist" >&2 \
   && "$venv/bin/pip" install -q --disable-pip-version-check "$venv"/dist/latchkey-*.whl >&2; then
  log "running latchkey-py"
  timeout "$STEP_TIMEOUT" "$venv/bin/python" -W ignore bench/python/bench_latchkey.py $QUICK >> "$results" \
    || note "fast path, 1 task" latchkey-py error "timed out or failed"
else
  note "fast path, 1 task" latchkey-py skipped "no Python >= 3.13 venv, or the wheel did not build"
fi

# Whole-process cold start of `latchkey token`: the shipped build (scripts/build-dist.sh:
# static-pie, musl) is the "latchkey" line; the plain `cargo build --release` binary (glibc,
# dynamically linked) is measured too, so the table shows what the linking buys.
cold_row="cold start (token from cache)"
cold_cli() { # BINARY SYSTEM BUILD
  timeout 120 python3 bench/py/bench_peers.py --cold-cli "$1" "$2" "$3" >> "$results" \
    || note "$cold_row" "$2" error "timed out or failed"
}
dynamic="latchkey, cargo build --release"
if [ ! -d crates/latchkey-cli ]; then
  note "$cold_row" latchkey skipped "CLI not built"
else
  log "building the shipped CLI (scripts/build-dist.sh) and the plain release build"
  if dist="$(scripts/build-dist.sh 2>target/build-dist.log)"; then
    log "running latchkey token cold start (static build)"
    cold_cli "$dist" latchkey "static-pie musl build from scripts/build-dist.sh"
  else
    dynamic=latchkey
    note "$cold_row" "latchkey, scripts/build-dist.sh" skipped "$(tail -1 target/build-dist.log | tr -d '"\\')"
  fi
  if cargo build --release -q -p latchkey-cli 2>/dev/null && [ -x target/release/latchkey ]; then
    log "running latchkey token cold start (glibc build)"
    cold_cli "$PWD/target/release/latchkey" "$dynamic" "glibc, dynamically linked"
  else
    note "$cold_row" "$dynamic" error "cargo build --release -p latchkey-cli failed"
  fi
fi

python3 bench/table.py "$results" | tee target/bench-table.md
