# loginload: `make run` ramps the population 500k -> 60m against the embedded mock IdP and writes a
# report; `make test` runs lint, types and the test suite. Each creates the virtual environment it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run idp test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/loginload run

idp: $(STAMP)
	$(BIN)/loginload idp

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check mock_idp loadtests reports loginload tests benchmarks
	$(BIN)/ruff format --check mock_idp loadtests reports loginload tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.idp_cpu
	$(BIN)/python -m benchmarks.generator_cpu

clean:
	rm -rf $(VENV) .loginload results .pytest_cache .mypy_cache .ruff_cache
