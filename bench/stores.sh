#!/usr/bin/env bash
# The store benchmark with every backend: memory, file, SQLite, Redis and the OS keyring.
# The keyring is GNOME Keyring started in a private D-Bus session and unlocked with a
# throwaway password, so nothing touches the user's own keyring.
#   bench/stores.sh [criterion args...]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v dbus-run-session >/dev/null 2>&1 || missing+=(dbus-daemon)
command -v gnome-keyring-daemon >/dev/null 2>&1 || missing+=(gnome-keyring)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo bench -p latchkey --features sqlite,redis,keyring --bench stores --no-run -q
session="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-keyring.XXXXXX")"
trap 'rm -rf "$session"' EXIT
XDG_DATA_HOME="$session/data" XDG_RUNTIME_DIR="$session" LATCHKEY_BENCH_KEYRING=1 \
  dbus-run-session -- sh -c '
    printf throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec cargo bench -p latchkey --features sqlite,redis,keyring --bench stores -- "$@"' sh "$@"
