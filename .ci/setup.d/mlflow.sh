#!/usr/bin/env bash
# The MLflow server the tracking tests start: a project virtualenv with the pinned mlflow (skipped when present).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/mlflow-venv.sh
