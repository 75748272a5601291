#!/usr/bin/env bash
# The tests' Python virtualenv: created (or recreated when tests/requirements.txt
# changed) under ${XDG_CACHE_HOME:-~/.cache}/natop/venv, then its python's
# path printed on stdout. Progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${NATOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/natop}/venv"
requirements="$here/requirements.txt"
stamp="$venv/requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
	echo "==> creating the virtualenv $venv (requirements changed or missing)" >&2
	python3 -m venv --clear "$venv" >&2
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
	echo "$want" >"$stamp"
else
	echo "==> using the virtualenv $venv" >&2
fi
echo "$venv/bin/python"
