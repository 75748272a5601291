# Common commands. `make test` is the test command CI runs (through .ci/run).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all build release crds manifests demo test chaos test-rust test-conformance cluster-up cluster-down bench bench-scale emulator lint fmt ci

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## Regenerate the CRDs (crds/, the chart's, deploy/'s) and their reference
## (docs/crd-reference.md) from the Rust types; tests fail when they drift.
crds:
	$(CARGO) run --quiet --bin natop -- crds --write crds
	$(CARGO) run --quiet --bin natop -- crds --write charts/natop/files/crds
	$(CARGO) run --quiet --bin natop -- crds --write deploy/crds
	$(CARGO) run --quiet --bin natop -- crds --reference > docs/crd-reference.md

## Render deploy/natop.yaml from the Helm chart (a test fails when it drifts).
manifests:
	bash tests/deploy/run.sh --generate

## natop end to end on this machine, no cloud account and no cluster needed:
## a local control plane, the emulator, the operator and deploy/samples/.
## Ctrl-C stops everything it started. DEMO_ARGS=--exit-when-ready stops
## once every sample is Ready.
demo:
	bash tests/demo.sh $(DEMO_ARGS)

## Everything, on a fresh machine: builds (once) and starts a local control
## plane, runs the Rust tests (unit, HTTP-level, emulator, integration) and the
## official-SDK conformance suite, then stops the control plane.
test:
	bash tests/run.sh

## The chaos suite at its full shape (3 gateways, 240 DNAT and 57 SNAT
## entries, faults, 20 SIGKILLs of the operator in the rollout and 5 in the
## delete), once per seed of NATOP_CHAOS_SEEDS (default "1 2 3"); `make test`
## runs it at a smaller shape. Starts a local control plane unless
## NATOP_TEST_KUBECONFIG names one.
chaos:
	bash tests/chaos.sh

## Rust tests only; integration tests need NATOP_TEST_KUBECONFIG (make cluster-up).
test-rust:
	$(CARGO) test --lib --bins --tests

## The official Python SDKs (aliyun-python-sdk-core, ucloud-sdk-python3) drive
## the emulator; the virtualenv is cached under ~/.cache/natop.
test-conformance:
	$(CARGO) build --bin natop
	NATOP_BIN=$${CARGO_TARGET_DIR:-$(CURDIR)/target}/debug/natop bash tests/conformance/run.sh

## A local control plane to poke at with kubectl; the last line printed is
## `export KUBECONFIG=<path>`.
cluster-up:
	@bash tests/cluster/up.sh

cluster-down:
	@bash tests/cluster/down.sh

## Benchmarks print numbers; they assert nothing. The DNAT-table benchmark
## (10 gateways × 100 entries, operator as its own process) starts a local
## control plane unless NATOP_TEST_KUBECONFIG names one.
bench:
	bash benches/run.sh

## The scale benchmark: 100 gateways × 100 DNAT entries (10,000), Pending 1 s,
## operator as its own process; NATOP_BENCH_* variables change the shape
## (README, Benchmarks). Starts a local control plane unless
## NATOP_TEST_KUBECONFIG names one.
bench-scale:
	bash benches/run.sh scale

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
