#!/usr/bin/env bash
# `make bench`: every benchmark but the scale one; `make bench-scale`
# (`benches/run.sh scale`): the scale benchmark alone. The DNAT-table and
# scale benchmarks need a control plane: with NATOP_TEST_KUBECONFIG set they
# use that one, otherwise this starts a local one (as `make test` does) and
# stops it on exit.
set -euo pipefail

which="${1:-default}"
case "$which" in
default | scale) ;;
*)
    echo "usage: $0 [scale]" >&2
    exit 2
    ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}"
export NATOP_CACHE_DIR="$cache"

if [[ "$which" == default ]]; then
    cargo bench --bench emulator_throughput
    cargo bench --bench cache_cost
fi

if [[ -z "${NATOP_TEST_KUBECONFIG:-}" ]]; then
    NATOP_KUBE_VERSION=newest bash tests/cluster/build.sh
    export NATOP_CLUSTER_DIR="$cache/bench-cluster"
    stop_cluster() { bash tests/cluster/down.sh >/dev/null 2>&1 || true; }
    stop_cluster
    trap 'stop_cluster' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    kubeconfig_line="$(NATOP_KUBE_VERSION=newest bash tests/cluster/up.sh | tail -n 1)"
    export NATOP_TEST_KUBECONFIG="${kubeconfig_line#export KUBECONFIG=}"
fi
if [[ "$which" == scale ]]; then
    cargo bench --bench scale
else
    cargo bench --bench dnat_tables
fi
