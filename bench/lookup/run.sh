#!/usr/bin/env bash
# bench/lookup/run.sh BUILD_DIR: what key discovery costs (issue 26). Outbound S/MIME, 10 clients,
# 100 KB messages to one RSA-3072 partner, end to end into a sink, by two instances in the same
# run, in alternating rounds: "off" holds the partner's certificate imported (policy.key_lookup =
# off), "warm" has none and finds it in a local slapd (policy.key_lookup = ldap) once, then in
# its lookup cache for every later message. Then cold lookups per second: `sealgate lookup`
# against the slapd, one process each (process start and trust-anchor loading included).
# Everything on 127.0.0.1; every server is stopped on exit.
set -euo pipefail
BUILD=${1:?usage: bench/lookup/run.sh BUILD_DIR}
NAME=lookup
COUNT=${BENCH_LOOKUP_COUNT:-1200}
ROUNDS=${BENCH_ROUNDS:-6}
SIZE=102400
source "$(dirname "$0")/../lib/gateway.sh"
SLAPD_PORT=$(free_port)
$PY "$ROOT/tests/integration/slapd_rig.py" start "$WORK" "$SLAPD_PORT" >/dev/null
slapd_stop() { $PY "$ROOT/tests/integration/slapd_rig.py" stop "$WORK" 2>/dev/null || true; }
WARM_PID=""
# set +e first: stop_gateway's last kill fails when the group is gone, and must not end the trap
finish() { set +e; stop_gateway "$WARM_PID"; slapd_stop; cleanup; }
trap finish EXIT

# The partner: a CA of its own (trusted by both instances) and sink@remote.test under it.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/pca.key" -out "$WORK/pca.crt" -days 30 \
  -subj "/CN=Partner CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:3072 -nodes -keyout "$WORK/sink.key" -out "$WORK/sink.csr" \
  -subj "/CN=Sink" 2>/dev/null
printf 'subjectAltName=email:sink@remote.test\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\n' > "$WORK/sink.ext"
openssl x509 -req -in "$WORK/sink.csr" -CA "$WORK/pca.crt" -CAkey "$WORK/pca.key" -CAcreateserial \
  -out "$WORK/sink.crt" -days 30 -extfile "$WORK/sink.ext" 2>/dev/null
DER=$(openssl x509 -in "$WORK/sink.crt" -outform DER | base64 -w0)
printf 'dn: ou=cadir,dc=example,dc=com\nchangetype: add\nobjectClass: organizationalUnit\nou: cadir\n\ndn: cn=sink,ou=cadir,dc=example,dc=com\nchangetype: add\nobjectClass: inetOrgPerson\ncn: sink\nsn: sink\nmail: sink@remote.test\nuserCertificate;binary:: %s\n' "$DER" |
  LDAPTLS_CACERT="$WORK/slapd/ca.crt" ldapmodify -x -ZZ -H "ldap://127.0.0.1:$SLAPD_PORT" \
    -D cn=admin,dc=example,dc=com -w adminpw >/dev/null

"$BIN" ca trust -c "$CONF" "$WORK/pca.crt" >/dev/null
set_key policy.sign_outbound no
# "warm": a copy before the import, asking the directory
cp -a "$WORK/gw" "$WORK/gw-warm"
WCONF=$WORK/gw-warm/sealgate.conf; WARM_PORT=$(free_port)
for kv in "smtp.listen 127.0.0.1:$WARM_PORT" "ldap.listen 127.0.0.1:$(free_port)" \
          "portal.listen 127.0.0.1:$(free_port)" "policy.key_lookup ldap" \
          "lookup.ldap ldap://127.0.0.1:$SLAPD_PORT/ou=cadir,dc=example,dc=com"; do
  "$BIN" config set -c "$WCONF" ${kv%% *} "${kv#* }" >/dev/null
done
"$BIN" cert import -c "$CONF" sink@remote.test "$WORK/sink.crt" >/dev/null
WARM_PID=$(launch "$WCONF" "$WORK/sealgate-warm.log" "$WARM_PORT")
start_gateway
for port in "$GW_PORT" "$WARM_PORT"; do
  SMTPLOAD_SUBJECT="[secure] warm" "$WORK/smtpload" warm "$port" 2 20 "$SIZE" "$SINK_PORT" >/dev/null
done
grep -q "key lookup <sink@remote.test> ldap: found" "$WORK/sealgate-warm.log" ||
  { echo "bench/lookup: the directory's certificate was not found" >&2; tail "$WORK/sealgate-warm.log" >&2; exit 1; }

echo "bench/lookup: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); $COUNT x 100 KB, $CLIENTS clients, $ROUNDS rounds, RSA-3072 recipient"
declare -A SECS OK
for ((r = 0; r < ROUNDS; r++)); do
  n=$((COUNT / ROUNDS))
  for i in 0 1; do
    ph=$([ $(((i + r) % 2)) -eq 0 ] && echo off || echo warm)
    port=$([ "$ph" = off ] && echo "$GW_PORT" || echo "$WARM_PORT")
    line=$(SMTPLOAD_SUBJECT="[secure] bench" "$WORK/smtpload" "$ph" "$port" "$CLIENTS" "$n" "$SIZE" "$SINK_PORT")
    echo "  round $((r + 1)): $line"
    declare -A one=()
    for kv in ${line#RESULT }; do one[${kv%%=*}]=${kv#*=}; done
    SECS[$ph]=$($PY -c "print(${SECS[$ph]:-0} + ${one[e2e_secs]})")
    OK[$ph]=$((${OK[$ph]:-0} + ${one[ok]}))
  done
done
lookups=$(grep -c "key lookup <sink@remote.test>" "$WORK/sealgate-warm.log" || true)
[ "$lookups" = 1 ] || { echo "bench/lookup: $lookups lookups, expected 1 (the cache)" >&2; exit 1; }
grep -q "encrypted to a discovered certificate" "$WORK/sealgate-warm.log" ||
  { echo "bench/lookup: the warm instance did not use the discovered certificate" >&2; exit 1; }

N=${BENCH_LOOKUP_COLD:-50}; t0=$(date +%s.%N)
for _ in $(seq "$N"); do
  "$BIN" lookup -c "$WCONF" sink@remote.test --source ldap | grep -q "^ldap  found" ||
    { echo "bench/lookup: a cold lookup found nothing" >&2; exit 1; }
done
t1=$(date +%s.%N)
rate() { $PY -c "s=${SECS[$1]}; print(f'{${OK[$1]}/s:.1f}' if s > 0 else '-1')"; }
echo
printf '%-52s %10s\n' "Key discovery benchmark (100 KB, S/MIME)" "msg/s e2e"
printf '%-52s %10s\n' "discovery off, certificate imported" "$(rate off)"
printf '%-52s %10s\n' "discovery on (ldap), certificate from the warm cache" "$(rate warm)"
echo "warm cache vs off: $($PY -c "a,b=${OK[warm]}/${SECS[warm]},${OK[off]}/${SECS[off]}; print(f'{a/b:.2f}')")x (goal: >= 0.95x)"
echo "cold lookups (sealgate lookup --source ldap, one process each): $($PY -c "print(f'{$N/($t1-$t0):.1f}')")/s"
