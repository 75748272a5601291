#!/usr/bin/env bash
# The test command (`make test`): everything natop's tests need, on a fresh
# machine, with no manual step.
#
#  1. Builds kube-apiserver and kube-controller-manager v1.20.2 from Debian's
#     source package once (tests/cluster/build.sh; cached under
#     ~/.cache/natop, reused by later runs).
#  2. Starts one local control plane (etcd, kube-apiserver,
#     kube-controller-manager on 127.0.0.1) for the whole run, and stops it on
#     exit, also when a test fails or the run is interrupted.
#  3. Runs the Rust tests (unit, HTTP-level, emulator, integration against the
#     control plane), then the official-SDK conformance suite against the
#     emulator (its Python virtualenv is cached under ~/.cache/natop), then the
#     shipping suite (tests/deploy: the Helm chart with the real Helm engine,
#     deploy/ and its samples, RBAC, the release binary, docs, make demo).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}"
export NATOP_CACHE_DIR="$cache"
started=$(date +%s)
step() { printf '\n==> [%ss] %s\n' "$(($(date +%s) - started))" "$*"; }

step "control-plane binaries (a first build takes about 5 minutes on 2 cores)"
bash tests/cluster/build.sh

export NATOP_CLUSTER_DIR="$cache/test-cluster"
stop_cluster() { bash tests/cluster/down.sh >/dev/null 2>&1 || true; }
# A run that was killed may have left its control plane behind: stop it first.
stop_cluster
trap 'status=$?; step "stopping the control plane"; stop_cluster; exit $status' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "starting the local control plane"
kubeconfig_line="$(bash tests/cluster/up.sh | tail -n 1)"
export NATOP_TEST_KUBECONFIG="${kubeconfig_line#export KUBECONFIG=}"
echo "control plane ready: NATOP_TEST_KUBECONFIG=$NATOP_TEST_KUBECONFIG"

step "Rust tests: unit, HTTP-level, emulator, integration"
cargo test --lib --bins --tests

step "official-SDK conformance suite against the emulator"
cargo build --quiet --bin natop
NATOP_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/natop" bash tests/conformance/run.sh

step "shipping suite: Helm chart, deploy/, RBAC, release binary, docs, make demo"
bash tests/deploy/run.sh

step "all tests passed"
