#!/usr/bin/env bash
# bench/webmail/pages.sh BUILD_DIR: the webmail pages of a partner with 10,000 messages (issue
# 14): the inbox (first page, and page 200 = rows 4,976 to 5,000), and the message page of
# random messages (each unsealed: metadata, text and HTML bodies, the HTML sanitised), over HTTPS
# under wrk with as many connections as portal threads (so p99 is the page's time, not a queue).
# The inbox is filled by bench/webmail/webmail_populate.c through webmail.h, as the transform
# stores mail. Goal: p99 under 20 ms for each. Everything on 127.0.0.1; stopped on exit.
set -euo pipefail
BUILD=${1:?usage: bench/webmail/pages.sh BUILD_DIR}
NAME=webmail-pages
COUNT=${BENCH_WEBMAIL_MESSAGES:-10000}
DURATION=${BENCH_PORTAL_SECONDS:-10}
CONNS=${BENCH_WEBMAIL_CONNECTIONS:-4}
source "$(dirname "$0")/../lib/gateway.sh"
command -v wrk >/dev/null || { echo "bench/webmail: wrk is missing (apt-get install wrk)" >&2; exit 1; }
POPULATE=$(cd "$BUILD" && pwd)/tests/webmail_populate
[ -x "$POPULATE" ] || { echo "bench/webmail: no $POPULATE (make first)" >&2; exit 1; }
PORTAL_PORT=$(free_port)
set_key portal.listen "127.0.0.1:$PORTAL_PORT"
set_key portal.threads "$CONNS"
set_key portal.connections_per_client 64
set_key webmail.quota_mb 0
PW="correct horse battery staple"
echo "$PW" | "$BIN" user add-external -c "$CONF" bench@partner.test --channel webmail \
  --password-stdin >/dev/null
t0=$(date +%s.%N)
"$POPULATE" -c "$CONF" bench@partner.test "$COUNT" >"$WORK/uids"
t1=$(date +%s.%N)
[ "$(wc -l <"$WORK/uids")" -eq "$COUNT" ] || { echo "bench/webmail: populate made too few" >&2; exit 1; }
start_gateway
COOKIE=$(portal_session "$PORTAL_PORT" bench@partner.test "$PW")
URL=https://127.0.0.1:$PORTAL_PORT

# Random message pages: wrk picks a uid from the list for every request.
cat >"$WORK/read.lua" <<LUA
local uids = {}
for line in io.lines("$WORK/uids") do uids[#uids + 1] = line end
math.randomseed(14)
wrk.headers["Cookie"] = "$COOKIE"
request = function() return wrk.format("GET", "/webmail/" .. uids[math.random(#uids)]) end
LUA

declare -A R
ms() { # wrk's latency ("850.00us", "3.21ms", "1.02s") in milliseconds
  $PY -c "import sys,re; v,u=re.match(r'([0-9.]+)(us|ms|s)',sys.argv[1]).groups(); print(round(float(v)*{'us':.001,'ms':1,'s':1000}[u],2))" "$1"
}
bench() { # NAME PATH [wrk args...]
  local name=$1 path=$2 out
  shift 2
  out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" "$URL$path")
  R[$name,rps]=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  R[$name,p50]=$(ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  R[$name,p99]=$(ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  R[$name,errors]=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
}
check_page() { # PATH TEXT: the session reaches the page (else wrk would time redirects)
  curl -sk -H "Cookie: $COOKIE" "$URL$1" >"$WORK/page.html"; grep -q "$2" "$WORK/page.html" ||
    { echo "bench/webmail: $1 does not show \"$2\"" >&2; exit 1; }
}
check_page /webmail "Quarterly figures $((COUNT - 1))"
check_page "/webmail/$(head -1 "$WORK/uids")" "figures</b> of message"

bench inbox /webmail -H "Cookie: $COOKIE"
bench inbox_p200 "/webmail?page=200" -H "Cookie: $COOKIE"
bench read / -s "$WORK/read.lua"

echo
echo "bench/webmail pages: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); wrk 2 threads, $CONNS connections = portal.threads, ${DURATION}s each"
echo "populated $COUNT messages in $($PY -c "print(f'{$t1 - $t0:.1f}')") s (webmail_put: parse, seal, store)"
printf '%-40s %12s %10s %10s %6s  %s\n' "partner with $COUNT messages (HTTPS)" "requests/s" "p50 ms" "p99 ms" "goal" "errors"
for k in inbox inbox_p200 read; do
  goal=$($PY -c "print('met' if float('${R[$k,p99]}') < 20 else 'MISSED')")
  printf '%-40s %12s %10s %10s %6s  %s\n' "$k" "${R[$k,rps]}" "${R[$k,p50]}" "${R[$k,p99]}" "$goal" "${R[$k,errors]:-none}"
done
echo "goal: p99 < 20 ms for the inbox (first and a deep page) and for reading a message"
