#!/usr/bin/env bash
# bench/directory/run.sh BUILD_DIR: portal logins per second with p50/p99, employees against a
# real slapd (bench/../tests/integration/slapd_rig.py: StartTLS, service bind, search, bind as
# the employee: a new LDAP connection per login) beside partners (Argon2id) in the same run,
# 4 clients each. Everything on 127.0.0.1; every server is stopped on exit.
set -euo pipefail
BUILD=${1:?usage: bench/directory/run.sh BUILD_DIR}
NAME=directory
DURATION=${BENCH_DIRECTORY_SECONDS:-10}
LOGIN_CLIENTS=${BENCH_DIRECTORY_CLIENTS:-4}
source "$(dirname "$0")/../lib/gateway.sh"
SLAPD_PORT=$(free_port)
$PY "$ROOT/tests/integration/slapd_rig.py" start "$WORK" "$SLAPD_PORT" > "$WORK/slapd.settings"
stop_slapd() { $PY "$ROOT/tests/integration/slapd_rig.py" stop "$WORK" 2>/dev/null || true; cleanup; }
trap stop_slapd EXIT
while IFS='=' read -r k v; do set_key "$k" "$v"; done < "$WORK/slapd.settings"
PORTAL_PORT=$(free_port)
set_key portal.listen "127.0.0.1:$PORTAL_PORT"
set_key portal.connections_per_client 64
PW="correct horse battery staple"
echo "$PW" | "$BIN" user add-external -c "$CONF" bench@partner.test --password-stdin >/dev/null
start_gateway
wait_port "$PORTAL_PORT"
echo "bench/directory: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); $LOGIN_CLIENTS clients, ${DURATION}s each"
printf '%-28s %10s %11s %11s\n' "login (HTTPS portal)" "logins/s" "p50" "p99"
$PY "$ROOT/bench/directory/logins.py" "$PORTAL_PORT" "$DURATION" "$LOGIN_CLIENTS" \
  alice alice-pw "bob@example.com" bob-pw bench@partner.test "$PW"
