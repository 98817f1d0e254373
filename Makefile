# loginload: `make run` ramps the population 500k -> 60m against the embedded mock IdP and writes a
# report; `make test` installs what the suite needs beyond Python (scripts/test-deps.sh: redis-server,
# chromium; or stops with one line saying what to install), then runs lint, types and the test suite.
# Each creates the virtual environment it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run idp test deps lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/loginload run

idp: $(STAMP)
	$(BIN)/loginload idp

test: deps
	@$(MAKE) --no-print-directory lint typecheck pytest

deps:
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/test-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check mock_idp loadtests reports loginload tests benchmarks examples scripts
	$(BIN)/ruff format --check mock_idp loadtests reports loginload tests benchmarks examples scripts

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --follow-imports=silent scripts/deploy_state.py tests/deploy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.idp_cpu
	$(BIN)/python -m benchmarks.generator_cpu

clean:
	rm -rf $(VENV) .loginload results .pytest_cache .mypy_cache .ruff_cache
