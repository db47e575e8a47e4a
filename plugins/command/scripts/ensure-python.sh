#!/usr/bin/env bash
# Create (idempotently) the Python virtual environment the example trainers
# and the command plugin's tests use, and print its python path on stdout.
#
#   plugins/command/scripts/ensure-python.sh            # → /…/.grokmap/venv/bin/python
#   GROKMAP_VENV=/tmp/venv plugins/command/scripts/ensure-python.sh
#
# The environment is rebuilt only when examples/requirements.txt changes
# (its hash is stored next to the venv). Progress goes to stderr, so
# `PY=$(ensure-python.sh)` captures just the path.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="${GROKMAP_VENV:-$root/.grokmap/venv}"
requirements="$root/examples/requirements.txt"
python="${PYTHON:-python3}"

hash_of() { sha256sum "$1" | cut -d' ' -f1; }
want="$(hash_of "$requirements")"
stamp="$venv/.requirements.sha256"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

mkdir -p "$(dirname "$venv")"
lock="$venv.lock"
# Serialize concurrent callers (parallel test files) on one lock file.
exec 9>"$lock"
flock 9
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating $venv" >&2
  "$python" -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" >&2
echo "$want" >"$stamp"
echo "$venv/bin/python"
