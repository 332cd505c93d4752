# Two set-up commands, each working from a clean clone:
#   make quickstart   train the offline quickstart (scikit-learn digits) and write samples
#   make test         run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Tests read MNIST from ../shared/data when it is there (the project's CI layout).
export GANKIT_DATA_DIR ?= $(if $(wildcard ../shared/data/mnist),$(abspath ../shared/data),)

.PHONY: quickstart test lint

$(BIN)/gankit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

quickstart: $(BIN)/gankit
	$(BIN)/gankit train --preset quickstart

test: $(BIN)/gankit
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(BIN)/gankit
	$(BIN)/ruff check src tests benchmarks
