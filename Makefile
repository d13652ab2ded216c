# Every target uses pixi when it is on PATH; otherwise a uv-managed .venv built from uv.lock
# (uv itself is installed with pip into .tools/ when missing). No manual step in between.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help start sandbox test fmt lint bench bench-full env java jars browser

PIXI := $(shell command -v pixi 2>/dev/null)
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
PYTHON ?= python3
PYTEST_ARGS ?=
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

ifdef PIXI
RUN_DEFAULT := pixi run -e default
RUN_TEST := pixi run -e test
RUN_LINT := pixi run -e lint
RUN_BENCH := pixi run -e bench
else
RUN_DEFAULT := $(UV) run --locked --no-sync
RUN_TEST := $(RUN_DEFAULT)
RUN_LINT := $(RUN_DEFAULT)
RUN_BENCH := $(RUN_DEFAULT)
endif

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'
	@echo "  (pixi found: $(if $(PIXI),yes - targets run in pixi environments,no - targets use uv and .venv))"

env: ## create or update the environment (runs automatically before other targets)
ifdef PIXI
	pixi install -e default -e test -e lint -e bench
else
	@if [[ ! -x "$(UV)" ]]; then \
	  echo "uv not found: installing it with pip into .tools/"; \
	  $(PYTHON) -m venv .tools && .tools/bin/python -m pip install --quiet uv; \
	fi
	$(UV) sync --locked --all-extras --group dev
endif

java: env
	@$(if $(PIXI),pixi run -e default bash,bash) scripts/check-java.sh

jars: java ## fetch the jars local Spark needs for S3 into .cache/spark-jars (once)
	@$(if $(PIXI),pixi run -e default bash,bash) scripts/fetch-spark-jars.sh

browser:
	@scripts/find-chromium.sh >/dev/null || echo "note: no Chromium found; the UI tests will be deselected (install Debian's 'chromium' to run them)" >&2

start: jars ## serve the Dagster UI (webserver + daemon) on http://localhost:3000
	$(RUN_DEFAULT) python -m hydra_orchestration.dev

sandbox: jars ## the UI on the S3 modes with local emulators instead of a cloud account
	$(RUN_TEST) python -m tests.emulators.sandbox

test: jars browser ## run the whole test suite (DuckDB, local Spark, Dagster, UI)
	@rc=0; $(RUN_TEST) python -m pytest $(if $(shell scripts/find-chromium.sh 2>/dev/null),,-m "not ui") $(PYTEST_ARGS) || rc=$$?; \
	if [[ $$rc -eq 5 ]]; then echo "error: pytest collected no tests (exit 5): nothing was checked" >&2; fi; \
	exit $$rc

fmt: env ## format code and TOML files
	$(RUN_LINT) ruff format .
	$(RUN_LINT) taplo format pyproject.toml pixi.toml
	$(RUN_LINT) ruff check --fix .

lint: env ## format check, lint, type check, TOML format check
	$(RUN_LINT) ruff format --check .
	$(RUN_LINT) ruff check .
	$(RUN_LINT) pyright
	$(RUN_LINT) taplo format --check pyproject.toml pixi.toml

bench: jars ## quick benchmark run (under 10 minutes) printing every ratio
	$(RUN_BENCH) python -m bench --quick

bench-full: jars ## the full benchmark run that regenerates docs/benchmarks.md figures
	$(RUN_BENCH) python -m bench --full
