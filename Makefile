# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PIP := $(PY) -m pip
# pip without -q: it names each package as it goes. The extras the test suite needs (`make demo` needs none).
EXTRAS ?= test,timeseries,images,export,tensorboard,text,transfer,tracking,search,audio,tables,shards,faiss
# A PyTorch package index, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU-only build (under 1 GB
# instead of about 5 GB with PyTorch's default CUDA libraries); empty: pip's default.
TORCH_INDEX ?=

.PHONY: install demo test test-all bench docs clean

$(VENV)/.venv-made:
	@echo "== creating $(VENV) and upgrading pip"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(if $(TORCH_INDEX),$(PIP) install torch torchvision --index-url $(TORCH_INDEX))
	touch $@

$(VENV)/.core: $(VENV)/.venv-made pyproject.toml
	@echo "== installing deepfeat's core alone (PyTorch, torchvision, scikit-learn, matplotlib and a few small"
	@echo "   packages): about 5.8 GB and 53 packages with PyTorch's default CUDA build, a few minutes; see TORCH_INDEX"
	$(PIP) install -e .
	@du -sh $(VENV)
	touch $@

$(VENV)/.installed: $(VENV)/.venv-made pyproject.toml
	@echo "== installing deepfeat with the extras the tests need ($(EXTRAS)): about 7 GB, several minutes"
	$(PIP) install -e ".[$(EXTRAS)]"
	@du -sh $(VENV)
	touch $@

install: $(VENV)/.installed

## Train a CNN on scikit-learn's digits (no download), evaluate its features, write the report: the core install is enough.
demo: $(VENV)/.core
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

## The documentation site (docs/, Sphinx with MyST) into docs/_build/html, with warnings as errors.
docs: $(VENV)/.docs
	$(PY) -m sphinx -E -W --keep-going -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

$(VENV)/.docs: $(VENV)/.venv-made pyproject.toml
	$(PIP) install -e ".[docs]"
	touch $@

## Every benchmark (MNIST from ../shared/data); results go to benchmarks/results/.
bench: install
	$(PY) benchmarks/bench_core.py

clean:
	rm -rf $(VENV) runs .pytest_cache
