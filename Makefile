# dnbot: the two commands a newcomer needs are `make run` and `make test`; `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FRONTEND_STAMP := frontend/node_modules/.installed
CDK_STAMP := node_modules/.installed
CDK := npx --no-install cdk
# make deploy: CloudFormation stack name and the context values (docs/deploy.md)
STACK ?= Dnbot
ADMIN_EMAILS ?=
ALERT_EMAIL ?=
CDK_CONTEXT = -c stackName=$(STACK) $(if $(ADMIN_EMAILS),-c adminEmails=$(ADMIN_EMAILS)) \
	$(if $(ALERT_EMAIL),-c alertEmail=$(ALERT_EMAIL))
CHROMIUM := /usr/bin/chromium
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help run test lint bench synth deploy cdk-inputs layers frontend venv chromium clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip setuptools wheel
	$(BIN)/pip install -q -e '.[trading,local,infra,dev]'
	touch $@

$(CDK_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

venv: $(STAMP) $(CDK_STAMP) ## Create the virtualenv (dnbot with every extra) and install the CDK command line

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

lint: venv ## ruff, mypy (strict on domain/ and services/), cfn-lint on the synthesized template
	$(BIN)/ruff check layers functions infra tests bench
	$(BIN)/mypy
	$(BIN)/mypy --strict infra
	$(MAKE) --no-print-directory synth

bench: venv ## Benchmarks: backtest and tick evaluation speed, every Lambda's cold start vs its floor
	$(BIN)/python bench/run.py

# What the CDK app packages: the layers (rebuilt only when missing or stale) and the dashboard build. cdk.json
# runs this before infra/app.py, so `npx cdk synth|deploy` works from a fresh clone too.
cdk-inputs: venv frontend
	@$(BIN)/python infra/build_layers.py --if-stale

# W3005 (a DependsOn already implied by a GetAtt) is how aws-cdk-lib writes role policies; errors fail.
CFN_LINT := $(BIN)/cfn-lint --non-zero-exit-code error --ignore-checks W3005

synth: cdk-inputs ## Synthesize the CDK app into cdk.out (offline, no Docker) and cfn-lint it
	$(BIN)/python infra/app.py
	$(CFN_LINT) -- cdk.out/*.template.json

deploy: cdk-inputs ## Deploy to the AWS profile's account: make deploy ADMIN_EMAILS=a@x ALERT_EMAIL=ops@x [STACK=Dnbot]
	$(CDK) bootstrap
	$(CDK) deploy $(CDK_CONTEXT) --require-approval never --outputs-file cdk-outputs.json

layers: venv ## Build the Lambda dependency layers without Docker (manylinux wheels)
	$(BIN)/python infra/build_layers.py

clean: ## Remove build outputs (keeps the virtualenv)
	rm -rf cdk.out build frontend/dist .pytest_cache .mypy_cache .ruff_cache
