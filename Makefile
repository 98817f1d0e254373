# loginload: `make run` serves the mock IdP (the main job until the load runner lands); `make test` runs
# lint, types and the test suite. Each creates the virtual environment it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/loginload idp

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check mock_idp loadtests reports tests benchmarks
	$(BIN)/ruff format --check mock_idp loadtests reports tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.idp_cpu

clean:
	rm -rf $(VENV) .loginload .pytest_cache .mypy_cache .ruff_cache
