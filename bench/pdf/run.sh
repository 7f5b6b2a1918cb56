#!/usr/bin/env bash
# bench/pdf/run.sh BUILD_DIR: SecurePDF through the whole SMTP path, for the two messages of
# issue 5: (a) a 10 KB body + a 100 KB attachment, (b) a 100 KB body + a 5 MB attachment.
# CLIENTS clients send each message to one registered partner, once untagged (plain
# pass-through, the baseline) and once tagged [secure] (render in an isolated worker, AES-256,
# wrapper mail), end to end into a sink. Reports PDFs per second and the peak RSS of the PDF
# workers (the "pdf: worker ... peak RSS" lines pdf_isolate.c logs from wait4()). Everything on
# 127.0.0.1; every server is stopped on exit.
set -euo pipefail
BUILD=${1:?usage: bench/pdf/run.sh BUILD_DIR}
NAME=pdf
COUNT_A=${BENCH_PDF_COUNT:-200}       # (a) 10 KB + 100 KB
COUNT_B=${BENCH_PDF_LARGE_COUNT:-30}  # (b) 100 KB + 5 MB
source "$(dirname "$0")/../lib/gateway.sh"

# The four prepared messages: NAME BODY_BYTES ATTACHMENT_BYTES, plain and tagged. The body is
# prose with spaces (the common case, not the 2 MB-line worst case); the attachment is random,
# so it neither compresses nor gets cheaper than a real file.
make_message() { "$PY" "$ROOT/bench/lib/make_message.py" "$@"; } # FILE SUBJECT BODY ATTACHMENT
for c in "a 10240 102400" "b 102400 5242880"; do
  set -- $c
  make_message "$WORK/$1-pass.eml" "bench $1" "$2" "$3"
  make_message "$WORK/$1-pdf.eml" "[secure] bench $1" "$2" "$3"
done

echo "a long bench passphrase" | "$BIN" user add-external -c "$CONF" sink@remote.test --password-stdin >/dev/null

LOG=$WORK/sealgate.log
start_gateway
"$WORK/smtpload" warm "$GW_PORT" 2 20 10240 "$SINK_PORT" >/dev/null
SMTPLOAD_MESSAGE="$WORK/a-pdf.eml" "$WORK/smtpload" warm "$GW_PORT" 2 4 1 "$SINK_PORT" >/dev/null

declare -A R
run() { # NAME FILE COUNT: sends COUNT copies of FILE; for a PDF run also reads the worker lines
  local line from
  from=$(($(wc -l <"$LOG") + 1))
  line=$(SMTPLOAD_MESSAGE="$2" "$WORK/smtpload" "$1" "$GW_PORT" "$CLIENTS" "$3" 1 "$SINK_PORT")
  echo "  $line"
  for kv in ${line#RESULT }; do R["$1,${kv%%=*}"]=${kv#*=}; done
  case $1 in *pdf*) ;; *) return 0 ;; esac
  tail -n +"$from" "$LOG" >"$WORK/$1.log"
  local pdfs rss_max rss_med cpu_med
  pdfs=$(grep -c "SecurePDF for" "$WORK/$1.log" || true)
  [ "$pdfs" -ge "$3" ] || { echo "bench/pdf: $1: $3 sent but only $pdfs PDFs made" >&2; exit 1; }
  # Peak RSS over the workers of this run: the largest, and the median.
  read -r rss_max rss_med cpu_med < <(
    sed -n 's/.*pdf: worker [0-9]* ended, peak RSS \([0-9]*\) KB, CPU \([0-9.]*\) s.*/\1 \2/p' \
      "$WORK/$1.log" | $PY -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
rss = [int(r[0]) for r in rows]; cpu = [float(r[1]) for r in rows]
print(f"{max(rss)/1024:.1f} {statistics.median(rss)/1024:.1f} {statistics.median(cpu)*1000:.0f}"
      if rows else "n/a n/a n/a")')
  R["$1,rss_max"]=$rss_max R["$1,rss_med"]=$rss_med R["$1,cpu_med"]=$cpu_med
}

echo "bench/pdf: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); $CLIENTS clients"
echo "(a) 10 KB body + 100 KB attachment, $COUNT_A messages"
run pass-a "$WORK/a-pass.eml" "$COUNT_A"
run pdf-a "$WORK/a-pdf.eml" "$COUNT_A"
echo "(b) 100 KB body + 5 MB attachment, $COUNT_B messages"
run pass-b "$WORK/b-pass.eml" "$COUNT_B"
run pdf-b "$WORK/b-pdf.eml" "$COUNT_B"

ratio() { $PY -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if a>0 and b>0 else 'n/a')" "$1" "$2"; }
echo
printf '%-36s %10s %9s %13s %13s %11s\n' "SecurePDF benchmark" "msg/s e2e" "vs pass" \
  "worker RSS max" "worker RSS p50" "worker CPU p50"
for c in a b; do
  printf '%-36s %10s %9s %13s %13s %11s\n' "($c) sealgate pass-through" "${R[pass-$c,e2e_rate]}" "1.00" "" "" ""
  printf '%-36s %10s %9s %13s %13s %11s\n' "($c) sealgate SecurePDF (PDFs/s)" "${R[pdf-$c,e2e_rate]}" \
    "$(ratio "${R[pdf-$c,e2e_rate]}" "${R[pass-$c,e2e_rate]}")" "${R[pdf-$c,rss_max]} MB" \
    "${R[pdf-$c,rss_med]} MB" "${R[pdf-$c,cpu_med]} ms"
done
