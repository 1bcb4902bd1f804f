#!/usr/bin/env bash
# Runs every test of latchkey. Installs what is missing first: Node.js + npm and the identity
# provider fixture's npm packages, redis-server, chromium + chromedriver, D-Bus + GNOME Keyring
# (for the real Secret Service round trip), glewlwyd (the second identity provider),
# LemonLDAP::NG (the third) — all Debian packages.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p latchkey --test it grants::`:
# each crate's integration tests are one binary, `it`, with a module per concern).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v dbus-run-session >/dev/null 2>&1 || missing+=(dbus-daemon)
command -v gnome-keyring-daemon >/dev/null 2>&1 || missing+=(gnome-keyring)
# dbconfig-no-thanks keeps apt from pulling a MariaDB client in for glewlwyd.
[ -x /usr/bin/glewlwyd ] || missing+=(glewlwyd dbconfig-no-thanks)
# LemonLDAP::NG's portal, served by plackup, and the Perl modules it loads at start (without
# them it answers 500): captcha (GD::SecurityImage with ImageMagick), the OIDC issuer's.
[ -f /usr/share/perl5/Lemonldap/NG/Portal/Main.pm ] && command -v plackup >/dev/null 2>&1 \
  && perl -MString::Random -MDigest::HMAC -MImage::Magick -MGD::SecurityImage -e1 2>/dev/null \
  || missing+=(lemonldap-ng libplack-perl libgd-securityimage-perl libimage-magick-perl
    libcrypt-openssl-bignum-perl libconvert-base32-perl libio-string-perl libstring-random-perl
    libdigest-hmac-perl)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  # glewlwyd's postinst asks which database to configure; without this answer it fails. The
  # tests give every instance its own SQLite database.
  echo "glewlwyd glewlwyd/config_type select No configuration" | $sudo debconf-set-selections
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -f tests/idp/node_modules/oidc-provider/package.json ]; then
  (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
fi

# The fixture's own self-test first: if the identity provider is broken, say so plainly.
node tests/idp/selftest.mjs
# The keyring and browser tests must not skip here: what they need was just installed.
export LATCHKEY_REQUIRE_KEYRING=1 LATCHKEY_REQUIRE_BROWSER=1
# Nor the glewlwyd and LemonLDAP::NG tests (the scenario matrix runs against both).
unset LATCHKEY_SKIP_GLEWLWYD LATCHKEY_SKIP_LEMONLDAP
cargo test --workspace --all-features "$@"
# The CLI as shipped (scripts/build-dist.sh: static-pie, musl, its own DNS resolver and
# allocator) must pass the same CLI tests as the plain build.
dist="$(scripts/build-dist.sh)"
LATCHKEY_TEST_CLI="$dist" cargo test -p latchkey-cli --all-features --test it "$@" \
  -- cli_config:: cli_idp:: cli_keyring::
# The Python package: its wheel in a throwaway venv, tested against the same fixture and CLI.
(($#)) || LATCHKEY_TEST_CLI="$(realpath -m "${CARGO_TARGET_DIR:-target}")/debug/latchkey" bindings/python/test.sh
