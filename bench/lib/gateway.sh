# bench/lib/gateway.sh: sourced by the channel benchmarks (bench/{smime,pgp,pdf}/run.sh). Sets up
# a work directory, the C load generator and sink, and a sealgate instance whose routes lead to
# the sink; everything is stopped and removed on exit. Needs BUILD and NAME; defines ROOT, BIN,
# PY, WORK, CONF, GW_PORT, SINK_PORT, free_port, set_key, start_gateway, start_signing_twin,
# run_phases.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$(cd "$BUILD" && pwd)/sealgate
PY=/usr/bin/python3
CLIENTS=${BENCH_CLIENTS:-10}
[ -x "$BIN" ] || { echo "bench/$NAME: no sealgate binary at $BIN (make first)" >&2; exit 1; }
WORK=$(mktemp -d "/tmp/sealgate-bench-$NAME.XXXXXX")
SINK_PID="" GW_PID="" TWIN_PID="" DKIM_PID=""
stop_gateway() {
  local pid=$1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
  fi
}
cleanup() {
  set +e
  stop_gateway "$GW_PID"
  stop_gateway "$TWIN_PID"
  stop_gateway "$DKIM_PID"
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

# launch CONF LOG PORT: runs an instance in its own process group (so that cleanup reaches its
# children too) and waits until it answers on PORT; prints its pid.
launch() {
  local conf=$1 log=$2 port=$3 pid
  set -m
  "$BIN" run -c "$conf" >"$log" 2>&1 & pid=$!
  set +m
  for _ in $(seq 100); do
    if $PY -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; then
      echo "$pid"; return 0
    fi
    sleep 0.1
  done
  echo "bench/$NAME: sealgate did not start" >&2; tail -20 "$log" >&2; return 1
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (10 s at most).
wait_port() {
  for _ in $(seq 100); do
    $PY -c "import socket; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null && return 0
    sleep 0.1
  done
}

start_gateway() {
  GW_PID=$(launch "$CONF" "$WORK/sealgate.log" "$GW_PORT")
}

# start_signing_twin: a copy of the instance as set up so far (keys, certificates, store) with
# policy.sign_outbound = yes and ports of its own, for the sign+encrypt phase; the first
# instance keeps sign_outbound = no for pass-through and encrypt-only. Two gateways rather
# than one switched by reload: a reload needs a pause and a warm-up before the phase after it,
# and on this machine the pause let the file system recover (see run_phases), which favoured
# the phase that followed. Call before start_gateway: the store must not be open while copied.
TWIN_PORT=""
start_signing_twin() {
  set_key policy.sign_outbound no
  cp -a "$WORK/gw" "$WORK/gw-sign"
  local conf=$WORK/gw-sign/sealgate.conf
  TWIN_PORT=$(free_port)
  "$BIN" config set -c "$conf" smtp.listen "127.0.0.1:$TWIN_PORT" >/dev/null
  "$BIN" config set -c "$conf" ldap.listen "127.0.0.1:$(free_port)" >/dev/null
  "$BIN" config set -c "$conf" portal.listen "127.0.0.1:$(free_port)" >/dev/null
  "$BIN" config set -c "$conf" policy.sign_outbound yes >/dev/null
  TWIN_PID=$(launch "$conf" "$WORK/sealgate-sign.log" "$TWIN_PORT")
  SMTPLOAD_SUBJECT="[secure] warm" "$WORK/smtpload" warm "$TWIN_PORT" 2 20 "$SIZE" "$SINK_PORT" >/dev/null
}

# start_dkim_twin: like start_signing_twin, plus a DKIM key for example.com (dkim.sign =
# transformed signs every encrypted message): the sign_encrypt_dkim phase of run_phases. Call
# before start_signing_twin and start_gateway (the store is copied).
DKIM_PORT=""
start_dkim_twin() {
  set_key policy.sign_outbound no
  cp -a "$WORK/gw" "$WORK/gw-dkim"
  local conf=$WORK/gw-dkim/sealgate.conf
  DKIM_PORT=$(free_port)
  "$BIN" config set -c "$conf" smtp.listen "127.0.0.1:$DKIM_PORT" >/dev/null
  "$BIN" config set -c "$conf" ldap.listen "127.0.0.1:$(free_port)" >/dev/null
  "$BIN" config set -c "$conf" portal.listen "127.0.0.1:$(free_port)" >/dev/null
  "$BIN" config set -c "$conf" policy.sign_outbound yes >/dev/null
  "$BIN" dkim generate -c "$conf" example.com --selector bench >/dev/null
  DKIM_PID=$(launch "$conf" "$WORK/sealgate-dkim.log" "$DKIM_PORT")
  SMTPLOAD_SUBJECT="[secure] warm" "$WORK/smtpload" warm "$DKIM_PORT" 2 20 "$SIZE" "$SINK_PORT" >/dev/null
}

# run_phases COUNT: pass, encrypt and sign_encrypt (and sign_encrypt_dkim after start_dkim_twin), COUNT messages each, in BENCH_ROUNDS rounds
# (default 6) of COUNT/ROUNDS messages, the order rotated every round so that each phase runs
# first, second and third equally often, back to back with no pause. Why: on a file system
# like this machine's (ext4 without a journal) every inode created scans the inodes deleted in
# the last minutes, so the gateway slows down the more mail it has just moved (pass-through
# measured at 1.9 ms of CPU per message after a rest, 2.6 ms 20,000 messages later) and
# recovers when idle; a phase that always ran first, or after a pause, would get a faster disk.
# pass and encrypt go to the instance of start_gateway, sign_encrypt to start_signing_twin's.
# Sets R[phase,e2e_rate], R[phase,rate] and R[phase,count] (global associative array R).
declare -A R
run_phases() {
  local count=$1 rounds=${BENCH_ROUNDS:-6} r i ph line kv port subject
  local phases=(pass encrypt sign_encrypt)
  [ -n "$DKIM_PORT" ] && phases+=(sign_encrypt_dkim)
  local np=${#phases[@]}
  declare -A secs acc ok
  [ "$rounds" -ge 1 ] && [ "$count" -ge "$rounds" ] || { echo "bench: bad BENCH_ROUNDS" >&2; exit 1; }
  [ -n "$TWIN_PORT" ] || { echo "bench: run_phases needs start_signing_twin" >&2; exit 1; }
  for ((r = 0; r < rounds; r++)); do
    local n=$((count / rounds)); [ $r -eq $((rounds - 1)) ] && n=$((count - n * (rounds - 1)))
    for ((i = 0; i < np; i++)); do
      ph=${phases[$(((i + r) % np))]}
      subject="[secure] bench" port=$GW_PORT
      case $ph in pass) subject="bench" ;; sign_encrypt) port=$TWIN_PORT ;;
                  sign_encrypt_dkim) port=$DKIM_PORT ;; esac
      line=$(SMTPLOAD_SUBJECT="$subject" "$WORK/smtpload" "$ph" "$port" "$CLIENTS" "$n" "$SIZE" "$SINK_PORT")
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
