# bench/lib/gateway.sh: sourced by the channel benchmarks (bench/{smime,pgp,pdf}/run.sh). Sets up
# a work directory, the C load generator and sink, and a sealgate instance whose routes lead to
# the sink; everything is stopped and removed on exit. Needs BUILD and NAME; defines ROOT, BIN,
# PY, WORK, CONF, GW_PORT, SINK_PORT, free_port, set_key, start_gateway.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$(cd "$BUILD" && pwd)/sealgate
PY=/usr/bin/python3
CLIENTS=${BENCH_CLIENTS:-10}
[ -x "$BIN" ] || { echo "bench/$NAME: no sealgate binary at $BIN (make first)" >&2; exit 1; }
WORK=$(mktemp -d "/tmp/sealgate-bench-$NAME.XXXXXX")
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
  if [ "${BENCH_KEEP:-}" = "" ]; then rm -rf "$WORK"; else echo "bench/$NAME: kept $WORK"; fi
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cc -O2 -Wall -Wextra -pthread -o "$WORK/smtpsink" "$ROOT/bench/smtpsink.c"
cc -O2 -Wall -Wextra -pthread -o "$WORK/smtpload" "$ROOT/bench/smtpload.c"
SINK_PORT=$(free_port); GW_PORT=$(free_port)
"$WORK/smtpsink" "$SINK_PORT" & SINK_PID=$!

"$BIN" init "$WORK/gw" --domain example.com --hostname gw.example.com >/dev/null
CONF=$WORK/gw/sealgate.conf
set_key() { "$BIN" config set -c "$CONF" "$1" "$2" >/dev/null; }
set_key smtp.listen "127.0.0.1:$GW_PORT"
# Every instance also runs ldapd and the portal: keep them off the default ports.
set_key ldap.listen "127.0.0.1:$(free_port)"
set_key portal.listen "127.0.0.1:$(free_port)"
set_key smtp.internal_networks 127.0.0.1/32
set_key route.internal "smtp:127.0.0.1:$SINK_PORT"
set_key route.external "smtp:127.0.0.1:$SINK_PORT"

start_gateway() {
  set -m # own process group, so cleanup reaches the children too
  "$BIN" run -c "$CONF" >"$WORK/sealgate.log" 2>&1 & GW_PID=$!
  set +m
  for _ in $(seq 100); do
    $PY -c "import socket; socket.create_connection(('127.0.0.1',$GW_PORT),1)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench/$NAME: sealgate did not start" >&2; tail -20 "$WORK/sealgate.log" >&2; exit 1
}

# reload KEY VALUE: set a key, SIGHUP, wait for the new queue manager.
reload() {
  set_key "$1" "$2"
  local n; n=$(grep -c "started qmgr" "$WORK/sealgate.log")
  kill -HUP "$GW_PID"
  for _ in $(seq 100); do [ "$(grep -c "started qmgr" "$WORK/sealgate.log")" -gt "$n" ] && break; sleep 0.1; done
  sleep 0.5
}
