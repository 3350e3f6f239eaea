# sam build (BuildMethod: makefile), included by shared/Makefile and functions/*/Makefile.
# SAM runs `make build-<LogicalId>` with ARTIFACTS_DIR set. Wheels are chosen for the
# Lambda runtime (python3.13, manylinux2014_x86_64), not for this machine, so neither
# Docker nor a python3.13 interpreter is needed to build.
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
PYTHON ?= python3
LAMBDA_PIP = $(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
	--platform manylinux2014_x86_64 --implementation cp --python-version 3.13 --abi cp313 \
	--only-binary=:all: --target

# A function's kind is the name of the folder whose Makefile included this file (functions/<kind>/Makefile).
KIND := $(notdir $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST))))))

build-SharedLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python"
	cp -R "$(ROOT)/shared/rotator" "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)/python" -name __pycache__ -prune -exec rm -rf {} +
	$(LAMBDA_PIP) "$(ARTIFACTS_DIR)/python" -r "$(ROOT)/shared/requirements.txt"

build-%Function:
	cp "$(ROOT)/functions/$(KIND)/app.py" "$(ARTIFACTS_DIR)/"
	if grep -q '^[^#]' "$(ROOT)/functions/$(KIND)/requirements.txt"; then \
		$(LAMBDA_PIP) "$(ARTIFACTS_DIR)" -r "$(ROOT)/functions/$(KIND)/requirements.txt"; fi
