#!/usr/bin/env bash
# Builds every cargo-fuzz target of latchkey and runs each for SECONDS (default 60), then
# prints one line per target: executions, new corpus entries, crashes.
#   bench/fuzz.sh [SECONDS]
# Needs cargo-fuzz (installed here if missing) and libFuzzer's nightly-only flags, which
# RUSTC_BOOTSTRAP=1 unlocks on a stable toolchain. Seeds: fuzz/corpus/<target>/ (read only;
# new inputs go to a scratch copy). Crashes are kept in fuzz/artifacts/<target>/.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
(cd fuzz && cargo fuzz build -O) || { echo "fuzz build failed" >&2; exit 1; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
targets=$(cd fuzz && cargo fuzz list)
total_crashes=0
printf '| target | seconds | execs | exec/s | corpus (seeds -> end) | crashes | slow units |\n|---|---|---|---|---|---|---|\n' > "$scratch/table.md"
for target in $targets; do
  mkdir -p "$scratch/$target" "fuzz/artifacts/$target"
  seeds=$(ls "fuzz/corpus/$target" 2>/dev/null | wc -l)
  log="$scratch/$target.log"
  # -max_total_time ends the run; timeout is the backstop against a hung target.
  (cd fuzz && timeout $((SECONDS_PER_TARGET + 120)) cargo fuzz run -O "$target" \
      "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -rss_limit_mb=2048 \
      -artifact_prefix="artifacts/$target/") >"$log" 2>&1
  status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(ls "$scratch/$target" | wc -l)
  # libFuzzer names what it keeps by kind: crash-, leak-, timeout-, oom- are failures;
  # slow-unit- only marks an input that took long once (a busy or paused machine).
  crashes=$(ls "fuzz/artifacts/$target" 2>/dev/null | grep -cE '^(crash|leak|timeout|oom)-')
  slow=$(ls "fuzz/artifacts/$target" 2>/dev/null | grep -c '^slow-unit-')
  if [ "$status" -ne 0 ]; then
    echo "== $target exited with $status; last lines:" >&2
    tail -30 "$log" >&2
  fi
  total_crashes=$((total_crashes + crashes))
  printf '| %s | %s | %s | %s | %s -> %s | %s | %s |\n' "$target" "$SECONDS_PER_TARGET" \
    "${execs:-?}" "${rate:-?}" "$seeds" "$((seeds + corpus))" "$crashes" "$slow" >> "$scratch/table.md"
done
cat "$scratch/table.md"
mkdir -p target && cp "$scratch/table.md" target/fuzz-table.md
echo "crashes: $total_crashes (artifacts in fuzz/artifacts/)"
[ "$total_crashes" -eq 0 ]
