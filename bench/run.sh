#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: relay throughput and latency of sealgate next to a private Postfix.
# 10 concurrent clients send 2000 x 10 KB and 200 x 1 MB messages through each relay into the
# same C sink (bench/smtpsink.c); bench/smtpload.c measures messages per second (accepted, and
# end to end until the sink has them all) and p50/p99 latency from end of DATA to the 250.
# Everything runs on 127.0.0.1; every server started here is stopped on exit.
set -euo pipefail

BUILD=${1:?usage: bench/run.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$BUILD" && pwd)/sealgate
PY=/usr/bin/python3
CLIENTS=${BENCH_CLIENTS:-10}
N_SMALL=${BENCH_SMALL:-2000}
N_LARGE=${BENCH_LARGE:-200}

[ -x "$BIN" ] || { echo "bench: no sealgate binary at $BIN (make first)" >&2; exit 1; }
command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] ||
  { echo "bench: Postfix is not installed (make deps)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/sealgate-bench.XXXXXX)
chmod 755 "$WORK"   # Postfix daemons (user postfix, uid 65534) must traverse it
SINK_PID="" GW_PID="" PF_STARTED=""

cleanup() {
  set +e
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID"
    for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$GW_PID" 2>/dev/null
  fi
  [ -n "$PF_STARTED" ] && $PY "$ROOT/tests/integration/postfix_rig.py" stop "$WORK/postfix"
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  wait 2>/dev/null
  if [ "${KEEP_BENCH_DIR:-}" = "" ]; then rm -rf "$WORK"; else echo "bench: kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # PORT WHAT
  for _ in $(seq 300); do
    if $PY -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$1),1); sys.exit(0 if s.recv(3)==b'220' else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "bench: $2 did not answer on port $1" >&2
  return 1
}

echo "bench: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg) (figures are noisy on a busy machine)"
echo "bench: building load generator and sink (cc -O2)"
cc -O2 -Wall -Wextra -pthread -o "$WORK/smtpsink" "$ROOT/bench/smtpsink.c"
cc -O2 -Wall -Wextra -pthread -o "$WORK/smtpload" "$ROOT/bench/smtpload.c"

SINK_PORT=$(free_port); GW_PORT=$(free_port); PF_PORT=$(free_port)
while [ "$GW_PORT" = "$SINK_PORT" ]; do GW_PORT=$(free_port); done
while [ "$PF_PORT" = "$SINK_PORT" ] || [ "$PF_PORT" = "$GW_PORT" ]; do PF_PORT=$(free_port); done

"$WORK/smtpsink" "$SINK_PORT" & SINK_PID=$!
wait_port "$SINK_PORT" sink

echo "bench: sealgate instance on $GW_PORT"
"$BIN" init "$WORK/gw" --domain example.com --hostname gw.example.com >"$WORK/init.log" 2>&1 ||
  { cat "$WORK/init.log"; exit 1; }
CONF=$WORK/gw/sealgate.conf
set_key() { "$BIN" config set -c "$CONF" "$1" "$2" >/dev/null; }
set_key smtp.listen "127.0.0.1:$GW_PORT"
# Every instance also runs ldapd and the portal: keep them off the default ports.
set_key ldap.listen "127.0.0.1:$(free_port)"
set_key portal.listen "127.0.0.1:$(free_port)"
set_key smtp.internal_networks 127.0.0.1/32
set_key smtp.max_message_size 20M
set_key route.internal "smtp:127.0.0.1:$SINK_PORT"
set_key route.external "smtp:127.0.0.1:$SINK_PORT"
set -m   # own process group, so cleanup can reach the master's children too
"$BIN" run -c "$CONF" >"$WORK/sealgate.log" 2>&1 & GW_PID=$!
set +m
wait_port "$GW_PORT" sealgate || { tail -20 "$WORK/sealgate.log"; exit 1; }

echo "bench: Postfix instance on $PF_PORT (relayhost = the sink)"
PF_STARTED=1
$PY "$ROOT/tests/integration/postfix_rig.py" start "$WORK/postfix" "$PF_PORT" \
  --relay "127.0.0.1:$SINK_PORT" --set message_size_limit=20971520 >/dev/null

# Warm-up: first connections, TLS contexts, page cache.
"$WORK/smtpload" warm "$GW_PORT" 2 20 10240 "$SINK_PORT" >/dev/null
"$WORK/smtpload" warm "$PF_PORT" 2 20 10240 "$SINK_PORT" >/dev/null

declare -A R
run() { # NAME PORT COUNT SIZE
  local line
  line=$("$WORK/smtpload" "$1" "$2" "$CLIENTS" "$3" "$4" "$SINK_PORT") || {
    echo "bench: $1 size $4: not every message was accepted: $line" >&2; }
  echo "  $line"
  for kv in ${line#RESULT }; do R["$1,$4,${kv%%=*}"]=${kv#*=}; done
}

SIZES=("10240:$N_SMALL" "1048576:$N_LARGE")
for s in "${SIZES[@]}"; do
  size=${s%%:*} count=${s##*:}
  echo "bench: $count x $size bytes, $CLIENTS clients"
  run sealgate "$GW_PORT" "$count" "$size"
  run postfix "$PF_PORT" "$count" "$size"
done

ratio() { $PY -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if a>0 and b>0 else 'n/a')" "$1" "$2"; }

echo
printf '%-34s %12s %12s %18s\n' "relay benchmark ($CLIENTS clients)" sealgate postfix "sealgate/postfix"
for s in "${SIZES[@]}"; do
  size=${s%%:*} count=${s##*:}
  label="$((size / 1024)) KB x $count"
  [ "$size" -ge 1048576 ] && label="$((size / 1048576)) MB x $count"
  for m in rate:"accepted msg/s" e2e_rate:"end-to-end msg/s" p50_ms:"p50 DATA->250 ms" p99_ms:"p99 DATA->250 ms"; do
    key=${m%%:*} name=${m#*:}
    a=${R[sealgate,$size,$key]:-n/a} b=${R[postfix,$size,$key]:-n/a}
    printf '%-34s %12s %12s %18s\n' "$label $name" "$a" "$b" "$(ratio "$a" "$b" 2>/dev/null || echo n/a)"
  done
  printf '%-34s %12s %12s\n' "$label errors" "${R[sealgate,$size,errors]:-n/a}" "${R[postfix,$size,errors]:-n/a}"
done
echo "(latency: lower is better; msg/s: higher is better)"

if grep -q "status=deferred\|status=bounced" "$WORK/sealgate.log"; then
  echo "bench: warning: sealgate deferred or bounced some messages:" >&2
  grep -m5 "status=deferred\|status=bounced" "$WORK/sealgate.log" >&2
fi

# The certificate directory: ldapd beside a private slapd (bench/ldap/run.sh).
echo
"$ROOT/bench/ldap/run.sh" "$BUILD"
