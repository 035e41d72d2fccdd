# notification-hub developer commands. `make test` is what CI runs (.ci/run).
#
# Recipes run in bash with -e -u -o pipefail, so a failing command anywhere in a pipeline fails
# the target.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

CARGO ?= cargo
# Extra arguments for `make run`, e.g. `make run ARGS=--version`.
ARGS ?=

.PHONY: help fmt fmt-check lint helm-check api-fuzz test bench run build doc clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{ printf "  make %-11s %s\n", $$1, $$2 }'

fmt: ## format every crate
	$(CARGO) fmt --all

fmt-check: ## fail if any file is not formatted
	$(CARGO) fmt --all -- --check

lint: ## clippy on every crate, target and feature, warnings are errors
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

helm-check: ## helm lint + template + schema validation of helm/notification-hub (tools go to .tools/)
	scripts/helm-check.sh

api-fuzz: ## schemathesis against the built binary: every operation and check (tools go to .tools/)
	$(CARGO) build -p notification-hub
	scripts/api-fuzz.sh

test: ## fmt-check + lint + helm-check + api-fuzz + every test (nextest if installed) + doctests, then one summary line
	@CARGO="$(CARGO)" scripts/test-summary.sh

bench: ## the performance matrix (release build, embedded + PG/Redis/Kafka); writes docs/performance.md. Not part of test
	@CARGO="$(CARGO)" scripts/bench.sh

run: ## run the binary (embedded defaults, no setup)
	$(CARGO) run -p notification-hub -- $(ARGS)

build: ## build every crate
	$(CARGO) build --workspace --all-targets

doc: ## API docs of the workspace crates (target/doc)
	$(CARGO) doc --workspace --no-deps --all-features

clean: ## remove build output
	$(CARGO) clean
