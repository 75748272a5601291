#!/usr/bin/env bash
# The test command (`make test`): everything natop's tests need, on a fresh
# machine, with no manual step.
#
#  1. Builds the control plane once per version from Go modules
#     (tests/cluster/build.sh: kube-apiserver, kube-controller-manager and
#     kubectl of the newest and the oldest Kubernetes natop is tested on, and
#     etcd; cached under ~/.cache/natop, reused by later runs).
#  2. On the newest version: starts one local control plane (etcd,
#     kube-apiserver, kube-controller-manager on 127.0.0.1) for the whole
#     run, and stops it on exit, also when a test fails or the run is
#     interrupted; runs the Rust tests (unit, HTTP-level, emulator,
#     integration against the control plane, the CEL rules), then the
#     official-SDK conformance suite against the emulator (its Python
#     virtualenv is cached under ~/.cache/natop), then the shipping suite
#     (tests/deploy: the Helm chart with the real Helm engine, deploy/ and its
#     samples, RBAC, the release binary, docs, make demo).
#  3. The compatibility pass on the oldest version, on a fresh control plane:
#     the Helm install of the chart with its CRDs, `kubectl apply
#     --server-side -k deploy/crds`, the samples brought to Ready by natop
#     running as the chart's ServiceAccount, and every CEL rule.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}"
export NATOP_CACHE_DIR="$cache"
started=$(date +%s)
step() { printf '\n==> [%ss] %s\n' "$(($(date +%s) - started))" "$*"; }

# shellcheck source-path=SCRIPTDIR source=cluster/common.sh
source tests/cluster/common.sh

step "control plane: Kubernetes ${KUBE_VERSIONS[*]} and etcd $ETCD_VERSION (a first build from Go modules takes about 20 minutes per version on 2 cores)"
bash tests/cluster/build.sh --all

export NATOP_CLUSTER_DIR="$cache/test-cluster"
# kubectl of the running control plane's version.
export PATH="$NATOP_CLUSTER_DIR/bin:$PATH"
stop_cluster() { bash tests/cluster/down.sh >/dev/null 2>&1 || true; }
# A run that was killed may have left its control plane behind: stop it first.
stop_cluster
trap 'status=$?; step "stopping the control plane"; stop_cluster; exit $status' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_cluster() { # VERSION
	stop_cluster
	step "starting a local control plane: Kubernetes $1"
	local line
	line="$(NATOP_KUBE_VERSION=$1 bash tests/cluster/up.sh | tail -n 1)"
	export NATOP_TEST_KUBECONFIG="${line#export KUBECONFIG=}"
	# The server is the version asked for, as its own kubectl reports it.
	local server
	server="$(kubectl --kubeconfig "$NATOP_TEST_KUBECONFIG" version -o json |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"
	[[ $server == "$1" ]] || { echo "the control plane reports $server, not $1" >&2; exit 1; }
	echo "control plane ready (kubectl version: server $server): NATOP_TEST_KUBECONFIG=$NATOP_TEST_KUBECONFIG"
}

start_cluster "$KUBE_NEWEST"

step "Rust tests on Kubernetes $KUBE_NEWEST: unit, HTTP-level, emulator, integration, CEL rules"
cargo test --lib --bins --tests

step "official-SDK conformance suite against the emulator"
cargo build --quiet --bin natop
NATOP_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/natop" bash tests/conformance/run.sh

step "shipping suite on Kubernetes $KUBE_NEWEST: Helm chart, deploy/, RBAC, release binary, docs, make demo"
bash tests/deploy/run.sh

start_cluster "$KUBE_OLDEST"
step "compatibility pass on Kubernetes $KUBE_OLDEST: Helm install with CRDs, kubectl apply --server-side -k deploy/crds, the samples, the CEL rules"
NATOP_FRESH_CLUSTER=1 bash tests/deploy/run.sh -m compat
cargo test --test integration cel_rules::

step "all tests passed"
