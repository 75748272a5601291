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

venv="${XDG_CACHE_HOME:-$HOME/.cache}/natop/venv"
requirements="$here/requirements.txt"
stamp="$venv/requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "==> creating the virtualenv $venv (requirements changed or missing)"
    python3 -m venv --clear "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
    cp "$requirements" "$venv/requirements.txt"
else
    echo "==> using the virtualenv $venv"
fi

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
"$venv/bin/python" -m pytest tests/conformance -q "$@"
status=$?
set -e
echo "==> pytest exited with status $status"
exit "$status"
