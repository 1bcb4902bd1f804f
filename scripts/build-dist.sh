#!/usr/bin/env bash
# The `latchkey` binary as we ship it: statically linked against musl, position independent
# (static-pie, so ASLR still applies), no shared libraries to load or resolve at start.
#   scripts/build-dist.sh            # prints the binary's path: target/dist/latchkey
#                                    # (and writes its man pages to target/dist/man/man1/)
# It starts about a third faster than a `cargo build --release` binary (no dynamic loader,
# no glibc CPU probing, which is slow under virtualisation) and runs on any Linux of the same
# architecture. Installs the Rust musl target and musl-tools when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "build-dist: $*" >&2; }

[ "$(uname -s)" = Linux ] || { log "static musl builds are for Linux; use cargo build --release"; exit 2; }
arch="$(uname -m)"
case "$arch" in
  x86_64 | aarch64) target="$arch-unknown-linux-musl" ;;
  *) log "no musl target for $arch; use cargo build --release"; exit 2 ;;
esac

if ! rustc --print target-libdir --target "$target" >/dev/null 2>&1 \
   || [ ! -d "$(rustc --print target-libdir --target "$target")" ]; then
  command -v rustup >/dev/null 2>&1 \
    || { log "the Rust target $target is missing and rustup is not installed to add it"; exit 2; }
  log "adding the Rust target $target"
  rustup target add "$target" >&2
fi
if ! command -v musl-gcc >/dev/null 2>&1; then
  # The C parts (SQLite, aws-lc) are compiled against musl's headers.
  log "installing musl-tools"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $sudo apt-get install -y -qq --no-install-recommends musl-tools >/dev/null; } \
    || { log "could not install musl-tools (needs apt-get); install musl-gcc and retry"; exit 2; }
fi

log "building latchkey for $target (release, static-pie)"
cargo build --release -q -p latchkey-cli --bin latchkey --target "$target"
mkdir -p target/dist
cp "target/$target/release/latchkey" target/dist/latchkey.tmp
mv target/dist/latchkey.tmp target/dist/latchkey
# A man page per command, from the same clap definitions as `--help` (install with
# MANPATH or by copying target/dist/man/man1/*.1 to /usr/local/share/man/man1/).
rm -rf target/dist/man
target/dist/latchkey man target/dist/man/man1 >/dev/null
log "man pages in target/dist/man/man1"

# Guard the two properties this build exists for: nothing to load, and still relocatable.
if command -v readelf >/dev/null 2>&1; then
  if readelf -l target/dist/latchkey | grep -q INTERP \
     || ! readelf -h target/dist/latchkey | grep -q 'DYN'; then
    log "target/dist/latchkey is not a static position-independent executable"; exit 1
  fi
fi
echo "$PWD/target/dist/latchkey"
