#!/usr/bin/env bash
# `make check-deb`: the package `make deb` built, checked with Debian's tools.
#  1. lintian at --fail-on warning (overrides, each explained, in debian/sealgate.lintian-overrides);
#  2. the files an admin relies on, their modes, the conffile;
#  3. sealgate.service: systemd-analyze verify, and the exposure score of
#     systemd-analyze security (goal <= 3.0, printed; above 4.0 fails);
#  4. installation into a throwaway Debian root (debootstrap, kept in BUILD/deb-root between runs;
#     SG_DEB_ROOT=path to use another): apt installs the .deb with its dependencies, postinst
#     makes the user and the instance (0700, owned by sealgate), the gateway runs from the
#     package's paths and takes a mail, remove keeps the data, purge removes data and user.
#     systemd cannot run as PID 1 in this chroot: the unit is checked by 3, the notifications
#     by tests/integration/test_systemd.py.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
deb=$(ls "$build"/deb/sealgate_*.deb | head -1)
fail() { echo "check-deb: $*"; exit 1; }
echo "check-deb: $deb"

# 1. lintian
lintian --fail-on warning --display-info "$deb" || fail "lintian has warnings (above)"

# 2. contents
contents=$(dpkg-deb -c "$deb")
for f in ./usr/sbin/sealgate ./etc/sealgate/sealgate.conf ./usr/share/man/man8/sealgate.8.gz \
         ./usr/share/man/man5/sealgate.conf.5.gz ./lib/systemd/system/sealgate.service \
         ./usr/share/doc/sealgate/copyright ./usr/share/doc/sealgate/admin-guide.md.gz; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in the package"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/sealgate/sealgate.conf "$tmp/control/conffiles" || fail "sealgate.conf is not a conffile"
dpkg-deb -x "$deb" "$tmp/root"
"$tmp/root/usr/sbin/sealgate" check-config -c "$tmp/root/etc/sealgate/sealgate.conf" >/dev/null

# 3. the unit
unit=$tmp/root/lib/systemd/system/sealgate.service
systemd-analyze verify --man=no "$unit" 2>&1 | grep -v "sealgate.service: Command /usr/sbin/sealgate is not executable" \
  | grep . && fail "systemd-analyze verify complains (above)" || true
score=$(systemd-analyze security --offline=true --no-pager "$unit" | sed -n 's/.*Overall exposure level.*: \([0-9.]*\) .*/\1/p')
echo "check-deb: systemd-analyze security: exposure $score (goal <= 3.0)"
awk -v s="$score" 'BEGIN { exit !(s <= 4.0) }' || fail "exposure $score is above 4.0"

# 4. installed into a throwaway Debian root
if [ "$(id -u)" -ne 0 ]; then
  echo "!!!! check-deb: the chroot installation did not run: it needs root (chroot, mount /proc)"
  [ -n "${SG_SKIP_LOG:-}" ] && echo "check-deb: chroot installation: needs root" >> "$SG_SKIP_LOG"
  [ "${CI:-}" = true ] && exit 1
  exit 0
fi
base=${SG_DEB_ROOT:-$(realpath -m "$build/deb-root")}
if [ ! -x "$base/usr/bin/apt-get" ]; then
  echo "check-deb: debootstrap bookworm into $base (once; a few minutes)"
  rm -rf "$base"
  debootstrap --variant=minbase --include=adduser bookworm "$base" http://deb.debian.org/debian \
    >"$build/deb/debootstrap.log" 2>&1 || fail "debootstrap failed ($build/deb/debootstrap.log)"
  cp /etc/apt/sources.list.d/debian.sources "$base/etc/apt/sources.list.d/" 2>/dev/null &&
    rm -f "$base/etc/apt/sources.list"
  chroot "$base" apt-get update -q >/dev/null
