#!/usr/bin/env bash
# Runs every libFuzzer harness for a few seconds on its seed corpus (make check) or longer
# (make fuzz). New inputs go to a scratch corpus; crashes land in tests/fuzz/artifacts/.
set -euo pipefail
build=$1; seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/artifacts"
n=0
for bin in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  seeds="$here/corpus/$name"
  work=$(mktemp -d)
  echo "fuzz: $name for ${seconds}s"
  ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -artifact_prefix="$here/artifacts/$name-" -print_final_stats=0 "$work" "$seeds" \
    > "$work.log" 2>&1 || { tail -40 "$work.log"; rm -rf "$work" "$work.log"; exit 1; }
  grep -E '^(#[0-9]+.*DONE|Done)' "$work.log" | tail -1 || true
  rm -rf "$work" "$work.log"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "fuzz: no harness built"; exit 1; }
echo "fuzz: $n harnesses ran without a crash"
