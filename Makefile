# dnbot: the two commands a newcomer needs are `make run` and `make test`; `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FRONTEND_STAMP := frontend/node_modules/.installed
CHROMIUM := /usr/bin/chromium
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help run test lint bench synth layers frontend venv chromium clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip setuptools wheel
	$(BIN)/pip install -q -e '.[trading,local,infra,dev]'
	touch $@

venv: $(STAMP) ## Create the virtualenv and install dnbot with every extra

$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

frontend/dist/index.html: $(FRONTEND_STAMP) frontend/vite.config.ts frontend/tsconfig.json $(shell find frontend/src frontend/index.html -type f 2>/dev/null)
	cd frontend && npm run build

frontend: frontend/dist/index.html ## Build the dashboard (Vite) into frontend/dist

chromium: ## Install Debian's chromium for the browser tests (needs root)
	@test -x $(CHROMIUM) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

run: venv frontend ## Run the whole system on this machine: dashboard at http://127.0.0.1:8080
	$(BIN)/dnbot local

test: venv frontend chromium layers ## Install what the tests need (layers included) and run them all
	cd frontend && npm test --silent
	$(BIN)/pytest -n 2 --dist loadgroup

lint: venv ## ruff and mypy (strict on domain/ and services/)
	$(BIN)/ruff check layers functions infra tests bench
	$(BIN)/mypy
	$(BIN)/mypy --strict infra

bench: venv ## Benchmarks: backtest and tick evaluation speed
	$(BIN)/python bench/run.py

synth: venv frontend ## Synthesize the CDK app into cdk.out (offline, no Docker)
	$(BIN)/python infra/app.py

layers: venv ## Build the Lambda dependency layers without Docker (manylinux wheels)
	$(BIN)/python infra/build_layers.py

clean: ## Remove build outputs (keeps the virtualenv)
	rm -rf cdk.out build frontend/dist .pytest_cache .mypy_cache .ruff_cache
