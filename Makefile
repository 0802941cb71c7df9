# Developer entry points. Everything installs into ./.venv; installs are stamped so a second
# run only reinstalls when pyproject.toml changes.

PY := .venv/bin/python
PIP := $(PY) -m pip
RUFF := .venv/bin/ruff
LINT_DIRS := $(wildcard fnad tests examples benchmarks)
# Re-install the editable package once fnad/__init__.py appears (an editable install made
# before the package existed maps nothing).
PKG_STAMP_DEPS := pyproject.toml $(wildcard fnad/__init__.py)

.PHONY: venv install test test-slow test-gpu demo bench lint

venv: $(PY)

$(PY):
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip

.venv/.installed-test: $(PKG_STAMP_DEPS) | $(PY)
	$(PIP) install -q -e ".[test]"
	@touch $@

.venv/.installed-examples: $(PKG_STAMP_DEPS) | $(PY)
	$(PIP) install -q -e ".[examples]"
	@touch $@

install: .venv/.installed-test

lint: .venv/.installed-test
	$(RUFF) check $(LINT_DIRS)

test: lint
	$(PY) -m pytest -m "not slow and not gpu and not mpi" -q

test-slow: .venv/.installed-test
	$(PY) -m pytest -m slow -q

test-gpu: .venv/.installed-test
	$(PY) -m pytest -m gpu -q

demo: .venv/.installed-examples
	$(PY) examples/mnist_mlp.py

bench: .venv/.installed-test
	$(PY) -m benchmarks
