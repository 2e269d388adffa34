# petro: one entry point for every chore. `make help` lists the targets.
# The commands the README shows are these targets, and .ci/run calls them too.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
# Build cache outside the clone (reused when present, never required).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/petro/target

.DEFAULT_GOAL := help
.PHONY: help install dev example test test-rust lint format bench-deps bench bench-quick soak clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: ## Build the Rust core and install petro into the current Python
	$(PIP) install --quiet --disable-pip-version-check .

dev: ## Install petro with the test and lint tools
	$(PIP) install --quiet --disable-pip-version-check ".[test]"

example: install ## Run the main example against the built-in emulator
	$(PYTHON) examples/quickstart.py

test: dev test-rust ## Run the whole test suite (Rust unit tests, then pytest)
	$(PYTHON) -m pytest -q

test-rust: ## Run the Rust unit tests (the core's, then the glue's pure parts)
	cargo test --quiet
	cargo test --quiet --features python --lib python::

lint: ## cargo fmt --check, clippy -D warnings, ruff
	cargo fmt --check
	cargo clippy --quiet --all-targets --features python -- -D warnings
	$(PYTHON) -m ruff check python tests examples benchmarks tools
	$(PYTHON) -m ruff format --check python tests examples benchmarks tools

format: ## Format Rust and Python code
	cargo fmt
	$(PYTHON) -m ruff format python tests examples benchmarks tools
	$(PYTHON) -m ruff check --fix python tests examples benchmarks tools

bench-deps: ## Install petro in release mode and the pinned peers for the benchmark
	URLLIB3_NO_OVERRIDE=1 $(PIP) install --quiet --disable-pip-version-check -r benchmarks/requirements.txt
	rm -rf $(CARGO_TARGET_DIR)/bench-wheels
	$(PYTHON) -m maturin build --release --quiet -o $(CARGO_TARGET_DIR)/bench-wheels
	$(PIP) install --quiet --disable-pip-version-check --force-reinstall --no-deps $(CARGO_TARGET_DIR)/bench-wheels/petro-*.whl

bench: bench-deps ## Full side-by-side benchmark (results in benchmarks/results/)
	$(PYTHON) benchmarks/run.py

bench-quick: bench-deps ## Quick benchmark profile (about a minute)
	$(PYTHON) benchmarks/run.py --quick

soak: install ## The long soak: 1,000,000 requests over 32 threads (not run in CI)
	$(PYTHON) tools/soak.py --requests 1000000 --threads 32

clean: ## Remove build output
	rm -rf dist build .pytest_cache .ruff_cache
