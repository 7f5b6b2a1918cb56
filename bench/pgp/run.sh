#!/usr/bin/env bash
# bench/pgp/run.sh BUILD_DIR: OpenPGP through the whole SMTP path. 10 clients send 100 KB
# messages to one RSA-3072 OpenPGP recipient: plain pass-through, encrypt only, and
# sign+encrypt (Ed25519 gateway-held sender key), in the same run, end to end into a sink;
# and, for scale, a loop of `gpg --encrypt` processes on the same message (what gateways that
# drive gpg pay per message). Everything on 127.0.0.1; every server is stopped on exit.
set -euo pipefail
BUILD=${1:?usage: bench/pgp/run.sh BUILD_DIR}
NAME=pgp
COUNT=${BENCH_PGP_COUNT:-1800}
SIZE=102400
source "$(dirname "$0")/../lib/gateway.sh"
# The recipient: an RSA-3072 key made by gpg; the sender: a gateway-held key.
export GNUPGHOME=$WORK/gnupg; mkdir -m700 "$GNUPGHOME"
gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key sink@remote.test rsa3072 sign,cert never 2>/dev/null
FPR=$(gpg --with-colons --list-keys sink@remote.test | awk -F: '/^fpr:/{print $10; exit}')
gpg --batch --pinentry-mode loopback --passphrase '' --quick-add-key "$FPR" rsa3072 encr never 2>/dev/null
gpg --batch --export --armor sink@remote.test > "$WORK/sink.asc"
"$BIN" pgp import -c "$CONF" "$WORK/sink.asc" >/dev/null
"$BIN" pgp generate -c "$CONF" bench@example.com >/dev/null

start_signing_twin
start_gateway
SMTPLOAD_SUBJECT="[secure] warm" "$WORK/smtpload" warm "$GW_PORT" 2 20 "$SIZE" "$SINK_PORT" >/dev/null

echo "bench/pgp: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); $COUNT x 100 KB, $CLIENTS clients, ${BENCH_ROUNDS:-6} rounds, RSA-3072 recipient"
run_phases "$COUNT"
grep -q "PGP/MIME encrypted" "$WORK/sealgate.log" || { echo "bench/pgp: nothing was encrypted" >&2; exit 1; }
grep -q "PGP/MIME encrypted.*, signed" "$WORK/sealgate-sign.log" || { echo "bench/pgp: nothing was signed" >&2; exit 1; }

# For scale: one `gpg --encrypt` process per message.
head -c "$SIZE" /dev/urandom | base64 > "$WORK/msg.txt"
N=50; t0=$(date +%s.%N)
for _ in $(seq $N); do gpg --batch --trust-model always -e -r sink@remote.test -o - "$WORK/msg.txt" > /dev/null 2>&1; done
t1=$(date +%s.%N)
OPENSSL_RATE=$($PY -c "print(f'{$N/($t1-$t0):.0f}')")
gpgconf --kill all

ratio() { $PY -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if a>0 and b>0 else 'n/a')" "$1" "$2"; }
echo
printf '%-40s %12s %14s\n' "OpenPGP benchmark (100 KB)" "msg/s e2e" "vs pass"
for k in pass encrypt sign_encrypt; do
  printf '%-40s %12s %14s\n' "sealgate $k" "${R[$k,e2e_rate]}" "$(ratio "${R[$k,e2e_rate]}" "${R[pass,e2e_rate]}")"
done
printf '%-40s %12s %14s\n' "gpg --encrypt, one process each" "$OPENSSL_RATE" "$(ratio "$OPENSSL_RATE" "${R[pass,e2e_rate]}")"
echo "(goals, issue 19: encrypt >= 0.9x and sign+encrypt >= 0.8x pass-through, same run)"
SIGN_MS=$($PY -c "print(f'{1000/${R[sign_encrypt,e2e_rate]}:.1f}')")
echo "sign+encrypt: ${SIGN_MS} ms per message end to end; reference: Python PGP gateways ~140 ms (goal: 50x their throughput)"
