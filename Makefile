# Thin wrapper over CMake. `make demo` and `make check` work on a fresh Debian 12.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
PYTHON     := /usr/bin/python3
FUZZ_SECONDS ?= 300
# Integration test files run in parallel (pytest-xdist); each worker has its own ports and dirs.
TEST_JOBS  ?= $(shell nproc)

.PHONY: all asan browser fuzz-build deps check-deps demo demo-cluster check unit unit-asan unit-valgrind integration integration-pgsql fuzz-smoke fuzz bench lint docs \
        check-docs clean deb check-deb

all:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/deps.sh

# Proves that the packages of deps.sh provide everything the tests, demo and benchmarks use.
check-deps:
	@tools/check-deps.sh

demo: deps all
	@scripts/demo.sh

# Two nodes on a private PostgreSQL in ./demo-cluster (docs/cluster.md).
demo-cluster: deps all
	@scripts/demo-cluster.sh

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSEALGATE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

unit: all
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --no-tests=error

unit-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -j $(JOBS) --output-on-failure --no-tests=error

# valgrind over the unit tests of the normal build (STYLE.md habit 15).
unit-valgrind: all
	cd $(BUILD) && ctest -j $(JOBS) --no-tests=error --output-on-failure -T memcheck \
	  --overwrite MemoryCheckCommandOptions="--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$(CURDIR)/tests/valgrind.supp" \
	  >/dev/null || { echo "valgrind found errors: see $(BUILD)/Testing/Temporary/MemoryChecker.*.log"; exit 1; }
	@echo "valgrind: unit tests clean"

# Integration tests drive the ASan+UBSan binary, so every real-peer path runs sanitized.
integration: asan
	SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate $(PYTHON) -m pytest -q -n $(TEST_JOBS) tests/integration

# The whole integration suite once more with the store on PostgreSQL (a private server per
# pytest worker, tests/integration/pg_rig.py), on the release binary: the ASan run above covers
# the code paths both engines share.
integration-pgsql: all
	SEALGATE_STORE=pgsql SEALGATE_BIN=$(CURDIR)/$(BUILD)/sealgate $(PYTHON) -m pytest -q -n $(TEST_JOBS) tests/integration

# The portal in headless Chromium (playwright-core), against the ASan+UBSan binary.
browser: asan
	cd tests/browser && npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund
	cd tests/browser && SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate node run.js
	cd tests/browser && SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate node flow.js
	cd tests/browser && SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate node employee.js
	cd tests/browser && SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate node enrolment.js
	cd tests/browser && SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate node webmail.js

fuzz-build:
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSEALGATE_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

# Deterministic: replays every corpus input, then a fixed number of runs with a fixed seed.
fuzz-smoke: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) check

# Open-ended, random: what it finds becomes a corpus file and a fix.
fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# docs/configuration.md, the man pages docs/man/ and the README's command table are generated
# from the settings and command tables (tools/gen-docs.sh); check-docs fails when one is stale.
check-docs: all
	@tools/gen-docs.sh $(BUILD) --check

docs: all
	tools/gen-docs.sh $(BUILD)

# Every stage, timed (tools/check.sh): the times and the tests that did not run are printed at
# the end; under CI=true a test that did not run fails the check.
check: deps
	@MAKE="$(MAKE)" BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) tools/check.sh

# The Debian package (tools/make-deb.sh) and its checks: lintian, the files and their modes,
# the maintainer scripts in a throwaway root, the unit's hardening (tools/check-deb.sh).
deb:
	@tools/make-deb.sh $(BUILD)

check-deb: deb
	@tools/check-deb.sh $(BUILD)

bench: deps all
	@bench/run.sh $(BUILD)
	@bench/relay/run.sh $(BUILD)
	@bench/smime/run.sh $(BUILD)
	@bench/lookup/run.sh $(BUILD)
	@bench/pgp/run.sh $(BUILD)
	@bench/pdf/run.sh $(BUILD)
	@bench/portal/run.sh $(BUILD)
	@bench/webmail/pages.sh $(BUILD)
	@bench/directory/run.sh $(BUILD)
	@bench/webmail/run.sh $(BUILD)

lint: all
	tools/lint.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
