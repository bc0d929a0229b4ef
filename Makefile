# make lab   — set everything up and open JupyterLab on notebooks/ (the main job)
# make test  — set everything up and run the whole test suite (what CI runs)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup lab test lint bench

setup:
	bash scripts/setup.sh

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint:
	$(BIN)/ruff check agentic_nb tests bench
	$(BIN)/ruff format --check agentic_nb tests bench
	$(BIN)/mypy

test: setup lint
	$(BIN)/pytest -q -p no:cacheprovider --doctest-modules agentic_nb tests
	$(BIN)/pytest -q -p no:cacheprovider --nbval-lax notebooks

bench: setup
	$(BIN)/python bench/compare.py
