#!/usr/bin/env bash
# Linux arm64: cross-compile with Debian's g++-aarch64-linux-gnu and the
# multiarch :arm64 packages (cmake/toolchains/aarch64-linux-gnu.cmake), then
# run the CTest suite under qemu-aarch64 (the toolchain file makes it
# CTest's emulator), except the labels that cannot apply to a cross build:
#   consumer  builds weightmap again with the host's compilers;
#   python    the Python package (WM_PYTHON=OFF here).
# Tests that qemu-user cannot run skip themselves, saying why (WM_TEST_EMULATOR).
# Release, warnings as errors, no benchmark tools; the build folder is
# $WM_ARM64_BUILD (default build-arm64). Set CMAKE_CXX_COMPILER_LAUNCHER=ccache
# (and the C one) in the environment to reuse objects between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${WM_ARM64_BUILD:-build-arm64}

start=$SECONDS
echo "== arm64 cross build ($build)"
# -O1: the cross compiler spends most of its time optimising (-O3 takes
# 1.3-1.9x as long per file), and under qemu speed means nothing.
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG" \
  -DWM_WERROR=ON -DWM_PYTHON=OFF -DWM_BENCH=OFF -DWM_PCH=ON >/dev/null
cmake --build "$build" -j2
echo "== arm64 build: $((SECONDS - start)) s"

start=$SECONDS
echo "== arm64 tests under qemu-aarch64"
rc=0
ctest --test-dir "$build" --output-on-failure -j2 -LE 'consumer|python' || rc=$?
echo "== arm64 tests: $((SECONDS - start)) s"
exit $rc
