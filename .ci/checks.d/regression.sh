#!/usr/bin/env bash
# Accuracy regression check: runs (or reuses) experiments/ci.yaml and compares every configuration with
# results/baselines/ci.json; fails when a metric is worse than its baseline by more than the stated tolerance.
set -euo pipefail
cd "$(dirname "$0")/../.."
pnpm exec reptile-bench check --suite ci --workers auto --progress lines
