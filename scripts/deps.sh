#!/usr/bin/env bash
# Installs every Debian package that building, the demo, the tests and the benchmarks need.
# Idempotent: does nothing when all are present. apt-get as root, through sudo otherwise.
set -euo pipefail

# Recommends are not installed (--no-install-recommends): every Recommends we rely on is named
# here (libnet-ssleay-perl for swaks' STARTTLS, the fonts Chromium and SecurePDF draw with).
# tools/check-deps.sh proves on this machine that the tests, the demo and the benchmarks use
# nothing else.
packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev openssl ca-certificates libgmime-3.0-dev libglib2.0-dev libinih-dev libsqlite3-dev
  libsodium-dev libcmocka-dev
  libpq-dev postgresql                                        # the PostgreSQL store (libpq) and the server its tests start
  python3 python3-pytest python3-pytest-xdist libpython3.11-testsuite procps
  swaks libnet-ssleay-perl libio-socket-ssl-perl postfix       # SMTP peers (swaks: STARTTLS)
  cppcheck clang-tidy valgrind
  groff-base                                                  # man pages rendered in test_docs.py
  prometheus                                                  # promtool checks /metrics (test_metrics.py)
  gpgsm gnupg dirmngr gpg-wks-client libnss3-tools   # S/MIME and OpenPGP test peers
  librnp-dev rnp sq                                           # OpenPGP
  libcairo2-dev libpango1.0-dev libqpdf-dev libidn-dev qpdf   # SecurePDF
  poppler-utils mupdf-tools fonts-noto-core fonts-noto-cjk fonts-dejavu-core fonts-liberation
  libldap-dev ldap-utils slapd python3-ldap                   # LDAP directory and its peers
  libopendkim-dev python3-dkim python3-nacl python3-authres  # DKIM signing; dkimpy verifies (nacl: Ed25519; authres: ARC hops)
  clamav-daemon                        # virus-scan tests start their own clamd (no freshclam, own .hdb)
  libzip-dev                                                  # employees' renewal ZIP (old and new .pfx)
  libmicrohttpd-dev libgnutls28-dev chromium wrk nodejs       # portal (GnuTLS: its log hook), its browser tests, its benchmark
  libgumbo-dev                                                # HTML5 parser under the webmail HTML sanitiser
  libunbound-dev libevent-dev nettle-dev dns-root-data       # DNS with DNSSEC (src/dns; .pc needs libevent, nettle)
  unbound ldnsutils                                           # test resolver serving signed zones (dns_rig.py)
  python3-cryptography                                        # test CAs of the HTTPS test servers (https_rig.py)
  libsystemd-dev                                              # sd_notify: the master under systemd (Type=notify)
  libseccomp-dev                                              # a system-call filter per role (gateway.seccomp)
  debhelper lintian fakeroot dpkg-dev debootstrap curl systemd # make deb, make check-deb
)
# Debian's nodejs comes without npm; a nodejs that bundles npm (NodeSource) must not get
# Debian's npm on top (they conflict).
if ! command -v npm >/dev/null 2>&1 || dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "ok installed"; then
  packages+=(npm)
fi

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

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
