# local-mesh: one entry point. `make up` and `make test` are the two commands
# the README names; each installs what it needs into .venv first. A bare
# `make` only says so (`make help`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STACK ?= dev
.DEFAULT_GOAL := help
# A local state backend in this folder: no Pulumi account needed. Pulumi's DIY
# backend does not create the folder (pulumi #15841): the `state` target does.
STATE := $(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL ?= file://$(STATE)
# Secrets (the kubeconfig) are encrypted with PULUMI_CONFIG_PASSPHRASE or the
# contents of PULUMI_CONFIG_PASSPHRASE_FILE. Pulumi reads the first whenever
# it is set, even empty (pulumi pkg/secrets/passphrase/manager.go,
# readPassphrase), so the empty default, allowed for a laptop-local stack, is
# exported only when neither is set. Set your own to protect the state file.
ifeq ($(origin PULUMI_CONFIG_PASSPHRASE)$(PULUMI_CONFIG_PASSPHRASE_FILE),undefined)
export PULUMI_CONFIG_PASSPHRASE :=
endif
# minikube, kubectl and pulumi missing from PATH are fetched here (checksummed).
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

.PHONY: help tools state stack up preview destroy verify test lint e2e bench mutate clean clean-cache

help: ## list the targets (what a bare `make` does)
	@echo "local-mesh: 'make up' creates the mesh (stack $(STACK)), 'make test' runs the tests. Targets:"
	@awk -F ':.*## ' '/^[a-z0-9-]+:.*## / { printf "  make %-11s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

tools: ## fetch a missing or too old minikube, kubectl or pulumi into .tools/bin
	@bash tools/fetch-tools.sh "$(TOOLS)"

state:
	@mkdir -p "$(STATE)"

# Only up and preview create the stack; destroy and verify name one that exists.
stack: $(VENV)/.runtime tools state
	@pulumi stack select --create "$(STACK)" >/dev/null

up: stack ## create or update the mesh of stack STACK (default dev)
	pulumi up --yes --stack "$(STACK)"

preview: stack ## show what up would change
	pulumi preview --stack "$(STACK)"

destroy: $(VENV)/.runtime tools state ## delete what the stack created
	pulumi destroy --yes --stack "$(STACK)"

# WAIT=SECONDS: how long verify waits for a mesh coming back (after minikube stop and up).
verify: $(VENV)/.runtime state ## check that the stack's mesh answers (WAIT=SECONDS for a mesh coming back)
	$(VENV)/bin/python -m tools.verify --stack "$(STACK)" $(if $(WAIT),--wait "$(WAIT)")

lint: $(VENV)/.dev ## ruff, shellcheck and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck -x components/scripts/*.sh tools/*.sh .ci/run
	$(VENV)/bin/mypy

test: lint ## lint, then every test but the end-to-end one
	$(VENV)/bin/pytest -n auto

e2e: $(VENV)/.dev tools ## the end-to-end test on this machine (creates a real cluster)
	$(VENV)/bin/pytest tests/e2e -s --run-e2e

bench: $(VENV)/.dev ## measure the program's evaluation and the critical path
	$(VENV)/bin/python bench/run.py

mutate: $(VENV)/.dev ## how many realistic slips (bench/mutations.yaml) the suite catches; minutes, not part of `make test`
	$(VENV)/bin/python bench/mutate.py

# The label is components/model/images.py's (a pure module: the system python reads it).
clean-cache: ## remove local-mesh's image caches and registry on this host (docker containers and volumes with its label)
	@LOCAL_MESH_REGISTRY_LABEL="$$($(PYTHON) -c 'from components.model.images import REGISTRY_LABEL; print(REGISTRY_LABEL)')" bash tools/clean-cache.sh

clean: ## remove .venv, .tools and the caches (not the stacks' state)
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
