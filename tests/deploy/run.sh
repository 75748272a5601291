#!/usr/bin/env bash
# The shipping suite: the Helm chart (real Helm engine), deploy/ and its
# samples, least-privilege RBAC, the release binary as the image runs it, the
# docs' Argo CD health check and Grafana dashboard, and `make demo`.
#
#   NATOP_TEST_KUBECONFIG=... bash tests/deploy/run.sh        # whole suite
#   NATOP_TEST_KUBECONFIG=... bash tests/deploy/run.sh -k rbac
#   bash tests/deploy/run.sh --generate    # only render deploy/natop.yaml
#
# Needs a local control plane (tests/run.sh starts one; or make cluster-up).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
python="$(bash "$root/tests/python.sh")"
# Keep __pycache__ out of the source tree.
export PYTHONDONTWRITEBYTECODE=1

if [[ "${1:-}" == "--generate" ]]; then
	exec "$python" "$here/generate.py"
fi

if [[ -z "${NATOP_TEST_KUBECONFIG:-}" ]]; then
	echo "tests/deploy: set NATOP_TEST_KUBECONFIG (make cluster-up prints it), or run make test" >&2
	exit 2
fi
target="${CARGO_TARGET_DIR:-$root/target}"
echo "==> building natop (debug and release)"
cargo build --quiet --bin natop
cargo build --quiet --release --bin natop
export NATOP_BIN="$target/debug/natop"
export NATOP_RELEASE_BIN="$target/release/natop"

echo "==> running pytest tests/deploy $*"
set +e
"$python" -m pytest "$here" -q "$@"
status=$?
set -e
echo "==> pytest exited with status $status"
exit "$status"
