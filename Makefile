# make lab   — set everything up and open JupyterLab on notebooks/ (the main job)
# make test  — set everything up and run the whole test suite (what CI runs)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup lab test lint bench

setup:
	bash scripts/setup.sh

# Root (the usual case in containers) needs --allow-root. The shipped notebooks keep their
# graph pictures (SVG) but no widget outputs; SVG only renders in a trusted notebook, so the
# notebooks are trusted (signed in this user's Jupyter data dir) before JupyterLab opens.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	$(BIN)/jupyter trust notebooks/*.ipynb
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT)

lint:
	$(BIN)/ruff check agentic_nb tests bench
	$(BIN)/ruff format --check agentic_nb tests bench
	$(BIN)/mypy

test: setup lint
	$(BIN)/pytest -q -p no:cacheprovider --doctest-modules agentic_nb tests
	$(BIN)/pytest -q -p no:cacheprovider --nbval-lax notebooks

bench: setup
	$(BIN)/python bench/compare.py
