#!/usr/bin/env bash
# Fashion-MNIST's official IDX files for the dataset tests and the averaging experiments: Debian's
# `dataset-fashion-mnist` (MIT, 30 MB, installs into /usr/share/datasets/fashion-mnist). Skipped when present or when
# FASHION_MNIST_DIR points at a copy; elsewhere the loader downloads the files (size and sha256 checked).
set -euo pipefail
dir=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ -e "$dir/train-images-idx3-ubyte.gz" ] || [ -e "$dir/train-images-idx3-ubyte" ]; then
  echo "fashion-mnist: found $dir"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends dataset-fashion-mnist
ls /usr/share/datasets/fashion-mnist
