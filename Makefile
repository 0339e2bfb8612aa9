# stackyard: `make preview` shows what `pulumi up` would do; `make test` runs every check.
#
# The pulumi CLI comes from scripts/pulumi-toolchain: the one on PATH, else the offline toolchain
# (../shared/toolchain), unpacked once into ~/.cache/stackyard. Nothing is downloaded.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := venv
STACK ?= production
STATE_DIR := $(CURDIR)/.pulumi-state
DEPS_STAMP := $(VENV)/.deps-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
# The policy pack has a venv of its own: pulumi-policy pins a protobuf the program's SDKs are past.
POLICY_STAMP := policy/venv/.deps-$(shell sha256sum policy/requirements.txt | cut -c1-12)

TOOLCHAIN := scripts/pulumi-toolchain
STANDIN_BIN := $(CURDIR)/.standin-bin

export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
export PULUMI_BACKEND_URL ?= file://$(STATE_DIR)

.PHONY: help deps system-deps host-deps test test-unit test-engine test-e2e test-matrix lint preview up down destroy diagram bench \
	bench-engine clean

help:
	@echo "make up            boot the local Debian host and pulumi up the local stack on it (FRESH=1: clean disk;"
	@echo "                   DISTRO=ubuntu-24.04: an Ubuntu 24.04 host, with its own disk and state)"
	@echo "make down          stop the local host and undo every change it made to this machine"
	@echo "make destroy       pulumi destroy the local stack and remove it"
	@echo "make preview       pulumi preview of STACK (default: production) on a local file backend"
	@echo "make test          install what the tests need, then ruff and pyright, the unit tests and the engine tier"
	@echo "make test-unit     the unit tests (mocks, real validators, PostgreSQL)"
	@echo "make test-engine   the real pulumi engine, offline, in a network namespace of its own"
	@echo "make test-e2e      the local stack on a real Debian host: serving, redeploys under load, reboot, secrets"
	@echo "make diagram       draw STACK's topology into docs/ (dot, svg, png)"
	@echo "make bench         how long building the stack under mocks takes"
	@echo "make bench-engine  how long the real engine takes to preview and apply"

$(DEPS_STAMP): requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	rm -f $(VENV)/.deps-* && touch $@

$(POLICY_STAMP): policy/requirements.txt
	test -x policy/venv/bin/python || $(PYTHON) -m venv policy/venv
	policy/venv/bin/pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	rm -f policy/venv/.deps-* && touch $@

deps: $(DEPS_STAMP) $(POLICY_STAMP) system-deps

# The real validators the tests run: cloud-init (schema), shellcheck, nginx, caddy, systemd-analyze,
# openssl (test certificates), node (PM2 files), sshd (the engine tier's loopback host), unshare and
# ip (its network namespace), Graphviz (the topology diagram), and PostgreSQL 15 (the database tests start their
# own throwaway server; its programs are not on PATH, so it is checked by its initdb), logrotate, restic
# (off-site backups, into a repository in a directory). Installed
# when we can (root with apt); otherwise the tests that need a missing tool are skipped, visibly,
# with its name.
SYSTEM_TOOLS := cloud-init:cloud-init shellcheck:shellcheck nginx:nginx caddy:caddy \
	systemd-analyze:systemd openssl:openssl node:nodejs sshd:openssh-server unshare:util-linux ip:iproute2 \
	dot:graphviz logrotate:logrotate restic:restic
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

