# sam build (BuildMethod: makefile), included by shared/Makefile and functions/*/Makefile.
# SAM runs `make build-<LogicalId>` with ARTIFACTS_DIR set. Wheels are chosen for the
# Lambda runtime (python3.13, manylinux2014_x86_64), not for this machine, so neither
# Docker nor a python3.13 interpreter is needed to build; a python3.13 adds the bytecode.
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
PYTHON ?= python3
LAMBDA_PIP = $(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
	--platform manylinux2014_x86_64 --implementation cp --python-version 3.13 --abi cp313 \
	--only-binary=:all: --target

# Bytecode for the runtime's interpreter. Lambda cannot write it (the code is read-only), so without it
# every cold start compiles each module it imports; and SAM's zip dates every file 1980-01-01, so a
# timestamp-checked .pyc would be stale: unchecked-hash .pyc, compiled by a python3.13 when the build has
# one (`sam build --use-container` always does): the first of python3.13 and python3 that runs and is 3.13
# (a pyenv shim of a version not selected does not run). BYTECODE_PYTHON= builds without bytecode.
ifeq ($(origin BYTECODE_PYTHON),undefined)
BYTECODE_PYTHON := $(firstword $(foreach candidate,python3.13 python3,$(shell $(candidate) -c \
	'import sys; sys.version_info[:2] == (3, 13) and print(sys.executable)' 2>/dev/null)))
endif
define compile_bytecode
	@if [ -n "$(BYTECODE_PYTHON)" ]; then \
		"$(BYTECODE_PYTHON)" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(1)" >/dev/null; \
	else echo "lambda.mk: no python3.13 found, $(1) ships without bytecode: each cold start compiles it" >&2; fi
endef

# A function's kind is the name of the folder whose Makefile included this file (functions/<kind>/Makefile).
KIND := $(notdir $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST))))))

build-SharedLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python"
	cp -R "$(ROOT)/shared/rotator" "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)/python" -name __pycache__ -prune -exec rm -rf {} +
	$(LAMBDA_PIP) "$(ARTIFACTS_DIR)/python" -r "$(ROOT)/shared/requirements.txt"
	$(call compile_bytecode,$(ARTIFACTS_DIR)/python)

build-%Function:
	cp "$(ROOT)/functions/$(KIND)/app.py" "$(ARTIFACTS_DIR)/"
	if grep -q '^[^#]' "$(ROOT)/functions/$(KIND)/requirements.txt"; then \
		$(LAMBDA_PIP) "$(ARTIFACTS_DIR)" -r "$(ROOT)/functions/$(KIND)/requirements.txt"; fi
	$(call compile_bytecode,$(ARTIFACTS_DIR))
