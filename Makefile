# The two commands from the README are `make run` and `make check`; everything else is their parts.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run check venv tools services lint typecheck imports policy-test test fix bench

$(BIN)/gateway: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --extra dev
	@touch $@

venv: $(BIN)/gateway

## Run the gateway on embedded defaults with the bundled demo upstream (http://127.0.0.1:8080/v1).
run: venv
	$(BIN)/gateway demo

## Everything CI runs: formatting, lint, types, import contracts, Rego tests, the whole test suite.
check: venv tools lint typecheck imports policy-test test

## Test-only tools that do not come from PyPI's normal resolution (see docs/development.md).
tools: venv
	@bash scripts/install-test-tools.sh
	@bash scripts/install-browser.sh

services:
	@bash scripts/services.sh

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

imports: venv
	$(BIN)/lint-imports

policy-test: venv
	$(BIN)/gateway policy test --quiet policies/

test: venv
	$(BIN)/pytest -q

fix: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
