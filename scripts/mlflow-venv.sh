#!/usr/bin/env bash
# Creates the project virtualenv with the pinned MLflow server (scripts/mlflow-requirements.txt), or does
# nothing when it is already there. The venv is <repo>/.venv unless REPTILE_BENCH_MLFLOW_VENV names another.
# Prints the venv's path on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${REPTILE_BENCH_MLFLOW_VENV:-$root/.venv}
requirements=$root/scripts/mlflow-requirements.txt
stamp=$venv/.mlflow-requirements
python=${PYTHON:-python3}

up_to_date() { [ -x "$venv/bin/mlflow" ] && cmp -s "$requirements" "$stamp"; }

if up_to_date; then echo "$venv"; exit 0; fi

if ! command -v "$python" >/dev/null 2>&1; then
  echo "mlflow-venv: '$python' was not found; the MLflow server needs Python 3.10 or newer (install python3, or set PYTHON=/path/to/python3)" >&2
  exit 1
fi
if ! "$python" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "mlflow-venv: $("$python" --version 2>&1) cannot run the pinned MLflow; Python 3.10 or newer with the venv module is required" >&2
  exit 1
fi

mkdir -p "$venv"
# Several test files (or CI and a developer) may ask at once: one installs, the others wait and reuse it.
exec 9>"$venv/.install.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if up_to_date; then echo "$venv"; exit 0; fi

echo "mlflow-venv: installing $(grep -v '^#' "$requirements" | tr '\n' ' ')into $venv (one-time, 1-3 minutes)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2
"$venv/bin/mlflow" --version >&2
cp "$requirements" "$stamp"
echo "$venv"
