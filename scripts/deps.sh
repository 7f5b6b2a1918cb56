#!/usr/bin/env bash
# Installs every Debian package that building, the demo, the tests and the benchmarks need.
# Idempotent: does nothing when all are present. apt-get as root, through sudo otherwise.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev openssl libgmime-3.0-dev libglib2.0-dev libinih-dev libsqlite3-dev libsodium-dev
  libcmocka-dev
  python3 python3-pytest swaks postfix
  cppcheck clang-tidy valgrind
  gpgsm gnupg libnss3-tools                                   # S/MIME and OpenPGP test peers
  librnp-dev rnp sq                                           # OpenPGP
  libcairo2-dev libpango1.0-dev libqpdf-dev libidn-dev qpdf   # SecurePDF
  poppler-utils mupdf-tools fonts-noto-core fonts-noto-cjk
  libldap-dev ldap-utils slapd python3-ldap                   # LDAP directory and its peers
  libmicrohttpd-dev libgnutls28-dev chromium wrk              # portal (GnuTLS: its log hook), its browser tests, its benchmark
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix is a test peer only: no system instance is configured or started.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
