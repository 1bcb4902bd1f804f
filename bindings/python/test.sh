#!/usr/bin/env bash
# Builds the Python package's wheel, installs it into a throwaway virtual environment and runs
# its tests (pytest against the identity provider fixture in tests/idp, mypy's stubtest).
# Needs python3 >= 3.11, node and the fixture's npm packages (scripts/test.sh installs them).
# Extra arguments go to pytest (e.g. `bindings/python/test.sh -k stampede`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/python}"

venv="$(mktemp -d -t latchkey-py-XXXXXX)"
trap 'rm -rf "$venv"' EXIT
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check \
  "maturin>=1.16,<2" pytest httpx httpx2 requests mypy pydantic
# The tests measure nothing, so the wheel is built unoptimised (`--profile dev`: 2 m 54 s for
# the whole script from a cold target dir on the 2-core VM, against 4 m 31 s for a release
# build); bench/run.sh builds its own release wheel. The LTO settings .ci/run exports for the
# CLI's release build do not apply to this profile.
"$venv/bin/maturin" build --profile dev --manifest-path "$here/Cargo.toml" -o "$venv/dist" -q
"$venv/bin/pip" install -q --disable-pip-version-check "$venv"/dist/latchkey-*.whl

# Tests run against the installed wheel, not the source tree.
cd "$venv"
"$venv/bin/python" -m mypy.stubtest latchkey._core --allowlist "$here/stubtest-allowlist.txt"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/tests" "$@"
