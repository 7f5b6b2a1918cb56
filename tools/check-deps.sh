#!/usr/bin/env bash
# Fails, naming the package to add, when the tests, the demo or the benchmarks use an executable,
# a font or a Python module that no package of scripts/deps.sh (or its Depends) provides, or
# when a tool lacks an optional part (swaks without STARTTLS). See tools/check-deps.py.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/check-deps.py" "$@"
