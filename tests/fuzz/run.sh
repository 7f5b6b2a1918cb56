#!/usr/bin/env bash
# Runs every libFuzzer harness of a fuzz build.
#   run.sh BUILD check  -- make check: deterministic. Replays every input of tests/fuzz/corpus/<name>/
#                          (seeds and regression inputs: a leak or crash fails), then fuzzes for a
#                          fixed number of runs with a fixed seed. Same tree, same result.
#   run.sh BUILD SECONDS -- make fuzz: open-ended, random seed. Add what it finds to the corpus,
#                          and fix it.
# Nothing is written to the source tree: new inputs go to a scratch corpus, crash and leak
# reproducers to $FUZZ_ARTIFACTS (default BUILD/fuzz-artifacts/).
set -euo pipefail
build=$1; mode=$2
here=$(cd "$(dirname "$0")" && pwd)
artifacts=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
runs=${FUZZ_RUNS:-3000}
seed=${FUZZ_SEED:-1}
mkdir -p "$artifacts"
export ASAN_OPTIONS=detect_leaks=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

fail() {  # name log what
  tail -40 "$2"
  echo "fuzz: $1 FAILED ($3); reproducers under $artifacts/ (or the corpus file named above)."
  echo "      Replay with the whole stack: ASAN_OPTIONS=fast_unwind_on_malloc=0 $bin FILE"
  exit 1
}

# Each input once, in a process of its own per batch: LeakSanitizer checks at every exit.
replay() {  # bin name seeds log
  [ -d "$3" ] || { echo "fuzz: $2 has no seed corpus in $3"; exit 1; }
  find "$3" -type f ! -name README -print0 | sort -z |
    xargs -0 -r -n 64 "$1" -timeout=60 -rss_limit_mb=2048 > "$4" 2>&1
}

n=0
for bin in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  seeds="$here/corpus/$name"
  log="$scratch/$name.log"
  work="$scratch/$name.corpus"
  mkdir -p "$work"
  # -timeout is wall clock: generous, so that a loaded machine does not fail a deterministic run
  opts=(-max_len=65536 -timeout=60 -rss_limit_mb=2048 -artifact_prefix="$artifacts/$name-"
        -print_final_stats=1)
  if [ "$mode" = check ]; then
    replay "$bin" "$name" "$seeds" "$log" || fail "$name" "$log" "a corpus input"
    nseeds=$(find "$seeds" -type f ! -name README | wc -l)
    "$bin" "${opts[@]}" -seed="$seed" -runs="$runs" "$work" "$seeds" > "$log" 2>&1 ||
      fail "$name" "$log" "seed $seed, $runs runs"
    echo "fuzz: $name: $nseeds corpus inputs replayed, $runs runs with seed $seed:" \
         "$(grep -oE 'DONE +cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | sed 's/DONE *//')"
  else
    "$bin" "${opts[@]}" -max_total_time="$mode" "$work" "$seeds" > "$log" 2>&1 ||
      fail "$name" "$log" "random fuzzing for ${mode}s"
    echo "fuzz: $name for ${mode}s: $(ls "$work" | wc -l) new inputs in $work (kept: copy them to $seeds/)"
    trap - EXIT
  fi
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "fuzz: no harness built in $build/tests/fuzz"; exit 1; }
echo "fuzz: $n harnesses ran without a crash or leak"
