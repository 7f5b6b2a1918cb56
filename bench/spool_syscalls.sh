#!/usr/bin/env bash
# bench/spool_syscalls.sh BUILD_DIR [COUNT] [CLIENTS]: what the spool costs per message.
# Runs one sealgate instance (pass-through into bench/smtpsink.c) under `strace -f -c`,
# sends COUNT (1000) x 10 KB messages from CLIENTS (10) sessions with bench/smtpload.c, waits
# until the sink has them all, stops sealgate and prints the fsync/fdatasync/rename/unlink
# counts of every process divided by COUNT. The rate printed is strace-slowed: only the
# per-message counts are the figure (issue 19: at most 2 fsyncs per accepted message).
# SPOOL_STRACE=0 runs without strace: then the RESULT line's rates are the pass-through figure.
set -euo pipefail

BUILD=${1:?usage: bench/spool_syscalls.sh BUILD_DIR [COUNT] [CLIENTS]}
COUNT=${2:-1000}
CLIENTS=${3:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$BUILD" && pwd)/sealgate
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "spool_syscalls: no sealgate binary at $BIN" >&2; exit 1; }
command -v strace >/dev/null || { echo "spool_syscalls: strace is not installed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/sealgate-sysc.XXXXXX)
SINK_PID="" GW_PID=""
# SIGTERM to the master; under strace that is strace's child, and strace writes its table when
# the last tracee ends.
stop_gw() {
  local master=$GW_PID
  [ "${SPOOL_STRACE:-1}" = 0 ] || master=$(pgrep -P "$GW_PID" -x sealgate)
  kill -TERM "$master" 2>/dev/null; wait "$GW_PID" 2>/dev/null || true; GW_PID=""
}
cleanup() {
  set +e
  [ -n "$GW_PID" ] && stop_gw
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  wait 2>/dev/null
  [ -z "${KEEP_BENCH_DIR:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 600); do
    $PY -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$1),1); sys.exit(0 if s.recv(3)==b'220' else 1)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "spool_syscalls: nothing answers on $1" >&2; return 1
}

echo "spool_syscalls: load average $(cut -d' ' -f1-3 /proc/loadavg)"
cc -O2 -pthread -o "$WORK/smtpsink" "$ROOT/bench/smtpsink.c"
cc -O2 -pthread -o "$WORK/smtpload" "$ROOT/bench/smtpload.c"
SINK_PORT=$(free_port); GW_PORT=$(free_port)
"$WORK/smtpsink" "$SINK_PORT" & SINK_PID=$!
wait_port "$SINK_PORT"
"$BIN" init "$WORK/gw" --domain example.com --hostname gw.example.com >"$WORK/init.log" 2>&1
CONF=$WORK/gw/sealgate.conf
set_key() { "$BIN" config set -c "$CONF" "$1" "$2" >/dev/null; }
set_key smtp.listen "127.0.0.1:$GW_PORT"
set_key ldap.listen "127.0.0.1:$(free_port)"
set_key portal.listen "127.0.0.1:$(free_port)"
set_key smtp.internal_networks 127.0.0.1/32
set_key route.internal "smtp:127.0.0.1:$SINK_PORT"
set_key route.external "smtp:127.0.0.1:$SINK_PORT"
TRACE=(strace -f -c -o "$WORK/strace.txt" -e trace=fsync,fdatasync,sync_file_range,syncfs,rename,renameat,renameat2,unlink,unlinkat,openat)
[ "${SPOOL_STRACE:-1}" = 0 ] && TRACE=(exec)
"${TRACE[@]}" "$BIN" run -c "$CONF" >"$WORK/sealgate.log" 2>&1 & GW_PID=$!
wait_port "$GW_PORT"
"$WORK/smtpload" spool "$GW_PORT" "$CLIENTS" "$COUNT" 10240 "$SINK_PORT"
sleep 1 # qmgr removes each message just after the sink's 250
stop_gw
[ "${SPOOL_STRACE:-1}" = 0 ] && exit 0
awk -v n="$COUNT" '$NF ~ /^(fsync|fdatasync|sync_file_range|syncfs|rename|renameat|renameat2|unlink|unlinkat|openat)$/ {
  printf "  %-16s %8d calls  %6.2f per message\n", $NF, $4, $4 / n }' "$WORK/strace.txt"
awk -v n="$COUNT" '$NF ~ /^(fsync|fdatasync|sync_file_range|syncfs)$/ { s += $4 }
  END { printf "spool_syscalls: %.2f fsyncs per accepted message (%d clients)\n", s / n, '"$CLIENTS"' }' "$WORK/strace.txt"
