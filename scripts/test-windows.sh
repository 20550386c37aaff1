#!/usr/bin/env bash
# Windows x86-64 check (issue 17): cross-compile with mingw-w64 into
# build-windows (Release, warnings as errors, no Python module), then run
# the whole CTest suite under wine, except the consumer tests (they build
# the library again with the host's tools) and the Python ones. Tests that
# need a Linux-only facility skip with the reason printed.
#   scripts/test-windows.sh            (after scripts/install-deps.sh)
# Environment: WM_JOBS (default 2), WM_WINDOWS_BUILD (default build-windows).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${WM_WINDOWS_BUILD:-build-windows}"
jobs="${WM_JOBS:-2}"
mkdir -p "$build"
build=$(realpath "$build")

stage_start=$SECONDS
stage_done() { echo "== windows $1: $((SECONDS - stage_start)) s"; stage_start=$SECONDS; }

echo "== windows: mingw dependencies (cached in $build/deps)"
scripts/build-mingw-deps.sh "$build/deps"
stage_done deps

# One wine prefix for this build folder, made once (wineboot takes a while
# the first time); wine's own messages off. The wine server is kept running
# for the whole stage, so each test process starts without starting one.
export WINEPREFIX="$build/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "== windows: wine prefix"
  wineboot --init >/dev/null 2>&1
fi
wineserver -p
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT
stage_done wine

echo "== windows: cross build"
# WM_BENCH=OFF: the benchmark tools (bench/) call mmap directly; they are
# Linux measurements, not part of the test suite.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake \
  -DWM_MINGW_DEPS_PREFIX="$build/deps" -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON -DWM_PYTHON=OFF -DWM_BENCH=OFF \
  "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$jobs"
stage_done build

echo "== windows: tests under wine"
# The shared library (capi_test links it) sits in the build folder's root.
export WINEPATH="Z:${build//\//\\}"
ctest --test-dir "$build" --output-on-failure -j"$jobs" -LE 'consumer|python' | tee "$build/ctest-summary.txt"
stage_done tests
