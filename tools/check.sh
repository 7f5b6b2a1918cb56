#!/usr/bin/env bash
# `make check`: every stage in order, each timed. A build stage that fails stops the run; a test
# stage that fails is reported and the others still run, so one run shows every failure. At the
# end: each stage's time, and one loud line for the tests that did not run (under CI=true a test
# that did not run fails the check: a skip is never silent).
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
export SG_SKIP_LOG=$PWD/$BUILD/check-skips.txt
mkdir -p "$BUILD"
: > "$SG_SKIP_LOG"
times=()
failed=()
start_all=$(date +%s)

stage() {  # stage NAME KIND(build|test) COMMAND...
  local name=$1 kind=$2 t0 rc
  shift 2
  echo "==== $name"
  t0=$(date +%s)
  "$@"
  rc=$?
  times+=("$(printf '%-16s %5ss  %s' "$name" "$(($(date +%s) - t0))" "$([ $rc -eq 0 ] && echo ok || echo FAILED)")")
  if [ $rc -ne 0 ]; then
    failed+=("$name")
    [ "$kind" = build ] && finish
  fi
}

# cmocka prints "[  SKIPPED ] name" per skipped test (and again in its summary); ctest keeps
# every test's output in LastTest.log.
ctest_skips() {  # BUILD_DIR STAGE
  local log=$1/Testing/Temporary/LastTest.log
  [ -f "$log" ] || return 0
  awk -v stage="$2" '/^[0-9]+\/[0-9]+ Testing: / {t = $3}
    /^\[  SKIPPED \] [A-Za-z_0-9]+$/ {k = t ": " $4; if (!(k in seen)) {seen[k]; print stage ": " k}}' \
    "$log" >> "$SG_SKIP_LOG"
}

finish() {
  echo
  echo "==== make check: stage times"
  printf '  %s\n' "${times[@]}"
  printf '  %-16s %5ss\n' total "$(($(date +%s) - start_all))"
  local nskip
  nskip=$(sort -u "$SG_SKIP_LOG" | grep -c . || true)
  if [ "$nskip" -gt 0 ]; then
    echo
    echo "!!!! $nskip TESTS DID NOT RUN (they are not passes; $SG_SKIP_LOG):"
    sort -u "$SG_SKIP_LOG" | sed 's/^/!!!!   /'
    if [ "${CI:-}" = true ]; then
      failed+=("tests that did not run under CI")
    fi
  fi
  if [ ${#failed[@]} -gt 0 ]; then
    echo "make check FAILED: ${failed[*]}"
    exit 1
  fi
  echo "make check passed"
  exit 0
}

stage check-deps  test  tools/check-deps.sh
stage build       build "$MAKE" --no-print-directory all asan fuzz-build
stage checksrc    test  tools/checksrc.sh
stage symbols     test  tools/check-symbols.sh "$BUILD"
stage docs        test  "$MAKE" --no-print-directory check-docs
stage unit        test  "$MAKE" --no-print-directory unit
ctest_skips "$BUILD" unit
stage unit-asan   test  "$MAKE" --no-print-directory unit-asan
ctest_skips "${ASAN_BUILD:-build-asan}" unit-asan
stage valgrind    test  "$MAKE" --no-print-directory unit-valgrind
stage fuzz        test  "$MAKE" --no-print-directory fuzz-smoke
stage integration test  "$MAKE" --no-print-directory integration
stage browser     test  "$MAKE" --no-print-directory browser
finish
