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
BENCH_CLIENTS=${3:-10}
NAME=spool
command -v strace >/dev/null || { echo "spool_syscalls: strace is not installed" >&2; exit 1; }
echo "spool_syscalls: load average $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck source=bench/lib/gateway.sh
. "$(dirname "$0")/lib/gateway.sh"
set_key smtp.max_sessions_per_client 1000 # every client is 127.0.0.1

# The master is strace's child; strace writes its table once the last tracee has ended.
stop_traced() {
  [ -n "$GW_PID" ] || return 0
  local master=$GW_PID
  [ "${SPOOL_STRACE:-1}" = 0 ] || master=$(pgrep -P "$GW_PID" -x sealgate || true)
  [ -n "$master" ] && kill -TERM "$master" 2>/dev/null
  wait "$GW_PID" 2>/dev/null || true
  GW_PID=""
}
trap 'stop_traced; cleanup' EXIT

TRACE=(strace -f -c -o "$WORK/strace.txt"
       -e trace=fsync,fdatasync,sync_file_range,syncfs,rename,renameat,renameat2,unlink,unlinkat)
[ "${SPOOL_STRACE:-1}" = 0 ] && TRACE=(exec)
"${TRACE[@]}" "$BIN" run -c "$CONF" >"$WORK/sealgate.log" 2>&1 & GW_PID=$!
for _ in $(seq 600); do # until smtpd greets: the master's socket accepts before that
  $PY -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$GW_PORT),2); sys.exit(s.recv(3)!=b'220')" 2>/dev/null && break
  sleep 0.1
done
"$WORK/smtpload" spool "$GW_PORT" "$CLIENTS" "$COUNT" 10240 "$SINK_PORT"
grep -m5 "spool:" "$WORK/sealgate.log" >&2 || true
sleep 1 # qmgr removes each message just after the sink's 250
stop_traced
[ "${SPOOL_STRACE:-1}" = 0 ] && exit 0
awk -v n="$COUNT" -v c="$CLIENTS" '
  $NF ~ /^(fsync|fdatasync|sync_file_range|syncfs|rename|renameat|renameat2|unlink|unlinkat)$/ {
    printf "  %-16s %8d calls  %6.2f per message\n", $NF, $4, $4 / n
    if ($NF ~ /sync/) s += $4 }
  END { printf "spool_syscalls: %.2f fsyncs per accepted message (%d clients)\n", s / n, c }' \
  "$WORK/strace.txt"
