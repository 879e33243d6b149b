# memvault: `make serve` runs the embedded default, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: serve test lint typecheck unit bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e . -e clients/python
	touch $@

$(VENV)/.installed-dev: pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]' -e clients/python
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## serve: create the venv, install, migrate the embedded SQLite database, serve on 127.0.0.1:8000
serve: install
	$(BIN)/memvault db upgrade
	$(BIN)/memvault serve --no-migrate

## test: install the dev extras, lint, type-check, check the import contracts, run every test
## (two pytest-xdist workers taking whole modules, slow ones first: tests/conftest.py)
test: install-dev lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadgroup --no-loadscope-reorder --durations=25

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest -q tests/unit

## bench: every benchmark, each printing ratios against a baseline measured in the same run
bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
