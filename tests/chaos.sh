#!/usr/bin/env bash
# `make chaos`: the chaos suite (tests/chaos.rs) at its full shape, once per
# seed of NATOP_CHAOS_SEEDS (default "1 2 3"). It needs a control plane: with
# NATOP_TEST_KUBECONFIG set it uses that one, otherwise it starts a local one
# (as `make test` does) and stops it on exit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}"
export NATOP_CACHE_DIR="$cache"
export NATOP_CHAOS_SHAPE="${NATOP_CHAOS_SHAPE:-full}"

cargo build --tests --quiet
if [[ -z "${NATOP_TEST_KUBECONFIG:-}" ]]; then
    NATOP_KUBE_VERSION=newest bash tests/cluster/build.sh
    export NATOP_CLUSTER_DIR="$cache/chaos-cluster"
    stop_cluster() { bash tests/cluster/down.sh >/dev/null 2>&1 || true; }
    stop_cluster
    trap 'stop_cluster' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    kubeconfig_line="$(NATOP_KUBE_VERSION=newest bash tests/cluster/up.sh | tail -n 1)"
    export NATOP_TEST_KUBECONFIG="${kubeconfig_line#export KUBECONFIG=}"
fi
for seed in ${NATOP_CHAOS_SEEDS:-1 2 3}; do
    echo "==> chaos suite, shape $NATOP_CHAOS_SHAPE, seed $seed"
    NATOP_CHAOS_SEED="$seed" cargo test --quiet --test chaos
done
