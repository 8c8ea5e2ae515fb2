# `make run` serves the service with demo accounts; `make test` runs ruff, mypy and every test.
# Both set up what is missing on a fresh Debian machine (Python 3.11, Node 20, root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB := web_client
WEB_BUILT := $(WEB)/dist/.built
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/pages -type f 2>/dev/null) $(WEB)/build.mjs $(WEB)/package.json
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test check unit sysdeps venv web lock clean

run: $(STAMP) $(WEB_BUILT)
	$(BIN)/teleconsult serve --demo --data-dir ./data

test: $(STAMP) $(WEB_BUILT) sysdeps check
	scripts/test

check: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

venv: $(STAMP)
web: $(WEB_BUILT)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund

$(WEB_BUILT): $(WEB)/node_modules/.package-lock.json $(WEB_SOURCES)
	cd $(WEB) && npm run build
	touch $@

# Debian's redis-server, chromium and coturn, installed only when missing (tests start their own
# instances on loopback); iproute2 for the loopback-only network namespace of the tests.
sysdeps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v turnserver >/dev/null || missing="$$missing coturn"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

lock:
	rm -rf /tmp/teleconsult-lock && $(PYTHON) -m venv /tmp/teleconsult-lock
	/tmp/teleconsult-lock/bin/pip install --quiet -e '.[dev]'
	{ head -n 2 requirements.lock; /tmp/teleconsult-lock/bin/pip freeze --exclude-editable | grep -v '^-e'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) $(WEB)/node_modules $(WEB)/dist
