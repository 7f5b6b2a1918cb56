#!/usr/bin/env bash
# bench/portal/oracle.sh BUILD_DIR [ROUNDS [KINDS]]: the timing of a failed /register and a failed
# /login for an address with an account against one without (bench/portal/oracle.py). A
# benchmark figure, not a test: the numbers go into docs/security.md. Everything on 127.0.0.1;
# every server is stopped on exit.
set -euo pipefail
BUILD=${1:?usage: bench/portal/oracle.sh BUILD_DIR [ROUNDS]}
ROUNDS=${2:-40}
KINDS=${3:-register,login}
NAME=portal-oracle
source "$(dirname "$0")/../lib/gateway.sh"
PORTAL_PORT=$(free_port)
set_key portal.listen "127.0.0.1:$PORTAL_PORT"
# The known account takes ROUNDS wrong passwords (a binary without the setting: register only).
set_key portal.throttle_free_attempts 100 || true
PW="correct horse battery staple"
echo "$PW" | "$BIN" user add-external -c "$CONF" registered@partner.test --password-stdin >/dev/null
"$BIN" user invite -c "$CONF" invited@partner.test >/dev/null
start_gateway
wait_port "$PORTAL_PORT"
echo "bench/portal/oracle: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); $ROUNDS rounds"
$PY "$ROOT/bench/portal/oracle.py" "$PORTAL_PORT" invited@partner.test registered@partner.test "$ROUNDS" "$KINDS"
