#!/usr/bin/env bash
# bench/smime/run.sh BUILD_DIR: S/MIME through the whole SMTP path. 10 clients send 100 KB
# messages to one RSA-3072 recipient: plain pass-through, encrypt only, and sign+encrypt, in
# the same run, end to end into a sink; and, for scale, a loop of `openssl cms -encrypt`
# processes on the same message; and sign+encrypt+DKIM (rsa2048, dkim.sign = transformed) beside
# sign+encrypt. Everything on 127.0.0.1; every server is stopped on exit.
# Then, in process (tests/smime_layers, bench/smime/smime_layers.c): sign+encrypt with and
# without RFC 9788 header protection in alternating rounds, and nested inbound unwrapping alone
# and followed by a scan with a local clamd (the issue 25 scanner) in alternating rounds; and
# (tests/dkim_sign, bench/smime/dkim_sign.c) the CPU time of one DKIM signature and ARC set; and
# (tests/keyd_ops, bench/smime/keyd_ops.c) sign+encrypt and decrypt with the key in process
# beside the key in keyd over keyd's own transport (issue 16), alternating rounds.
set -euo pipefail
BUILD=${1:?usage: bench/smime/run.sh BUILD_DIR}
NAME=smime
COUNT=${BENCH_SMIME_COUNT:-1800}
SIZE=102400
source "$(dirname "$0")/../lib/gateway.sh"
# The recipient: an RSA-3072 partner certificate; the sender: a gateway-issued one.
openssl req -x509 -newkey rsa:3072 -nodes -keyout "$WORK/sink.key" -out "$WORK/sink.crt" \
  -days 30 -subj "/CN=Sink" -addext "subjectAltName=email:sink@remote.test" \
  -addext "keyUsage=digitalSignature,keyEncipherment" -addext "extendedKeyUsage=emailProtection" 2>/dev/null
"$BIN" cert import -c "$CONF" sink@remote.test "$WORK/sink.crt" >/dev/null
"$BIN" cert issue -c "$CONF" bench@example.com >/dev/null

start_dkim_twin
start_signing_twin
start_gateway
SMTPLOAD_SUBJECT="[secure] warm" "$WORK/smtpload" warm "$GW_PORT" 2 20 "$SIZE" "$SINK_PORT" >/dev/null

echo "bench/smime: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); $COUNT x 100 KB, $CLIENTS clients, ${BENCH_ROUNDS:-6} rounds, RSA-3072 recipient"
run_phases "$COUNT"
grep -q "S/MIME encrypted" "$WORK/sealgate.log" || { echo "bench/smime: nothing was encrypted" >&2; exit 1; }
grep -q "S/MIME encrypted.*, signed" "$WORK/sealgate-sign.log" || { echo "bench/smime: nothing was signed" >&2; exit 1; }
! grep -q "dkim.*no key\|DKIM signing" "$WORK/sealgate-dkim.log" || { echo "bench/smime: DKIM did not sign" >&2; exit 1; }

# For scale: one `openssl cms -encrypt` process per message, as script-based gateways do.
head -c "$SIZE" /dev/urandom | base64 > "$WORK/msg.txt"
N=100; t0=$(date +%s.%N)
for _ in $(seq $N); do openssl cms -encrypt -aes256 -in "$WORK/msg.txt" "$WORK/sink.crt" > /dev/null; done
t1=$(date +%s.%N)
OPENSSL_RATE=$($PY -c "print(f'{$N/($t1-$t0):.0f}')")

ratio() { $PY -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if a>0 and b>0 else 'n/a')" "$1" "$2"; }
echo
printf '%-40s %12s %14s\n' "S/MIME benchmark (100 KB)" "msg/s e2e" "vs pass"
for k in pass encrypt sign_encrypt sign_encrypt_dkim; do
  printf '%-40s %12s %14s\n' "sealgate $k" "${R[$k,e2e_rate]}" "$(ratio "${R[$k,e2e_rate]}" "${R[pass,e2e_rate]}")"
done
printf '%-40s %12s %14s\n' "openssl cms -encrypt, one process each" "$OPENSSL_RATE" "$(ratio "$OPENSSL_RATE" "${R[pass,e2e_rate]}")"
echo "(goals, issue 19: encrypt >= 0.9x and sign+encrypt >= 0.8x pass-through, same run)"
echo "sign+encrypt+DKIM vs sign+encrypt: $(ratio "${R[sign_encrypt_dkim,e2e_rate]}" "${R[sign_encrypt,e2e_rate]}")x (goal: >= 0.95x)"
echo
LAYERS=$(cd "$BUILD" && pwd)/tests/smime_layers
[ -x "$LAYERS" ] || { echo "bench/smime: no $LAYERS (make first)" >&2; exit 1; }
# A local clamd for the decrypt+scan line: a database of one made-up signature (nothing is
# downloaded; the bench message is clean, so every scan streams the whole message and gets OK).
CLAMD=$(command -v clamd || echo /usr/sbin/clamd)
BENCH_CLAMD=""
if [ -x "$CLAMD" ]; then
  mkdir -p "$WORK/clamd/db"
  echo "0123456789abcdef0123456789abcdef:68:Sealgate-Bench-Nothing" > "$WORK/clamd/db/bench.hdb"
  printf 'LocalSocket %s\nDatabaseDirectory %s\nForeground yes\nLogFile %s\n' \
    "$WORK/clamd/clamd.sock" "$WORK/clamd/db" "$WORK/clamd/clamd.log" > "$WORK/clamd/clamd.conf"
  "$CLAMD" -c "$WORK/clamd/clamd.conf" >/dev/null 2>&1 & CLAMD_PID=$!
  trap 'kill "$CLAMD_PID" 2>/dev/null; cleanup' EXIT
  for _ in $(seq 600); do
    $PY -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect(sys.argv[1]); s.sendall(b'zPING\0'); sys.exit(s.recv(16) != b'PONG\0')" \
      "$WORK/clamd/clamd.sock" 2>/dev/null && { BENCH_CLAMD="unix:$WORK/clamd/clamd.sock"; break; }
    sleep 0.2
  done
fi
[ -n "$BENCH_CLAMD" ] || echo "bench/smime: no clamd answering; the decrypt+scan line is left out" >&2
BENCH_CLAMD=$BENCH_CLAMD "$LAYERS" "${BENCH_SMIME_LAYERS:-40}"
# Where the DKIM phase's extra time goes, in process (bench/smime/dkim_sign.c).
echo
"$(dirname "$LAYERS")/dkim_sign" "${BENCH_SMIME_DKIM:-100}"
# The private-key operations through the key process (bench/smime/keyd_ops.c).
echo
"$(dirname "$LAYERS")/keyd_ops" "${BENCH_SMIME_KEYD:-40}"
