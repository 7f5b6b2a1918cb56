#!/usr/bin/env bash
# bench/portal/run.sh BUILD_DIR: the partner portal over HTTPS under wrk (50 connections, 2
# threads): the login page and a logged-in account overview (requests/s, p50/p99); then logins
# per second from 4 clients, bounded on purpose by Argon2id (libsodium's interactive limits).
# Everything on 127.0.0.1; every server is stopped on exit.
set -euo pipefail
BUILD=${1:?usage: bench/portal/run.sh BUILD_DIR}
NAME=portal
DURATION=${BENCH_PORTAL_SECONDS:-10}
source "$(dirname "$0")/../lib/gateway.sh"
command -v wrk >/dev/null || { echo "bench/portal: wrk is missing (apt-get install wrk)" >&2; exit 1; }
PORTAL_PORT=$(free_port)
set_key portal.listen "127.0.0.1:$PORTAL_PORT"
set_key portal.connections_per_client 64 # wrk runs 50 from one address
PW="correct horse battery staple"
echo "$PW" | "$BIN" user add-external -c "$CONF" bench@partner.test --password-stdin >/dev/null
start_gateway
wait_port "$PORTAL_PORT"
URL=https://127.0.0.1:$PORTAL_PORT

# One logged-in session for the overview runs.
COOKIE=$($PY "$ROOT/bench/portal/logins.py" session "$PORTAL_PORT" bench@partner.test "$PW")

declare -A R
bench() { # NAME PATH [COOKIE]
  local out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c50 -d"${DURATION}s" --latency -H "Cookie: $3" "$URL$2")
  else
    out=$(wrk -t2 -c50 -d"${DURATION}s" --latency "$URL$2")
  fi
  R[$1,rps]=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  R[$1,p50]=$(awk '$1=="50%" {print $2}' <<<"$out")
  R[$1,p99]=$(awk '$1=="99%" {print $2}' <<<"$out")
  R[$1,errors]=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
}

echo "bench/portal: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); wrk 2 threads, 50 connections, ${DURATION}s each"
bench login_page /login
bench overview /account "$COOKIE"
grep -q "bench@partner.test" <(curl -sk -H "Cookie: $COOKIE" "$URL/account") ||
  { echo "bench/portal: the session cookie does not reach the account page" >&2; exit 1; }
LOGINS=$($PY "$ROOT/bench/portal/logins.py" logins "$PORTAL_PORT" bench@partner.test "$PW" 4 "$DURATION")

echo
printf '%-36s %12s %10s %10s  %s\n' "portal (HTTPS)" "requests/s" "p50" "p99" "errors"
for k in login_page overview; do
  printf '%-36s %12s %10s %10s  %s\n' "$k" "${R[$k,rps]}" "${R[$k,p50]}" "${R[$k,p99]}" "${R[$k,errors]:-none}"
done
echo "logins (4 clients, Argon2id opslimit=2 memlimit=64 MiB, libsodium interactive): $LOGINS"
