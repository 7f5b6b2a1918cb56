# Thin wrapper over CMake. `make demo` and `make check` work on a fresh Debian 12.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
PYTHON     := /usr/bin/python3
FUZZ_SECONDS ?= 5

.PHONY: all asan browser fuzz-build deps demo check unit unit-asan unit-valgrind integration fuzz-smoke fuzz bench lint docs \
        check-docs clean

all:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/deps.sh

demo: deps all
	@scripts/demo.sh

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSEALGATE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

unit: all
	cd $(BUILD) && ctest --output-on-failure

unit-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure

# valgrind over the unit tests of the normal build (STYLE.md habit 15).
unit-valgrind: all
	cd $(BUILD) && ctest --output-on-failure -T memcheck \
	  --overwrite MemoryCheckCommandOptions="--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$(CURDIR)/tests/valgrind.supp" \
	  >/dev/null || { echo "valgrind found errors: see $(BUILD)/Testing/Temporary/MemoryChecker.*.log"; exit 1; }
	@echo "valgrind: unit tests clean"

# Integration tests drive the ASan+UBSan binary, so every real-peer path runs sanitized.
integration: asan
	SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate $(PYTHON) -m pytest -q tests/integration

# The portal in headless Chromium (playwright-core), against the ASan+UBSan binary.
browser: asan
	cd tests/browser && npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund
	cd tests/browser && SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate node run.js
	cd tests/browser && SEALGATE_BIN=$(CURDIR)/$(ASAN_BUILD)/sealgate node flow.js

fuzz-build:
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSEALGATE_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz-smoke: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) 300

check-docs: all
	@$(BUILD)/sealgate config docs > $(BUILD)/configuration.md
	@diff -u docs/configuration.md $(BUILD)/configuration.md || \
	  { echo "docs/configuration.md is stale: run 'make docs'"; exit 1; }

docs: all
	$(BUILD)/sealgate config docs > docs/configuration.md

check: deps all
	tools/checksrc.sh
	tools/check-symbols.sh $(BUILD)
	$(MAKE) --no-print-directory check-docs
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory unit-asan
	$(MAKE) --no-print-directory unit-valgrind
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory browser

bench: deps all
	@bench/run.sh $(BUILD)
	@bench/smime/run.sh $(BUILD)
	@bench/pgp/run.sh $(BUILD)
	@bench/pdf/run.sh $(BUILD)
	@bench/portal/run.sh $(BUILD)

lint: all
	tools/lint.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
