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
MOLECULE_SCENARIOS ?=

.PHONY: venv report test host-setup images check-images test-python test-molecule bench bench-api bench-module docs clean wheelhouse role-readme bench-rollout

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

# `ansible all -m sysreport` against ping and setup on 4 containers; the 1,000-host digest.
bench-module: venv images
	$(VENV_PY) benchmarks/module.py

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

# Molecule scenarios of roles/sysreport: default (wheelhouse) and index (pip index on
# loopback, upgrade/downgrade, API), Debian 11/12/13 each; logs in build/molecule/.
test-molecule: venv images wheelhouse
	tests/run-molecule.sh $(MOLECULE_SCENARIOS)

# --------------------------------------------------------------------------- role

# The agent's wheel + its dependencies' wheels for cp39/cp311/cp313 (dist/wheelhouse),
# the test SMTP server's (dist/test-wheelhouse), and an older agent version for the
# upgrade/downgrade test (dist/upgrade-wheelhouse).
wheelhouse: venv
	tests/build-wheelhouse.sh dist/wheelhouse
	SYSREPORT_BUILD_VERSION=0.0.1 tests/build-wheelhouse.sh dist/upgrade-wheelhouse

# roles/sysreport/README.md's variable table from meta/argument_specs.yml.
role-readme: venv
	$(VENV_PY) roles/sysreport/docs/generate_readme.py

# Roll out to 10 containers: first run, idempotent run, calls per host, ping floor.
bench-rollout: venv images wheelhouse
	$(VENV_PY) benchmarks/rollout.py

# --------------------------------------------------------------------------- clean

clean:
	rm -rf preview agent/build
