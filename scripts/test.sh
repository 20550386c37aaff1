#!/usr/bin/env bash
# README command 2 (and CI): install what is needed, then
#   1. Release build with warnings as errors, every test through CTest;
#   2. ASan+UBSan build, every test again;
#   3. every libFuzzer target for WM_FUZZ_SECONDS (default 30) each.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT

echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2 | tee -a "$summary"

echo "== ASan+UBSan build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DWM_WERROR=ON -DWM_SANITIZE=ON >/dev/null
cmake --build build-asan -j2
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -j2 \
  | tee -a "$summary"

echo "== fuzzing"
fuzz/run.sh "${WM_FUZZ_SECONDS:-30}"

# One closing line for both test runs (ctest's own lines are above).
total=$(grep -o 'out of [0-9]*' "$summary" | awk '{n += $3} END {print n}')
failed=$(grep -o '[0-9]* tests failed' "$summary" | awk '{n += $1} END {print n}')
echo "tests: $((total - failed)) passed, $failed failed"
