# cos2oms: `make test` and `make demo` set themselves up on a fresh clone (virtualenvs under .venv*).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The emulated SCF Python 3.6 runtime: built-in qcloud_cos_v5 (cos-python-sdk-v5 1.6.6), requests 2.21.0.
PYENV_ROOT := $(shell pyenv root 2>/dev/null)
PYTHON36 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.6*/bin/python3.6) $(shell command -v python3.6 2>/dev/null))
VENV36 := .venv36
RUNTIME ?= python3.6
EVENT ?= tests/events/cos_put_console.json
# What SCF runs (on Python 3.6 and later): the four entry modules and the package.
FUNCTION_FILES := index.py signer.py replay.py audit.py $(wildcard cos2oms/*.py cos2oms/commands/*.py)
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

.PHONY: test lint unit unit-py36 e2e timing zips demo zip clean

# Everything CI runs, cheapest first.
test: lint unit-py36 unit e2e timing zips
	@echo "make test: all green"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

$(VENV36)/.installed: tests/requirements-py36.txt
	@test -n "$(PYTHON36)" || { echo "python3.6 not found (pyenv install 3.6): cannot emulate SCF's runtime"; exit 1; }
	$(PYTHON36) -m venv $(VENV36)
	$(VENV36)/bin/pip install -q --disable-pip-version-check -r tests/requirements-py36.txt
	# SCF's Python 3.6 runtime calls the COS SDK qcloud_cos_v5 and has no qcloud_cos.
	cd $(VENV36)/lib/python3.6/site-packages && rm -rf qcloud_cos_v5 && mv qcloud_cos qcloud_cos_v5
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	@# The function's modules must run on SCF's Python 3.6 runtime.
	$(VENV)/bin/vermin --no-tips --violations -t=3.6- $(FUNCTION_FILES)

# Unit tests (mocked OMS and COS) on Python 3.11.
unit: $(VENV)/.installed
	$(PYTEST) tests/unit

# The same unit tests on the emulated SCF Python 3.6 runtime.
unit-py36: $(VENV36)/.installed
	$(VENV36)/bin/python -m pytest -q -p no:cacheprovider tests/unit

# End-to-end tests on the loopback servers (they also drive the emulated 3.6 runtime as a subprocess).
e2e: $(VENV)/.installed $(VENV36)/.installed
	$(PYTEST) -m "not zip and not timing" tests/e2e

# Wall-clock assertions with generous tolerances, kept apart so that they can be read as such.
timing: $(VENV)/.installed $(VENV36)/.installed
	$(PYTEST) -m timing tests

# build_zip.sh for every runtime, each zip unzipped and run on its own interpreter.
zips: $(VENV)/.installed $(VENV36)/.installed
	$(PYTEST) -m zip tests/e2e

zip:
	./build_zip.sh $(RUNTIME)

demo: $(VENV)/.installed
	$(PY) -m local.demo $(EVENT)

clean:
	rm -rf $(VENV) $(VENV36) dist build .pytest_cache .ruff_cache .hypothesis
