#!/usr/bin/env bash
# Compares latchkey's fast path between two revisions, side by side in one run:
#   bench/fast_path_ab.sh OLD_REV [NEW_REV]      (NEW_REV defaults to the working tree)
# For each revision it builds bench/fast_path_ab against that revision's crates/latchkey,
# then reports
#   - instructions per call under callgrind (1 M and 2 M calls, the difference / 1 M): a
#     count that does not depend on the machine's load, so it says whether the code on the
#     path changed;
#   - wall ns per call, the two builds run alternately PAIRS times (default 20) per mode,
#     with the median of each and the median of the per-pair ratios: the same-run
#     comparison docs/bench.md asks for.
# Environment: PAIRS (default 20), CALLS per wall run (default 5000000).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
old_rev="${1:?usage: bench/fast_path_ab.sh OLD_REV [NEW_REV]}"
new_rev="${2:-}"
pairs="${PAIRS:-20}"
calls="${CALLS:-5000000}"
command -v valgrind >/dev/null 2>&1 || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends valgrind >/dev/null
}

work="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-ab.XXXXXX")"
cleanup() {
  for side in old new; do
    [ -d "$work/src-$side" ] && git worktree remove --force "$work/src-$side" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# One harness per side, each in its own target dir (the two latchkey crates share a name).
prepare() {
  local side=$1 rev=$2 src
  if [ -n "$rev" ]; then
    git worktree add --quiet --detach "$work/src-$side" "$rev"
    src="$work/src-$side"
  else
    src="$PWD"
  fi
  mkdir -p "$work/$side/src"
  cp bench/fast_path_ab/src/main.rs "$work/$side/src/"
  sed "s#LATCHKEY_PATH#$src/crates/latchkey#" bench/fast_path_ab/Cargo.toml.in > "$work/$side/Cargo.toml"
  cp "$src/Cargo.lock" "$work/$side/"
  echo "building the fast path at ${rev:-the working tree} ..." >&2
  (cd "$work/$side" && CARGO_TARGET_DIR="$root/target/fast-path-ab-$side" cargo build --release --quiet)
}
mkdir -p target
prepare old "$old_rev"
prepare new "$new_rev"
bin() { echo "target/fast-path-ab-$1/release/fast-path-ab"; }

instructions() {
  local side=$1 mode=$2 a b
  a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$(bin "$side")" "$mode" 1000000 2>&1 | sed -n 's/.*Collected : //p')
  b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$(bin "$side")" "$mode" 2000000 2>&1 | sed -n 's/.*Collected : //p')
  echo $(((b - a) / 1000000))
}
wall() { "$(bin "$1")" "$2" "$calls" 2>&1 | sed -n 's/.*: \([0-9.]*\) ns\/op/\1/p'; }

echo "| mode | old instr/call | new instr/call | old ns/op (median) | new ns/op (median) | median new/old |"
echo "|---|---|---|---|---|---|"
for mode in await poll all; do
  if [ "$mode" = all ]; then io="-"; in="-"; else io=$(instructions old "$mode"); in=$(instructions new "$mode"); fi
  samples="$work/$mode.txt"
  : > "$samples"
  for _ in $(seq "$pairs"); do
    echo "$(wall old "$mode") $(wall new "$mode")" >> "$samples"
  done
  python3 - "$mode" "$io" "$in" "$samples" <<'PY'
import statistics, sys
mode, io, inn, path = sys.argv[1:]
pairs = [tuple(map(float, line.split())) for line in open(path) if line.strip()]
old = statistics.median(o for o, _ in pairs)
new = statistics.median(n for _, n in pairs)
ratio = statistics.median(n / o for o, n in pairs)
print(f"| {mode} | {io} | {inn} | {old:.1f} | {new:.1f} | {ratio:.3f} |")
PY
done
