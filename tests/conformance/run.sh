#!/usr/bin/env bash
# Run the emulator conformance suite (official Alibaba Cloud and UCloud Python
# SDKs against `natop emulator`). Extra arguments go to pytest.
#
#   bash tests/conformance/run.sh                 # whole suite
#   bash tests/conformance/run.sh -k dnat -x      # a subset
#   NATOP_BIN=/path/to/natop bash tests/conformance/run.sh   # skip the build
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

python="$(bash "$root/tests/python.sh")"

if [[ -z "${NATOP_BIN:-}" ]]; then
    echo "==> building natop (cargo build --bin natop)"
    cargo build --quiet --bin natop
    NATOP_BIN="$root/target/debug/natop"
fi
export NATOP_BIN
# Keep __pycache__ out of the source tree.
export PYTHONDONTWRITEBYTECODE=1
echo "==> emulator binary: $NATOP_BIN"

echo "==> running pytest tests/conformance $*"
set +e
"$python" -m pytest tests/conformance -q "$@"
status=$?
set -e
echo "==> pytest exited with status $status"
exit "$status"
