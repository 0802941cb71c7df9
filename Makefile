# Developer entry points. Everything installs into ./.venv; installs are stamped so a second
# run only reinstalls when pyproject.toml changes.

PY := .venv/bin/python
PIP := $(PY) -m pip
RUFF := .venv/bin/ruff
LINT_DIRS := $(wildcard fnad tests examples benchmarks)
# Re-install the editable package once fnad/__init__.py appears (an editable install made
# before the package existed maps nothing).
PKG_STAMP_DEPS := pyproject.toml $(wildcard fnad/__init__.py)
# setuptools ends every editable install of a top-level package folder (fnad/ beside
# pyproject.toml) with a banner about same-named folders in the working directory taking
# precedence; here that folder is the package itself, so the banner is filtered out.
EDITABLE := PYTHONWARNINGS="ignore:Editable installation" $(PIP) install -q -e

.PHONY: venv install mpi test test-slow test-gpu demo bench lint

venv: $(PY)

$(PY):
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip

.venv/.installed-test: $(PKG_STAMP_DEPS) | $(PY)
	$(EDITABLE) ".[test]"
	@touch $@

.venv/.installed-examples: $(PKG_STAMP_DEPS) | $(PY)
	$(EDITABLE) ".[examples]"
	@touch $@

install: .venv/.installed-test

# MPI for the `mpi` tests, best effort (~30 s the first time; they skip with a reason when
# mpirun or mpi4py is missing): Open MPI from apt when running as root, mpi4py from pip.
mpi: .venv/.installed-mpi

.venv/.installed-mpi: $(PKG_STAMP_DEPS) | .venv/.installed-test
	@command -v mpirun >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  openmpi-bin libopenmpi-dev >/dev/null; } || echo "make mpi: no MPI installed"
	@$(EDITABLE) ".[mpi]" || echo "make mpi: mpi4py not installed"
	@touch $@

lint: .venv/.installed-test
	$(RUFF) check $(LINT_DIRS)

test: lint
	$(PY) -m pytest -m "not slow and not gpu" -q -n 2

test-slow: .venv/.installed-test
	$(PY) -m pytest -m slow -q

test-gpu: .venv/.installed-test
	$(PY) -m pytest -m gpu -q

demo: .venv/.installed-examples
	$(PY) examples/mnist_mlp.py

bench: .venv/.installed-test
	$(PY) -m benchmarks
