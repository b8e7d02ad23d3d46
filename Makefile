# local-mesh: one entry point. `make up` and `make test` are the two commands
# the README names; each installs what it needs into .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STACK ?= dev
# A local state backend in this folder: no Pulumi account needed.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
# Secrets (the kubeconfig) are encrypted with this passphrase; empty is allowed
# for a laptop-local stack. Set your own to protect the state file.
export PULUMI_CONFIG_PASSPHRASE ?=
# minikube, kubectl and pulumi missing from PATH are fetched here (checksummed).
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

.PHONY: tools stack up preview destroy verify test lint e2e bench mutate clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

tools:
	@bash tools/fetch-tools.sh "$(TOOLS)"

stack: $(VENV)/.runtime tools
	@pulumi stack select --create "$(STACK)" >/dev/null

up: stack
	pulumi up --yes --stack "$(STACK)"

preview: stack
	pulumi preview --stack "$(STACK)"

destroy: stack
	pulumi destroy --yes --stack "$(STACK)"

# WAIT=SECONDS: how long verify waits for a mesh coming back (after minikube stop and up).
verify: $(VENV)/.runtime
	$(VENV)/bin/python -m tools.verify --stack "$(STACK)" $(if $(WAIT),--wait "$(WAIT)")

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck -x components/scripts/*.sh tools/*.sh .ci/run
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest -n auto

e2e: $(VENV)/.dev
	$(VENV)/bin/pytest tests/e2e -s --run-e2e

bench: $(VENV)/.dev
	$(VENV)/bin/python bench/run.py

# How many realistic slips (bench/mutations.yaml) the suite catches; minutes, not part of `make test`.
mutate: $(VENV)/.dev
	$(VENV)/bin/python bench/mutate.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
