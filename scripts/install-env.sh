#!/usr/bin/env bash
# Install the locked environment into VENV: create it (with scripts/find-python.sh's interpreter) if missing,
# install uv (requirements/uv.txt: one version, every wheel's hash) with pip, then `uv sync --locked` installs
# exactly uv.lock's versions of the dependencies and of the EXTRAs named, and this package (editable), and
# removes what the lock does not name. `--locked`: a uv.lock out of step with pyproject.toml is an error
# (run `make lock`). uv reads PyPI, not pip's configuration: the lock's hashes are PyPI's files.
#   scripts/install-env.sh .venv test         # `make venv` (make run, make test)
#   scripts/install-env.sh .venv-gpu cuda12   # scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/install-env.sh VENV [EXTRA...]" >&2; exit 2; }
venv=$1; shift
if [ ! -x "$venv/bin/python" ]; then
  interp=$(scripts/find-python.sh)
  "$interp" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/uv.txt
extras=()
for extra in "$@"; do extras+=(--extra "$extra"); done
UV_PROJECT_ENVIRONMENT=$venv UV_PYTHON_DOWNLOADS=never \
  "$venv/bin/uv" sync --locked --quiet --python "$venv/bin/python" "${extras[@]}"
