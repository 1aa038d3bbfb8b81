#!/usr/bin/env bash
# The lower bounds' environment in VENV (default .venv-lowest): every direct dependency of the core and of the
# `test` extra at the lowest version pyproject.toml allows (`uv pip compile --resolution lowest-direct`; their
# own dependencies at the highest that fit), this package editable on top. `make test-lowest` runs the tests in it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv-lowest}
if [ ! -x "$venv/bin/python" ]; then
  interp=$(scripts/find-python.sh)
  "$interp" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/uv.txt
export UV_PYTHON_DOWNLOADS=never
"$venv/bin/uv" pip compile pyproject.toml --extra test --resolution lowest-direct --python "$venv/bin/python" \
  --quiet --no-header -o "$venv/lowest.txt"
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -r "$venv/lowest.txt"
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" --no-deps -e .
echo "lowest direct versions: $venv/lowest.txt"
