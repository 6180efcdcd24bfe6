# Everyday tasks. `make serve` and `make test` are the README's two commands.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup setup-test serve test lint bench demo

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e .

setup-test: $(BIN)/python
	bash .ci/system-packages
	$(BIN)/pip install --quiet -e '.[test]'

serve: setup
	$(BIN)/hehu serve

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: setup-test
	$(BIN)/ruff check .

bench: setup-test
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench

demo: setup
	$(BIN)/hehu demo --out data/jintan.gpkg