# The local host (scripts/local_host.py): a systemd-nspawn container booting a debootstrap image.
# systemd-container without its recommends: libnss-mymachines would rewrite this machine's nsswitch.conf.
HOST_TOOLS := debootstrap:debootstrap systemd-nspawn:systemd-container iptables:iptables git:git
host-deps:
	@missing=""; for pair in $(HOST_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $$missing >/dev/null; \
	  else echo "missing$$missing and cannot install here: the local host cannot run"; exit 1; fi; \
	fi

DISTRO ?= debian-12
up: $(DEPS_STAMP) host-deps
	STACKYARD_DISTRO=$(DISTRO) $(VENV)/bin/python scripts/local_stack.py up $(if $(FRESH),--fresh)

down:
	python3 scripts/local_host.py down

destroy: $(DEPS_STAMP)
	STACKYARD_DISTRO=$(DISTRO) $(VENV)/bin/python scripts/local_stack.py destroy

# pyright's wrapper would ask PyPI on every run whether a newer pyright is out.
lint: $(DEPS_STAMP)
	$(VENV)/bin/ruff check .
	PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(VENV)/bin/pyright

test: deps lint test-unit test-engine test-matrix

# The unit tests spread over every core (pytest-xdist): each test makes its own files, ports and
# servers, and the crash-injection tests are CPU-bound shell.
test-unit: $(DEPS_STAMP)
	$(VENV)/bin/python -m pytest -n auto tests --ignore=tests/engine --ignore=tests/e2e

# The engine tier needs the offline toolchain (the CLI version the tests pin) and a network
# namespace (scripts/offline); without the toolchain it is skipped, and says so.
test-engine: $(DEPS_STAMP) $(POLICY_STAMP)
	@if ! err=$$(STACKYARD_TOOLCHAIN=offline $(TOOLCHAIN) bin 2>&1 >/dev/null); then \
	  echo "SKIPPED: the engine tier (tests/engine), no offline Pulumi toolchain: $$err"; \
	else \
	  echo "scripts/offline $(VENV)/bin/python -m pytest -n auto tests/engine"; \
	  scripts/offline $(VENV)/bin/python -m pytest -n auto tests/engine; \
	fi

# The e2e tier boots the local Debian host (a disk of its own, fresh each run) and stops it at the end.
# It needs root, the host's tools and the offline toolchain; without them it skips, saying which.
test-e2e: $(DEPS_STAMP)
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory host-deps; fi
	STACKYARD_DISTRO=$(DISTRO) $(VENV)/bin/python -m pytest tests/e2e

# The e2e tier on every distribution the local host boots, one after the other (the same tests, the
# distribution from STACKYARD_DISTRO). `make test` runs it: the seeds run Ubuntu 24.04, the local stack Debian 12.
DISTROS := debian-12 ubuntu-24.04
test-matrix: $(DEPS_STAMP)
	@for distro in $(DISTROS); do \
	  echo "== e2e tier on $$distro"; \
	  $(MAKE) --no-print-directory test-e2e DISTRO=$$distro || exit 1; \
	done

# The stack's topology from its stack file alone: docs/topology-$(STACK).{dot,svg,png}.
diagram: $(DEPS_STAMP)
	$(VENV)/bin/python -m components.diagram $(STACK)

bench: $(DEPS_STAMP)
	$(VENV)/bin/python benchmarks/mock_build.py

bench-engine: $(DEPS_STAMP)
	scripts/offline $(VENV)/bin/python benchmarks/engine.py

# The passphrase that decrypts the stack's secrets is the operator's: export PULUMI_CONFIG_PASSPHRASE
# or PULUMI_CONFIG_PASSPHRASE_FILE (the example stack's is stackyard-demo-passphrase, docs/operating.md, "Secrets").
# A cloud whose real plugin is not installed gets stackyard's stand-in (scripts/standin-plugins), and
# the run says so; the stand-ins' cloud then holds what the stack adopts, as the stack file says it is. The policy pack (policy/) runs with it. ARGS go to `pulumi preview`, e.g. ARGS=--diff.
preview: $(DEPS_STAMP) $(POLICY_STAMP)
	@if [ -z "$${PULUMI_CONFIG_PASSPHRASE-}" ] && [ -z "$${PULUMI_CONFIG_PASSPHRASE_FILE-}" ]; then \
	  echo "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: it decrypts the stack's secrets"; exit 1; fi
	@if [ -f Pulumi.$(STACK).yaml ]; then $(VENV)/bin/python -m components.stack_file Pulumi.$(STACK).yaml; fi
	@eval "$$($(TOOLCHAIN) env)"; \
	standins=$$(scripts/standin-plugins $(STANDIN_BIN)); \
	mkdir -p $(STATE_DIR); \
	echo "pulumi $$(pulumi version) from $$(dirname "$$(command -v pulumi)"), state in $$PULUMI_BACKEND_URL"; \
	pulumi stack select --create --secrets-provider passphrase $(STACK) >/dev/null; \
	if [ -n "$$standins" ]; then \
	  export PATH="$$standins:$$PATH" STACKYARD_STANDIN_CLOUD="$(STANDIN_BIN)/cloud"; \
	  pulumi config --show-secrets --json --stack $(STACK) \
	    | PYTHONPATH=tests $(VENV)/bin/python -m standin.seed Pulumi.$(STACK).yaml "$$STACKYARD_STANDIN_CLOUD" -; \
	fi; \
	pulumi preview --stack $(STACK) --policy-pack policy $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache $(STANDIN_BIN)
