#!/usr/bin/env bash
# Creates (or updates) the Python virtual environment the Python package is
# built and tested in: Debian's python3 (which has the headers and venv),
# the packages of scripts/python-requirements.txt. Quick when already done.
#
#   scripts/python-env.sh [VENV]   (default: build-venv in the repository root)
#
# Prints the venv's python on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/build-venv}
requirements=$root/scripts/python-requirements.txt
base_python=${WM_BASE_PYTHON:-/usr/bin/python3}

if [[ ! -x $venv/bin/python ]]; then
  "$base_python" -m venv "$venv" >&2
fi
# Reinstall only when the requirements changed since the last install.
stamp=$venv/.weightmap-requirements
if ! cmp -s "$requirements" "$stamp"; then
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" >&2
  cp "$requirements" "$stamp"
fi
echo "$venv/bin/python"
