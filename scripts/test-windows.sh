#!/usr/bin/env bash
# Windows: clippy for the x86_64-pc-windows-gnu target, then the file store's tests and the
# CLI's offline tests as Windows binaries under Wine. Installs mingw-w64, Wine and the rustup
# target when missing. What runs where: docs/platforms.md.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=(gcc-mingw-w64-x86-64)
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || missing+=(wine64)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

# Every feature builds for Windows (sqlite bundles its C source, redis and keyring are
# portable), so nothing is left out here.
cargo clippy -p latchkey -p latchkey-cli --all-features --target "$target" -- -D warnings

# Wine 8 (Debian 12) neither applies nor reports the DACLs set on files; this cfg makes the
# Windows checks look at the owner only (crates/latchkey/src/fs/windows.rs). Shipped builds
# never set it.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="--cfg latchkey_wine"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine64
export PATH="$PATH:/usr/lib/wine"
export WINEPREFIX="$PWD/target/wine" WINEDEBUG=-all
if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
  wine64 wineboot --init >/dev/null 2>&1
  # wineboot returns while the new prefix's services still start; a test process created in
  # that window can fail with ERROR_INTERNAL_ERROR (1359). Wait until they have settled.
  wineserver -w
  # Rust's std needs bcryptprimitives!ProcessPrng, which Wine 8 lacks (scripts/wine/).
  x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    scripts/wine/bcryptprimitives.c -ladvapi32
fi

# The fs helper's and the file store's unit tests, including the findings that apply here.
cargo test -p latchkey --all-features --target "$target" --lib -- fs:: store::file profile::
# The store conformance suite on the file store (the one test that starts the Node.js
# identity provider fixture is left out: there is no Windows Node.js under Wine here).
cargo test -p latchkey --all-features --target "$target" --test it -- store_file:: \
  --skip a_manager_over_a_corrupt_store_fails_instead_of_logging_in_again
# The CLI's offline tests, less the two that run `sh`. insta cannot ask cargo for the
# workspace root from a Wine process, so it is given here.
cli_tests() {
  INSTA_WORKSPACE_ROOT="$PWD" cargo test -p latchkey-cli --all-features --target "$target" --test it -- "$@" \
    --skip closed_stdout_exits_0 \
    --skip exec_passes_the_token_and_the_exit_status
}
# Wine, on a loaded machine, now and then fails to create a process with
# ERROR_INTERNAL_ERROR (1359) while several tests spawn the CLI at once. Only tests that
# failed that way run again, one at a time; any other failure fails the run.
log="$(mktemp)"
if ! cli_tests cli_config:: 2>&1 | tee "$log"; then
  failed=$(sed -n 's/^---- \(cli_config::[a-z0-9_]*\) stdout ----$/\1/p' "$log")
  others=$(grep -c '^---- ' "$log" || true)
  wine_only=$(grep -c '(os error 1359)' "$log" || true)
  if [ -z "$failed" ] || [ "$wine_only" -lt "$others" ]; then
    rm -f "$log"; exit 1
  fi
  echo "test-windows: Wine could not create a process (1359) in: $failed; running those again" >&2
  for test in $failed; do cli_tests "$test" --exact --test-threads=1 || { rm -f "$log"; exit 1; }; done
fi
rm -f "$log"
wineserver -k 2>/dev/null || true
