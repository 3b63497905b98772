# registryops.harbor: set-up, demo and tests.
#
#   make demo    install what is missing, start the lab's nine Harbors, run playbooks/site.yml, stop them
#   make test    install what is missing, run the whole test suite
#   make bench   run the benchmarks (figures, not pass/fail)
#   make lint    ansible-lint (production profile);  make sanity: ansible-test sanity
#   make venv    only the Python side: .venv with pinned packages, the emulator, the collection link,
#                the test-only collections (community.docker, ansible.posix from the pinned `ansible` wheel)
#   make deps    only the Debian side: docker-registry and PostgreSQL (apt, when root); as root also
#                docker.io and debootstrap (the molecule scenarios' engine and test-host image)
#   make molecule  only the molecule scenarios (dockerd, test-host image, `molecule test` each)
#   make vcsim   only build the lab's vCenter simulator (Go, offline; docs/vcsim.md)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQUIREMENTS := requirements.txt requirements-test.txt lab/pyproject.toml
# The stamp changes whenever a pin changes, so `make venv` reinstalls exactly then.
REQ_HASH := $(shell cat $(REQUIREMENTS) 2>/dev/null | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)
COLLECTION_LINK := .collections/ansible_collections/registryops/harbor

# Debian packages the tests and the demo use (skopeo is optional: installed when we can).
DEB_REQUIRED := docker-registry postgresql
DEB_OPTIONAL := skopeo

.PHONY: venv deps collections demo test molecule vcsim lint sanity bench clean help

help:
	@sed -n '2,13p' Makefile

venv: $(STAMP) $(COLLECTION_LINK) collections

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make venv: $(PYTHON) must be Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install -q -e lab
	rm -f $(VENV)/.installed-*
	touch $@

# The collection is this checkout: ansible.cfg points collections_path at .collections.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

# community.docker and ansible.posix for molecule, extracted from the pinned `ansible` wheel (stamped).
collections: $(STAMP)
	lab/bin/install-collections

deps:
	@missing=""; \
	command -v docker-registry >/dev/null || missing="$$missing docker-registry"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v runuser >/dev/null || missing="$$missing util-linux"; \
	test -x /usr/sbin/haproxy || missing="$$missing haproxy"; \
	test -x /usr/sbin/keepalived || missing="$$missing keepalived"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v go >/dev/null || missing="$$missing golang-go"; \
	[ -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ] || missing="$$missing golang-github-vmware-govmomi-dev"; \
	[ -d /usr/share/gocode/src/github.com/google/uuid ] || missing="$$missing golang-github-google-uuid-dev"; \
	if [ "$$(id -u)" = 0 ]; then \
		command -v dockerd >/dev/null || missing="$$missing docker.io"; \
		command -v debootstrap >/dev/null || missing="$$missing debootstrap"; \
	fi; \
	optional=""; command -v skopeo >/dev/null || optional="skopeo"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make deps: missing Debian packages:$$missing (run as root, or: apt-get install$$missing $$optional)" >&2; \
		exit 1; \
	fi; \
	echo "make deps: installing$$missing $$optional"; \
	lab/bin/apt-install $$missing -- $$optional

demo: deps venv
	@trap 'lab/bin/lab-fleet stop inventories/lab >/dev/null' EXIT; \
	lab/bin/lab-fleet start inventories/lab && \
	$(VENV)/bin/ansible-playbook -i inventories/lab playbooks/site.yml

# Static checks first (ansible-lint production profile, ansible-test sanity), then pytest:
# unit, emulator, conformance and integration tests.
test: deps venv lint sanity
	$(PY) -m pytest tests -q --timeout=900

# The molecule scenarios alone (also part of `make test`): starts dockerd and builds the test-host image.
molecule: deps venv
	$(PY) -m pytest tests/molecule -q -s --timeout=1500

# The lab's vCenter simulator (LAB ONLY); reused when current. tests/vcsim builds it too.
vcsim: deps
	lab/vcsim/build

lint: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ansible-lint

sanity: venv
	tests/sanity/run.sh

bench: venv
	$(PY) benchmarks/emulator_throughput.py
	$(PY) benchmarks/fanout.py
	@echo "benchmarks/state_scale.py (state against the per-object loop, N up to 1000) takes about 15 minutes: run it alone"
	@echo "  (--sizes 1000 --skip-loop --output DIR: the state rows only, in a few minutes, without touching benchmarks/results)"

clean:
	rm -rf .collections .lab .pytest_cache
