# UNCOPS Platform. `make run` starts the whole stack; `make test` runs the whole suite on real servers.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml contracts/pyproject.toml 2>/dev/null | sha256sum | cut -c1-12)
# Issue 20: the one tool that writes uv.lock and the requirements files (also [tool.uv] required-version).
UV_VERSION := 0.13.8
PYTEST_ARGS ?=

.PHONY: help install run test test-unit lint typecheck contracts contracts-check kafka-jars bench histories docs messages clean lock lock-check contracts-wheel

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml contracts/pyproject.toml
	@command -v java >/dev/null || { echo "error: a JDK 17+ is needed (java) for the Kafka broker"; exit 1; }
	@command -v mvn >/dev/null || { echo "error: Maven (mvn) is needed to fetch the Kafka broker's jars"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e ./contracts -e .
	rm -f $(VENV)/.installed-*
	touch $@

# The console's front-end packages (htmx; axe-core for the accessibility tests), exactly as package-lock.json pins them.
NODE_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-12)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: Node.js 20+ with npm is needed for the console's packages"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	rm -f node_modules/.installed-*
	touch $@

install: $(STAMP) $(NODE_STAMP) ## create the virtual environment and install the locked packages (hashes checked) and npm's
	@bash deploy/ensure-debian-packages.sh libpango-1.0.so.0:libpango-1.0-0 libpangoft2-1.0.so.0:libpangoft2-1.0-0 \
	  DejaVuSans.ttf:fonts-dejavu-core
	@$(PY) -m deploy.stack kafka-jars > /dev/null && echo "Kafka broker jars resolved"

run: install ## start the whole stack in the foreground (Ctrl-C stops it)
	$(PY) -m deploy.stack run

# kustomize, to render the Kubernetes overlays in the suite: built from the Go module proxy at a pinned version
# (kubectl's built-in copy is not in Debian), into the virtual environment's bin.
KUSTOMIZE_VERSION := v5.7.1
KUSTOMIZE := $(VENV)/bin/kustomize-$(KUSTOMIZE_VERSION)

$(KUSTOMIZE):
	@command -v go >/dev/null || { echo "error: Go is needed to build kustomize for the deployment files' tests"; exit 1; }
	GOBIN=$(CURDIR)/$(VENV)/.kustomize go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(VENV)/.kustomize/kustomize $@ && rmdir $(VENV)/.kustomize
	ln -sf $(notdir $@) $(VENV)/bin/kustomize

test: install $(KUSTOMIZE) ## set up what is missing, then run the whole suite against real servers
	bash deploy/ensure-debian-packages.sh docker-compose:docker-compose /usr/bin/chromium:chromium
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install ## the tests that need no server
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: install ## ruff, mypy and the contracts check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy contracts/uncops_contracts services workflows deploy uncops tests bench docs/generate.py
	$(PY) contracts/generate.py --check
	$(PY) docs/generate.py --check
	$(PY) -m uncops.messages --check

contracts: install ## regenerate contracts/schemas and contracts/asyncapi.yaml, and the event catalogue
	$(PY) contracts/generate.py
	$(PY) docs/generate.py

# Issue 18: the wheel partners install. From a fresh build folder: a stale one would keep schemas deleted since.
contracts-wheel: install ## build the uncops-contracts wheel (with its schemas and AsyncAPI document) into dist/
	rm -rf contracts/build
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --wheel-dir dist ./contracts
	rm -rf contracts/build
	@ls dist/uncops_contracts-*.whl

messages: install ## add the console's new messages to its French catalogue (then translate them)
	$(PY) -m uncops.messages

docs: install ## rewrite the event catalogue in docs/events.md from the contracts
	$(PY) docs/generate.py

kafka-jars: install ## resolve the Kafka broker's jars (cached in ~/.m2)
	$(PY) -m deploy.stack kafka-jars

histories: install ## re-record every workflow's replay history (tests/workflows/histories), on purpose only
	UNCOPS_RECORD_HISTORIES=1 $(PY) -m pytest tests/workflows -p no:cacheprovider $(PYTEST_ARGS)

bench: install ## run the benchmarks and rewrite BENCHMARKS.md
	$(PY) -m bench.run

clean: ## remove the run folder (all local data) and caches; refused while a stack runs from it
	@for lock in .run/*/stack.pid; do \
	  [ -f "$$lock" ] && kill -0 "$$(cat "$$lock")" 2>/dev/null && \
	  { echo "error: a stack is running from $$(dirname $$lock) (pid $$(cat $$lock)); stop it first"; exit 1; }; \
	done; true
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache

# Issue 20: pyproject.toml -> uv.lock -> requirements.txt (runtime) and requirements-dev.txt (+ dev, local), with
# hashes. Not `install`'s prerequisite: it must work while the requirements files hold pins added by hand (a merge).
lock: ## re-lock after editing pyproject.toml (or merging a branch that added packages): uv.lock, requirements*.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/uv --version 2>/dev/null | grep -qx "uv $(UV_VERSION)" || \
	  $(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(PY) -m deploy.lock
	@echo "review the diff, then: make install (it reinstalls from the new lock)"

lock-check: install ## check, offline, that uv.lock and requirements*.txt are what pyproject.toml locks to
	$(PY) -m deploy.lock --check
