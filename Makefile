# sysreport: developer and CI entry points. `make test` is what CI runs (.ci/run).
#
#   make venv           .venv with tests/requirements.txt and the agent (editable)
#   make report         this machine's report on built-in defaults, + preview/
#   make test           host setup, pytest, then Molecule
#   make bench          the agent's cost against psutil's floor and Glances
#   make docs           regenerate generated parts of the docs
#
# Each part's targets live in its own section below; keep additions small.

SHELL      := /bin/bash
PYTHON     ?= python3
VENV       ?= .venv
VENV_PY    := $(VENV)/bin/python
SYSREPORT  := $(abspath $(VENV))/bin/sysreport
STAMP      := $(VENV)/.sysreport-stamp
PYTEST_ARGS ?=

.PHONY: venv report test host-setup images check-images test-python test-molecule bench bench-api docs clean

# --------------------------------------------------------------------------- venv

venv: $(STAMP)

# Rebuilt only when the requirements or the agent's packaging change. The agent is
# installed editable in "compat" mode: a plain path in a .pth file. The default mode
# installs an import finder that every Python start in the venv loads (~12 ms CPU),
# which would skew `make bench` against what a wheel install costs on a host.
$(STAMP): tests/requirements.txt agent/pyproject.toml
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --disable-pip-version-check --quiet -r tests/requirements.txt
	$(VENV_PY) -m pip install --disable-pip-version-check --quiet \
	    --config-settings editable_mode=compat -e agent
	touch $@

# --------------------------------------------------------------------------- agent

# --config /dev/null: an empty file, so the built-in defaults whatever /etc holds.
report: venv
	$(SYSREPORT) --config /dev/null collect --format text
	$(SYSREPORT) --config /dev/null preview --output preview

docs: venv
	$(VENV_PY) -m sysreport.config agent/README.md

bench: venv
	$(VENV_PY) benchmarks/agent.py

# The API against Glances' REST API, 1,000 extra processes (a few minutes).
bench-api: venv
	$(VENV_PY) benchmarks/api.py

# --------------------------------------------------------------------------- tests

test: host-setup venv test-python test-molecule

# Host packages (docker, openssl, python3-venv, ...) and the Docker engine, when the
# infrastructure scripts are there; both are idempotent.
host-setup:
	@if [ -f tests/setup/install-host-packages.sh ]; then \
	    sh tests/setup/install-host-packages.sh python3-venv; fi
	@if [ -f tests/setup/start-dockerd.sh ]; then sh tests/setup/start-dockerd.sh; fi

# The Debian images the Molecule scenarios boot (cached; see molecule/README.md),
# and a boot check of each: systemd running, systemd-analyze, LoadCredential=.
images: host-setup
	molecule/images/build.sh

check-images: images
	molecule/images/check.sh

test-python: venv
	$(VENV_PY) -m pytest tests $(PYTEST_ARGS)

# Molecule scenarios of roles/sysreport (filled in by the role's maintainers).
test-molecule: venv
	@echo "test-molecule: no Molecule scenarios wired in yet"

# --------------------------------------------------------------------------- clean

clean:
	rm -rf preview agent/build
