#!/usr/bin/env bash
# bench/relay/run.sh BUILD_DIR: sealgate next to Postfix as a plain relay, measured with
# Postfix's own tools: smtp-source sends, smtp-sink receives, each relay sits in between
# (smtp-source -> relay -> smtp-sink, one message per transaction, connections reused). 10 KB
# and 100 KB messages, 10 and 50 client sessions, one run each; prints messages per second
# accepted and end to end (until smtp-sink has counted every message) and sealgate/postfix.
# Postfix is a private instance (tests/integration/postfix_rig.py), relayhost = the sink.
# Everything on 127.0.0.1; every server started here is stopped on exit.
# BENCH_RELAY_SMALL / BENCH_RELAY_LARGE: messages per run at 10 KB / 100 KB (2000 / 1000).
set -euo pipefail
BUILD=${1:?usage: bench/relay/run.sh BUILD_DIR}
NAME=relay
N_SMALL=${BENCH_RELAY_SMALL:-2000}
N_LARGE=${BENCH_RELAY_LARGE:-1000}
source "$(dirname "$0")/../lib/gateway.sh"
for tool in smtp-source smtp-sink; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    { echo "bench/relay: $tool (package postfix) is not installed (make deps)" >&2; exit 1; }
done
export PATH=$PATH:/usr/sbin
chmod 755 "$WORK" # Postfix's daemons (user postfix) must traverse it

# The sink: smtp-sink -c counts every message ("... mesg=N" after each "."), to a file.
RSINK_PORT=$(free_port)
smtp-sink -u nobody -c "127.0.0.1:$RSINK_PORT" 256 >"$WORK/sink.count" 2>"$WORK/sink.err" &
RSINK_PID=$!
PF_PORT=$(free_port) PF_STARTED=""
relay_cleanup() {
  set +e
  [ -n "$PF_STARTED" ] && $PY "$ROOT/tests/integration/postfix_rig.py" stop "$WORK/postfix"
  kill "$RSINK_PID" 2>/dev/null
  cleanup
}
trap relay_cleanup EXIT
wait_port "$RSINK_PORT"

set_key route.internal "smtp:127.0.0.1:$RSINK_PORT"
set_key route.external "smtp:127.0.0.1:$RSINK_PORT"
set_key smtp.max_message_size 20M
set_key smtp.max_sessions_per_client 100 # every client is 127.0.0.1 (Postfix allows 50 by default)
start_gateway
PF_STARTED=1
$PY "$ROOT/tests/integration/postfix_rig.py" start "$WORK/postfix" "$PF_PORT" \
  --relay "127.0.0.1:$RSINK_PORT" --set message_size_limit=20971520 >/dev/null

# sink_count: the number of messages smtp-sink has received so far.
sink_count() {
  tr '\r' '\n' <"$WORK/sink.count" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1 | grep . || echo 0
}

declare -A R
# one NAME PORT CLIENTS COUNT SIZE: one run; sets R[NAME,SIZE,CLIENTS,{acc,e2e,err}].
one() {
  local name=$1 port=$2 clients=$3 count=$4 size=$5 base t0 t1 t2 got last=-1 still=0 err=0
  base=$(sink_count)
  t0=$(date +%s.%N)
  smtp-source -d -s "$clients" -m "$count" -l "$size" -f bench@example.com \
    -t sink@remote.test "127.0.0.1:$port" 2>"$WORK/source.err" || err=1
  t1=$(date +%s.%N)
  # Until the sink has them all, or nothing came for 60 s (a relay that stopped delivering).
  while :; do
    got=$(($(sink_count) - base))
    [ "$got" -ge "$count" ] && break
    if [ "$got" = "$last" ]; then still=$((still + 1)); else still=0 last=$got; fi
    [ "$still" -lt 1200 ] || break
    sleep 0.05
  done
  t2=$(date +%s.%N)
  [ -s "$WORK/source.err" ] && { err=1; head -3 "$WORK/source.err" >&2; }
  [ "$got" -ge "$count" ] || { err=1; echo "bench/relay: $name: the sink has $got of $count" >&2; }
  local key=$name,$size,$clients
  R[$key,acc]=$($PY -c "print(f'{$count/($t1-$t0):.1f}')")
  R[$key,e2e]=$($PY -c "print(f'{$count/($t2-$t0):.1f}')")
  R[$key,err]=$err
  echo "  $name: $count x $size bytes, $clients clients: accepted ${R[$key,acc]}/s, end to end ${R[$key,e2e]}/s"
}

# Warm-up: first connections, page cache, Postfix's processes.
one sealgate "$GW_PORT" 2 20 10240 >/dev/null
one postfix "$PF_PORT" 2 20 10240 >/dev/null

echo "bench/relay: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); smtp-source -> relay -> smtp-sink"
# Which relay goes first alternates: on a file system that slows down after much mail was
# moved (bench/lib/gateway.sh, run_phases), the second of a pair would otherwise always lose.
k=0
for spec in "10240:10:$N_SMALL" "10240:50:$N_SMALL" "102400:10:$N_LARGE" "102400:50:$N_LARGE"; do
  IFS=: read -r size clients count <<<"$spec"
  if [ $((k % 2)) -eq 0 ]; then
    one sealgate "$GW_PORT" "$clients" "$count" "$size"
    one postfix "$PF_PORT" "$clients" "$count" "$size"
  else
    one postfix "$PF_PORT" "$clients" "$count" "$size"
    one sealgate "$GW_PORT" "$clients" "$count" "$size"
  fi
  k=$((k + 1))
done
echo "bench/relay: load average after $(cut -d" " -f1-3 /proc/loadavg)"

ratio() { $PY -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if a>0 and b>0 else 'n/a')" "$1" "$2"; }
echo
printf '%-28s %14s %14s %10s %14s\n' "relay benchmark" "sealgate e2e" "postfix e2e" "ratio" "(accepted)"
for spec in "10240:10" "10240:50" "102400:10" "102400:50"; do
  IFS=: read -r size clients <<<"$spec"
  a=${R[sealgate,$size,$clients,e2e]} b=${R[postfix,$size,$clients,e2e]}
  printf '%-28s %14s %14s %9sx %14s\n' "$((size / 1024)) KB, $clients clients (msg/s)" "$a" "$b" \
    "$(ratio "$a" "$b")" "$(ratio "${R[sealgate,$size,$clients,acc]}" "${R[postfix,$size,$clients,acc]}")x"
done
echo "(goal: sealgate >= 2.0x Postfix at 10 KB, >= 1.5x at 100 KB, end to end)"
fails=0
for key in "${!R[@]}"; do [[ $key == *,err ]] && [ "${R[$key]}" != 0 ] && fails=1; done
if grep -q "status=deferred\|status=bounced" "$WORK/sealgate.log"; then
  echo "bench/relay: sealgate deferred or bounced some messages:" >&2
  grep -m5 "status=deferred\|status=bounced" "$WORK/sealgate.log" >&2
  fails=1
fi
[ "$fails" = 0 ] || { echo "bench/relay: some runs had errors (see above)" >&2; exit 1; }
