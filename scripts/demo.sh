#!/usr/bin/env bash
# README command 1: install what is needed, build (Release), run `weightmap demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON >/dev/null
cmake --build build -j2
build/weightmap demo "$@"
