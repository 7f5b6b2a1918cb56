#!/usr/bin/env bash
# Static analysis: clang-tidy (function size and complexity budgets from .clang-tidy),
# cppcheck, and gcc -fanalyzer over the sources. Advisory findings are printed; the exit
# code is non-zero only for errors.
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
rc=0
srcs=$(find src -name '*.c' | sort)
echo "== clang-tidy"
clang-tidy -p "$build" --quiet $srcs 2>/dev/null | grep -E 'warning|error' || true
echo "== cppcheck"
cppcheck --quiet --enable=warning,performance,portability --inline-suppr \
  --suppress=missingIncludeSystem -I src $srcs || rc=1
echo "== gcc -fanalyzer"
for f in $srcs; do
  gcc -std=c17 -D_GNU_SOURCE -DSEALGATE_VERSION='"lint"' -fanalyzer -fsyntax-only -I src \
    $(pkg-config --cflags gmime-3.0 openssl libsodium sqlite3 inih) "$f" 2>&1 | grep -E 'warning|error' || true
done
exit $rc
