#!/usr/bin/env bash
# Prepares a run of scripts/gpu-check.sh on a GPU machine that cannot build:
# builds the CLI and the gpu test program with -DWM_CUDA=ON (into
# build-cuda/, configured as the CI's cuda stage) and gathers them into
# build-gpu/ (about 9 MB: a device run carries at most 64 MiB). There:
#   scripts/gpu-check.sh --build build-gpu      (with build-gpu carried)
# gpu-check.sh runs the test program directly when the machine has no ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON -DWM_CUDA=ON "-DCMAKE_CUDA_COMPILER=$nvcc" \
  -DWM_BENCH=OFF -DWM_TESTS_ONLY=gpu_cuda_device_test >/dev/null
cmake --build build-cuda -j2 --target weightmap_cli gpu_cuda_device_test
rm -rf build-gpu
mkdir -p build-gpu/tests
cp build-cuda/weightmap build-gpu/
cp build-cuda/tests/gpu_cuda_device_test build-gpu/tests/
du -sh build-gpu
