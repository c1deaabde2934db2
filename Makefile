# The two commands of the README: `make demo` and `make test`; `make docs` builds the documentation.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# Sphinx options of `make docs`: warnings are errors, as in tests/test_docs.py.
DOCS_OPTS ?= -W --keep-going

.PHONY: demo test docs install install-test install-docs lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A stamp per extra, so a second `make` does not reinstall.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-docs: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-docs: $(VENV)/.installed-docs

demo: install
	$(BIN)/kernelcollapse reproduce --quick

lint: install-test
	$(BIN)/ruff check .

test: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# HTML into docs/_build/html; the gallery's figures (size tiny) are cached in docs/_build/figures.
docs: install-docs
	$(BIN)/python -m sphinx $(DOCS_OPTS) -b html docs docs/_build/html

bench: install
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache docs/_build docs/api/generated
