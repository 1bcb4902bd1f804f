#!/usr/bin/env bash
# Builds every cargo-fuzz target of latchkey and runs each for SECONDS (default 60), LANES
# targets at a time (default 1), then prints one line per target: executions, new corpus
# entries, crashes.
#   bench/fuzz.sh [SECONDS] [LANES]
# Needs cargo-fuzz (installed here if missing) and libFuzzer's nightly-only flags, which
# RUSTC_BOOTSTRAP=1 unlocks on a stable toolchain. Seeds: fuzz/corpus/<target>/ (read only;
# new inputs go to target/fuzz-logs/corpus/<target>/). Crashes are kept in
# fuzz/artifacts/<target>/. Each target's libFuzzer output is in target/fuzz-logs/<target>.log
# and its table row in target/fuzz-logs/<target>.row, written as soon as it ends, so a long
# run can be read while it goes on; the whole table ends in target/fuzz-table.md.
# On a shared machine run it niced: `nice -n 19 bench/fuzz.sh 600 2`.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
LANES="${2:-1}"
LOG_DIR="${FUZZ_LOG_DIR:-target/fuzz-logs}"
export RUSTC_BOOTSTRAP=1

# Every target, old and new. The build fails below when fuzz/Cargo.toml has one this list
# lacks, so a new target cannot be left out of the runs.
TARGETS=(
  token_response error_body discovery jwks jwt loopback_request auth_scheme profiles_toml
  www_authenticate token_record safe_return_to web_records signed_cookie
  device_authorization introspection userinfo retry_after id_token_claims git_credential
  cli_request_args
)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# Other cargo users on the machine take the same lock; the runs below call no cargo.
lock() { if command -v flock >/dev/null; then flock /tmp/cargo.lock "$@"; else "$@"; fi; }
(cd fuzz && lock cargo fuzz build -O) || { echo "fuzz build failed" >&2; exit 1; }
missing=$(comm -23 <(cd fuzz && cargo fuzz list | sort) <(printf '%s\n' "${TARGETS[@]}" | sort))
if [ -n "$missing" ]; then
  echo "fuzz targets not listed in bench/fuzz.sh: $missing" >&2
  exit 1
fi
bin_dir="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/*.row
run_target() {
  local target="$1"
  local corpus="$LOG_DIR/corpus/$target" log="$LOG_DIR/$target.log"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  local seeds
  seeds=$(ls "fuzz/corpus/$target" 2>/dev/null | wc -l)
  local before
  before=$(ls "$corpus" | wc -l)
  echo "$(date -u +%FT%TZ) start" > "$log"
  # -max_total_time ends the run; timeout is the backstop against a hung target.
  ASAN_OPTIONS=detect_odr_violation=0 timeout $((SECONDS_PER_TARGET + 120)) \
    "$bin_dir/$target" "$corpus" "fuzz/corpus/$target" \
    -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$target/" >>"$log" 2>&1
  local status=$?
  echo "$(date -u +%FT%TZ) end, exit $status" >> "$log"
  local execs rate corpus_end crashes slow
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus_end=$(ls "$corpus" | wc -l)
  # libFuzzer names what it keeps by kind: crash-, leak-, timeout-, oom- are failures;
  # slow-unit- only marks an input that took long once (a busy or paused machine).
  crashes=$(ls "fuzz/artifacts/$target" 2>/dev/null | grep -cE '^(crash|leak|timeout|oom)-')
  slow=$(ls "fuzz/artifacts/$target" 2>/dev/null | grep -c '^slow-unit-')
  if [ "$status" -ne 0 ]; then
    echo "== $target exited with $status; last lines:" >&2
    tail -30 "$log" >&2
  fi
  printf '| %s | %s | %s | %s | %s -> %s | %s | %s |\n' "$target" "$SECONDS_PER_TARGET" \
    "${execs:-?}" "${rate:-?}" "$seeds" "$((seeds + corpus_end - before))" "$crashes" "$slow" \
    > "$LOG_DIR/$target.row"
}

# Lane i runs targets i, i+LANES, i+2*LANES… in sequence.
for ((lane = 0; lane < LANES; lane++)); do
  (
    for ((i = lane; i < ${#TARGETS[@]}; i += LANES)); do
      run_target "${TARGETS[$i]}"
    done
  ) &
done
wait

table="$LOG_DIR/table.md"
printf '| target | seconds | execs | exec/s | corpus (seeds -> end) | crashes | slow units |\n|---|---|---|---|---|---|---|\n' > "$table"
total_crashes=0
for target in "${TARGETS[@]}"; do
  row="$LOG_DIR/$target.row"
  if [ -f "$row" ]; then
    cat "$row" >> "$table"
    total_crashes=$((total_crashes + $(cut -d'|' -f7 "$row" | tr -d ' ')))
  else
    printf '| %s | %s | ? | ? | ? | no result | ? |\n' "$target" "$SECONDS_PER_TARGET" >> "$table"
    total_crashes=$((total_crashes + 1))
  fi
done
cat "$table"
cp "$table" target/fuzz-table.md
echo "crashes: $total_crashes (artifacts in fuzz/artifacts/, logs in $LOG_DIR/)"
[ "$total_crashes" -eq 0 ]