fi
root=$(realpath -m "$build/deb/root")
rm -rf "$root"
cp -a "$base" "$root"
cleanup() { umount "$root/proc" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" "$@"; }
export DEBIAN_FRONTEND=noninteractive
in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" >"$build/deb/install.log" 2>&1 \
  || fail "apt-get install of the package failed ($build/deb/install.log)"
[ "$(in_root stat -c '%a %U %G' /var/lib/sealgate)" = "710 sealgate sealgate-smtp" ] \
  || fail "/var/lib/sealgate is not 0710 sealgate:sealgate-smtp: $(in_root stat -c '%a %U %G' /var/lib/sealgate)"
[ "$(in_root stat -c '%a %G' /var/lib/sealgate/spool)" = "2770 sealgate-smtp" ] \
  || fail "the spool is not 2770, group sealgate-smtp"
in_root sealgate check-config -c /etc/sealgate/sealgate.conf >/dev/null \
  || fail "check-config refuses the owners and modes the package made"
[ "$(in_root stat -c '%U' /var/lib/sealgate/master.key)" = sealgate ] || fail "master.key is not sealgate's"
in_root getent passwd sealgate | grep -q ':/usr/sbin/nologin$' || fail "no system user sealgate"

# The gateway from the package's paths, on ports of our own, takes a mail, reloads, drains.
ports=$(/usr/bin/python3 -c "import sys; sys.path.insert(0, 'tests/integration'); import sgrig; print(*(sgrig.free_port() for _ in range(4)))")
read -r smtp ldap portal metrics <<<"$ports"
conf=/etc/sealgate/sealgate.conf
for kv in "smtp.listen 127.0.0.1:$smtp" "ldap.listen 127.0.0.1:$ldap" "portal.listen 127.0.0.1:$portal" \
          "metrics.listen 127.0.0.1:$metrics" "gateway.internal_domains example.com"; do
  in_root sealgate config set -c $conf $kv
done
mount -t proc proc "$root/proc"
log=$build/deb/run.log
chroot "$root" sealgate run -c $conf >"$log" 2>&1 &
master=$!
wait_for() {  # wait_for WHAT COMMAND...
  local what=$1 i
  shift
  for i in $(seq 1 300); do "$@" && return 0; sleep 0.1; done
  kill -TERM $master 2>/dev/null; fail "timed out waiting for $what (log: $log)"
}
wait_for "every role to serve" bash -c "[ \$(grep -c ': ready: ' '$log') -ge 6 ]"
for role in smtp ldap; do  # the accounts of the package's passwd, seen from /proc
  pid=$(pgrep -P $master -f "__role ${role}d" | head -1)
  [ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = "$(in_root id -u "sealgate-$role")" ] \
    || fail "${role}d does not run as sealgate-$role"
done
/usr/bin/python3 - "$smtp" <<'PY'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20) as s:
    s.sendmail("alice@example.com", ["bob@example.com"], "Subject: from the package\r\n\r\nok\r\n")
PY
wait_for "the mail in the Maildir" bash -c "ls '$root'/var/lib/sealgate/mail/bob@example.com/new/* >/dev/null 2>&1"
curl -sf "http://127.0.0.1:$metrics/metrics" | grep -q 'sealgate_messages_total{status="delivered"' \
  || fail "the metrics do not count the delivered mail"
kill -HUP $master
wait_for "the reload" grep -q "SIGHUP: reload done" "$log"
kill -TERM $master
rc=0
wait $master || rc=$?
[ $rc -eq 0 ] || fail "SIGTERM: the gateway exited $rc, not 0 (log: $log)"
grep -q "master.*: stopped" "$log" || fail "no 'stopped' in $log"
umount "$root/proc"

# remove keeps the data and the user; purge removes both (and the conffile).
in_root apt-get remove -y -q sealgate >>"$build/deb/install.log" 2>&1
[ -e "$root/var/lib/sealgate/master.key" ] || fail "remove deleted the data"
in_root apt-get purge -y -q sealgate >>"$build/deb/install.log" 2>&1
[ ! -e "$root/var/lib/sealgate" ] || fail "purge left /var/lib/sealgate"
for user in sealgate sealgate-smtp sealgate-ldap; do
  ! in_root getent passwd $user >/dev/null || fail "purge left the user $user"
done
[ ! -e "$root/etc/sealgate/sealgate.conf" ] || fail "purge left the conffile"
rm -rf "$root"
echo "check-deb: lintian clean, contents, unit, install, run, reload, drain, remove, purge: ok"
