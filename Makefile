# Common commands. `make test` is the test command CI runs (through .ci/run).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all build release test lint fmt ci

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## Everything: unit tests, HTTP-level client tests and command-line tests.
test:
	$(CARGO) test --all-targets

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

ci:
	bash .ci/run
