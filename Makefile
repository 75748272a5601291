# Common commands. `make test` is the test command CI runs (through .ci/run).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all build release test test-rust test-conformance bench emulator lint fmt ci

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## Everything: Rust tests (unit, HTTP-level, emulator, command line), then the
## official-SDK conformance suite against the emulator.
test: test-rust test-conformance

test-rust:
	$(CARGO) test --lib --bins --tests

## The official Python SDKs (aliyun-python-sdk-core, ucloud-sdk-python3) drive
## the emulator; the virtualenv is cached under ~/.cache/natop.
test-conformance:
	$(CARGO) build --bin natop
	NATOP_BIN=$(CURDIR)/target/debug/natop bash tests/conformance/run.sh

## Benchmarks print numbers; they assert nothing.
bench:
	$(CARGO) bench --bench emulator_throughput

## Run the emulator on 127.0.0.1:8787 with the built-in fixture.
emulator:
	$(CARGO) run --bin natop -- emulator --listen 127.0.0.1:8787

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

ci:
	bash .ci/run
