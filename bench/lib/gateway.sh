# bench/lib/gateway.sh: sourced by the channel benchmarks (bench/{smime,pgp,pdf}/run.sh). Sets up
# a work directory, the C load generator and sink, and a sealgate instance whose routes lead to
# the sink; everything is stopped and removed on exit. Needs BUILD and NAME; defines ROOT, BIN,
# PY, WORK, CONF, GW_PORT, SINK_PORT, free_port, set_key, start_gateway, reload, run_phases.
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

# run_phases COUNT: pass, encrypt and sign_encrypt, COUNT messages each, in BENCH_ROUNDS rounds
# (default 3) of COUNT/ROUNDS messages, the order rotated every round, so that no phase always
# runs last. Why: on a file system like this machine's (ext4 without a journal) every inode
# created scans the inodes deleted in the last minutes, so a phase that runs after the others
# pays for the spool files they deleted: the last phase measured ~25% slower than the same
# phase run first on the same gateway. The gateway's configuration differs only in
# policy.sign_outbound, switched by reload when the next phase needs the other value; after
# each reload 20 untimed tagged messages warm the new queue manager (as a running gateway is).
# Sets R[phase,e2e_rate], R[phase,rate] and R[phase,count] (global associative array R).
declare -A R
run_phases() {
  local count=$1 rounds=${BENCH_ROUNDS:-3} sign="" r i ph line kv
  local phases=(pass encrypt sign_encrypt)
  declare -A secs acc ok
  [ "$rounds" -ge 1 ] && [ "$count" -ge "$rounds" ] || { echo "bench: bad BENCH_ROUNDS" >&2; exit 1; }
  for ((r = 0; r < rounds; r++)); do
    local n=$((count / rounds)); [ $r -eq $((rounds - 1)) ] && n=$((count - n * (rounds - 1)))
    for ((i = 0; i < 3; i++)); do
      ph=${phases[$(((i + r) % 3))]}
      local want=$sign subject="[secure] bench"
      case $ph in pass) subject="bench" ;; encrypt) want=no ;; sign_encrypt) want=yes ;; esac
      if [ "$want" != "$sign" ]; then
        reload policy.sign_outbound "$want"; sign=$want
        SMTPLOAD_SUBJECT="[secure] warm" "$WORK/smtpload" warm "$GW_PORT" 2 20 "$SIZE" "$SINK_PORT" >/dev/null
      fi
      line=$(SMTPLOAD_SUBJECT="$subject" "$WORK/smtpload" "$ph" "$GW_PORT" "$CLIENTS" "$n" "$SIZE" "$SINK_PORT")
      echo "  round $((r + 1)): $line"
      declare -A one=()
      for kv in ${line#RESULT }; do one[${kv%%=*}]=${kv#*=}; done
      secs[$ph]=$($PY -c "print(${secs[$ph]:-0} + ${one[e2e_secs]})")
      acc[$ph]=$($PY -c "print(${acc[$ph]:-0} + ${one[secs]})")
      ok[$ph]=$((${ok[$ph]:-0} + ${one[ok]}))
    done
  done
  for ph in "${phases[@]}"; do
    R[$ph,count]=${ok[$ph]}
    R[$ph,e2e_rate]=$($PY -c "s=${secs[$ph]}; print(f'{${ok[$ph]}/s:.1f}' if s > 0 else '-1')")
    R[$ph,rate]=$($PY -c "s=${acc[$ph]}; print(f'{${ok[$ph]}/s:.1f}' if s > 0 else '-1')")
  done
}
