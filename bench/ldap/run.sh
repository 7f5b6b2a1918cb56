#!/usr/bin/env bash
# bench/ldap/run.sh BUILD_DIR: searches per second with Outlook's name-resolution filter over
# 10,000 entries, sealgate's ldapd beside a private slapd (mdb, with eq+sub indexes on mail,
# cn, sn, givenName: its best case) loaded with the very same entries (exported from ldapd
# with ldapsearch, imported with slapadd). bench/ldap/ldapload.c drives both the same way.
# Everything runs on 127.0.0.1; every server started here is stopped on exit.
set -euo pipefail

BUILD=${1:?usage: bench/ldap/run.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$BUILD" && pwd)/sealgate
POPULATE=$(cd "$BUILD" && pwd)/tests/ldapd_populate
PY=/usr/bin/python3
ENTRIES=${BENCH_LDAP_ENTRIES:-10000}
CLIENTS=${BENCH_LDAP_CLIENTS:-8}
SECONDS_EACH=${BENCH_LDAP_SECONDS:-10}
BASE="dc=example,dc=com"

[ -x "$BIN" ] && [ -x "$POPULATE" ] || { echo "bench/ldap: build first (make)" >&2; exit 1; }
command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || { echo "bench/ldap: slapd missing (make deps)" >&2; exit 1; }
export PATH=$PATH:/usr/sbin

WORK=$(mktemp -d /tmp/sealgate-bench-ldap.XXXXXX)
GW_PID="" SLAPD_PID=""
cleanup() {
  set +e
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID"
    for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$GW_PID" 2>/dev/null
  fi
  [ -f "$WORK/slapd/slapd.pid" ] && kill "$(cat "$WORK/slapd/slapd.pid")" 2>/dev/null
  wait 2>/dev/null
  if [ "${KEEP_BENCH_DIR:-}" = "" ]; then rm -rf "$WORK"; else echo "bench/ldap: kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ldap() { # PORT WHAT
  for _ in $(seq 300); do
    ldapsearch -x -H "ldap://127.0.0.1:$1" -s base -b "" "(objectClass=*)" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench/ldap: $2 does not answer on $1" >&2; return 1
}

echo "bench/ldap: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg)"
cc -O2 -Wall -Wextra -pthread -o "$WORK/ldapload" "$ROOT/bench/ldap/ldapload.c" -lldap -llber

GW_LDAP=$(free_port); GW_SMTP=$(free_port); SL_PORT=$(free_port)
"$BIN" init "$WORK/gw" --domain example.com --hostname gw.example.com >"$WORK/init.log" 2>&1 ||
  { cat "$WORK/init.log"; exit 1; }
CONF=$WORK/gw/sealgate.conf
for kv in "smtp.listen=127.0.0.1:$GW_SMTP" "ldap.listen=127.0.0.1:$GW_LDAP" "ldap.base_dn=$BASE" \
  "portal.listen=127.0.0.1:$(free_port)" \
          "ldap.max_connections=256" "ldap.max_results=100000" \
          "ldap.anonymous_search=full"; do  # anonymous substring searches, as a bound Outlook
  "$BIN" config set -c "$CONF" "${kv%%=*}" "${kv#*=}" >/dev/null
done
echo "bench/ldap: $ENTRIES certificates into the store"
"$POPULATE" -c "$CONF" --count "$ENTRIES" --prefix user >/dev/null
set -m
"$BIN" run -c "$CONF" >"$WORK/sealgate.log" 2>&1 & GW_PID=$!
set +m
wait_ldap "$GW_LDAP" sealgate || { tail -20 "$WORK/sealgate.log"; exit 1; }

echo "bench/ldap: exporting the same entries to a private slapd (mdb) on $SL_PORT"
mkdir -p "$WORK/slapd/db"
ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$GW_LDAP" -b "$BASE" -z 0 \
  "(objectClass=*)" '*' > "$WORK/entries.ldif"
got=$(grep -c '^dn: mail=' "$WORK/entries.ldif" || true)
[ "$got" = "$ENTRIES" ] || { echo "bench/ldap: exported $got entries, not $ENTRIES" >&2; exit 1; }
cat > "$WORK/slapd/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $WORK/slapd/slapd.pid
sizelimit 1000
access to * by * read
database mdb
maxsize 1073741824
suffix "$BASE"
rootdn "cn=admin,$BASE"
directory $WORK/slapd/db
index objectClass eq
index mail,cn,sn,givenName eq,sub
EOF
slapadd -q -f "$WORK/slapd/slapd.conf" -l "$WORK/entries.ldif" >"$WORK/slapadd.log" 2>&1 ||
  { tail -20 "$WORK/slapadd.log"; exit 1; }
slapd -f "$WORK/slapd/slapd.conf" -h "ldap://127.0.0.1:$SL_PORT/"
wait_ldap "$SL_PORT" slapd

declare -A R
run() { # NAME PORT
  local line
  line=$("$WORK/ldapload" "$1" "$2" "$BASE" "$CLIENTS" "$SECONDS_EACH")
  echo "  $line"
  for kv in ${line#RESULT }; do R["$1,${kv%%=*}"]=${kv#*=}; done
}
echo "bench/ldap: warm-up"
"$WORK/ldapload" warm "$GW_LDAP" "$BASE" 2 1 >/dev/null
"$WORK/ldapload" warm "$SL_PORT" "$BASE" 2 1 >/dev/null
echo "bench/ldap: Outlook filter, $CLIENTS clients, ${SECONDS_EACH}s each"
run sealgate "$GW_LDAP"
run slapd "$SL_PORT"

ratio() { $PY -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if a>0 and b>0 else 'n/a')" "$1" "$2"; }
echo
printf '%-36s %12s %12s %16s\n' "ldap benchmark ($ENTRIES entries)" sealgate slapd "sealgate/slapd"
for m in rate:"searches/s" entries:"entries per search" p50_us:"p50 latency us" p99_us:"p99 latency us" errors:"errors"; do
  key=${m%%:*} name=${m#*:}
  a=${R[sealgate,$key]:-n/a} b=${R[slapd,$key]:-n/a}
  printf '%-36s %12s %12s %16s\n' "$name" "$a" "$b" "$(ratio "$a" "$b" 2>/dev/null || echo n/a)"
done
echo "(searches/s: higher is better; latency: lower is better)"
[ "${R[sealgate,entries]:-0}" = "${R[slapd,entries]:-1}" ] ||
  echo "bench/ldap: warning: the two servers returned different numbers of entries" >&2
