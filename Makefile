# The README's two commands: `make demo` and `make test`. Both create .venv when
# missing and install exactly what constraints.txt pins.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# sam and checkov pin their own boto3 and friends: each gets its own venv.
TOOLS   := .venv-tools
SAM     := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov

.PHONY: demo test lint typecheck unit bench clean build

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(PY) -m sandbox

test: lint typecheck unit

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-logo --no-cache

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP) $(SAM) $(CHECKOV)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam build

$(SAM):
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0

$(CHECKOV):
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check checkov==3.3.30

build: $(STAMP) $(SAM)
	$(PY) -m sandbox.sam_build
