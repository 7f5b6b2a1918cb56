#!/usr/bin/env bash
# bench/pdf/run.sh BUILD_DIR: SecurePDF through the whole SMTP path. 10 clients send 100 KB
# messages to one registered partner: plain pass-through and SecurePDF (render in an isolated
# worker, AES-256, wrapper mail), in the same run, end to end into a sink. Everything on
# 127.0.0.1; every server is stopped on exit.
set -euo pipefail
BUILD=${1:?usage: bench/pdf/run.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$BUILD" && pwd)/sealgate
PY=/usr/bin/python3
CLIENTS=${BENCH_CLIENTS:-10}
COUNT=${BENCH_PDF_COUNT:-200}
SIZE=102400
WORK=$(mktemp -d /tmp/sealgate-bench-pdf.XXXXXX)
SINK_PID="" GW_PID=""
cleanup() {
  set +e
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID"
    for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$GW_PID" 2>/dev/null
  fi
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_log() { for _ in $(seq 100); do grep -q "$1" "$WORK/sealgate.log" && return 0; sleep 0.1; done; return 1; }

cc -O2 -Wall -Wextra -pthread -o "$WORK/smtpsink" "$ROOT/bench/smtpsink.c"
cc -O2 -Wall -Wextra -pthread -o "$WORK/smtpload" "$ROOT/bench/smtpload.c"
SINK_PORT=$(free_port); GW_PORT=$(free_port)
"$WORK/smtpsink" "$SINK_PORT" & SINK_PID=$!

"$BIN" init "$WORK/gw" --domain example.com --hostname gw.example.com >/dev/null
CONF=$WORK/gw/sealgate.conf
set_key() { "$BIN" config set -c "$CONF" "$1" "$2" >/dev/null; }
set_key smtp.listen "127.0.0.1:$GW_PORT"
set_key smtp.internal_networks 127.0.0.1/32
set_key route.internal "smtp:127.0.0.1:$SINK_PORT"
set_key route.external "smtp:127.0.0.1:$SINK_PORT"
echo "a long bench passphrase" | "$BIN" user add-external -c "$CONF" sink@remote.test --password-stdin >/dev/null

set -m
"$BIN" run -c "$CONF" >"$WORK/sealgate.log" 2>&1 & GW_PID=$!
set +m
for _ in $(seq 100); do $PY -c "import socket; socket.create_connection(('127.0.0.1',$GW_PORT),1)" 2>/dev/null && break; sleep 0.1; done
"$WORK/smtpload" warm "$GW_PORT" 2 20 "$SIZE" "$SINK_PORT" >/dev/null

declare -A R
run() { # NAME SUBJECT
  local line
  line=$(SMTPLOAD_SUBJECT="$2" "$WORK/smtpload" "$1" "$GW_PORT" "$CLIENTS" "$COUNT" "$SIZE" "$SINK_PORT")
  echo "  $line"
  for kv in ${line#RESULT }; do R["$1,${kv%%=*}"]=${kv#*=}; done
}

echo "bench/pdf: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); $COUNT x 100 KB, $CLIENTS clients"
run pass "bench"
run pdf "[secure] bench"
grep -q "SecurePDF for" "$WORK/sealgate.log" || { echo "bench/pdf: no PDF was made" >&2; exit 1; }
ratio() { $PY -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if a>0 and b>0 else 'n/a')" "$1" "$2"; }
echo
printf '%-40s %12s %14s\n' "SecurePDF benchmark (100 KB)" "msg/s e2e" "vs pass"
for k in pass pdf; do
  printf '%-40s %12s %14s\n' "sealgate $k" "${R[$k,e2e_rate]}" "$(ratio "${R[$k,e2e_rate]}" "${R[pass,e2e_rate]}")"
done
