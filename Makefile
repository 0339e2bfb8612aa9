# stackyard: `make preview` shows what `pulumi up` would do; `make test` runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := venv
STACK ?= production
STATE_DIR := $(CURDIR)/.pulumi-state
DEPS_STAMP := $(VENV)/.deps-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)

export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_BACKEND_URL := file://$(STATE_DIR)

.PHONY: help deps system-deps test lint preview bench clean

help:
	@echo "make preview   pulumi preview of STACK (default: production) on a local file backend"
	@echo "make test      install what the tests need, then ruff and the test suite"
	@echo "make bench     print how long building the stack under mocks takes"

$(DEPS_STAMP): requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	rm -f $(VENV)/.deps-* && touch $@

deps: $(DEPS_STAMP) system-deps

# The real validators the tests run: cloud-init (schema), shellcheck, nginx, caddy, systemd-analyze,
# openssl (test certificates), node (PM2 files), and PostgreSQL 15 (the database tests start their
# own throwaway server; its programs are not on PATH, so it is checked by its initdb). Installed
# when we can (root with apt); otherwise the tests that need a missing tool are skipped, visibly,
# with its name.
SYSTEM_TOOLS := cloud-init:cloud-init shellcheck:shellcheck nginx:nginx caddy:caddy \
	systemd-analyze:systemd openssl:openssl node:nodejs
PG_BINDIR := /usr/lib/postgresql/15/bin
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; done; \
	test -x $(PG_BINDIR)/initdb || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing$$missing and cannot install here: the tests that need them will be skipped"; fi; \
	fi
	@scripts/compose-plugin
	@scripts/pgvector

lint: $(DEPS_STAMP)
	$(VENV)/bin/ruff check .

test: deps lint
	$(VENV)/bin/python -m pytest

bench: $(DEPS_STAMP)
	$(VENV)/bin/python benchmarks/mock_build.py

# The passphrase that encrypts the stack's secrets is the operator's: export
# PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE before running this.
preview: $(DEPS_STAMP)
	@command -v pulumi >/dev/null || { echo "make preview needs the pulumi CLI on PATH"; exit 1; }
	@if [ -z "$${PULUMI_CONFIG_PASSPHRASE-}" ] && [ -z "$${PULUMI_CONFIG_PASSPHRASE_FILE-}" ]; then \
	  echo "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: it decrypts the stack's secrets"; exit 1; fi
	mkdir -p $(STATE_DIR)
	pulumi stack select --create --secrets-provider passphrase $(STACK) >/dev/null
	pulumi preview --stack $(STACK) --diff

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
