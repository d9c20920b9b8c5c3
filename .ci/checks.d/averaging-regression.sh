#!/usr/bin/env bash
# Accuracy regression check of single-task training: runs (or reuses) experiments/averaging-ci.yaml (plain SGD and
# local SGD on Fashion-MNIST) and compares test accuracy with results/baselines/averaging-ci.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
pnpm exec reptile-bench check --suite averaging-ci --workers 1 --progress lines
