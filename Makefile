# Everyday tasks. `make serve` and `make test` are the README's two commands.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup setup-test serve test test-fast lint bench demo

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(FONT)

# Printed maps embed a TrueType conversion of the bundled CJK font, made once (~40 s).
FONT = $(BIN)/python -c "from geo.fonts import cjk_font_path; cjk_font_path()"

setup-test: $(BIN)/python
	bash .ci/system-packages
	$(BIN)/pip install --quiet -e '.[test]'
	$(FONT)

serve: setup
	$(BIN)/hehu serve

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# After each change: every test but the slow (papers, PostGIS, servers, fuzzing) and the
# browser ones, in under a minute; `make test` before a merge. Needs `make setup-test` once.
test-fast:
	$(BIN)/python -m pytest -q -m "not slow and not browser"

lint: setup-test
	$(BIN)/ruff check .

bench: setup-test
	$(BIN)/pip install --quiet -e '.[bench]'
	@echo 'run one: $(BIN)/python -m bench.query | bench.server | bench.map | bench.export_print | bench.quality'

demo: setup
	$(BIN)/hehu demo --out data/jintan.gpkg
