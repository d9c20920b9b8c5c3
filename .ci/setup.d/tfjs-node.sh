#!/usr/bin/env bash
# The tensorflow backend's tests need @tensorflow/tfjs-node, built here against the TensorFlow C library of the
# pinned PyPI wheel (scripts/tfjs-node.mjs; the wheel is cached in .cache/wheels, the install returns at once
# when current). Where this machine cannot install it (no pip, no network, another platform) the reason is
# printed and recorded, and those tests report themselves as skipped with it; a real failure (a build error, a
# wrong hash) fails this step.
set -uo pipefail
cd "$(dirname "$0")/../.."
node scripts/tfjs-node.mjs
status=$?
if [ "$status" -eq 2 ]; then
  echo "tfjs-node: not installed on this machine (reason above); the tensorflow backend tests will be SKIPPED"
  exit 0
fi
exit "$status"
