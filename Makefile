# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
EXTRAS ?= test,timeseries,images,export,tensorboard,text,transfer,tracking,search,audio

.PHONY: install demo test test-all bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

## Train a CNN on scikit-learn's digits (no download), evaluate its features, write the report.
demo: install
	$(VENV)/bin/deepfeat fit -c examples/configs/digits_cnn.yaml

## The floors of the package (import-linter contracts in pyproject.toml), then the default test suite
## (a few minutes on 2 cores; tests marked slow are left out).
test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

## Every test, the slow end-to-end ones included.
test-all: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -m "slow or not slow"

## Every benchmark (MNIST from ../shared/data); results go to benchmarks/results/.
bench: install
	$(PY) benchmarks/bench_core.py

clean:
	rm -rf $(VENV) runs .pytest_cache
