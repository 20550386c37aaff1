#!/usr/bin/env bash
# README command 2 (and CI): install what is needed, then
#   1. Release build with warnings as errors, every test through CTest;
#      then the Python package: its pytest suite (in the venv that
#      scripts/python-env.sh makes, packages pinned in
#      scripts/python-requirements.txt) and a wheel built and installed as
#      `pip install .` would;
#   2. ASan+UBSan build, every test again;
#   3. ThreadSanitizer build, the concurrency tests (threads loading,
#      using and releasing models at once; the prefetcher; the mmap limiter;
#      the C API read from several threads);
#   4. every libFuzzer target for WM_FUZZ_SECONDS (default 15) each.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
stage_start=$SECONDS
stage_done() { echo "== $1: $((SECONDS - stage_start)) s"; stage_start=$SECONDS; }

echo "== release build and tests"
# With the Python extension (WM_PYTHON), built against the venv's Python.
python=$(scripts/python-env.sh | tail -1)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON -DWM_PYTHON=ON "-DPython_EXECUTABLE=$python" >/dev/null
cmake --build build -j2
# -LE python: the pytest suite runs next, on its own, so its own count shows.
ctest --test-dir build --output-on-failure -j2 -LE python | tee -a "$summary"
stage_done release

echo "== Python package tests"
# build/python/weightmap is the package as the release build laid it out.
PYTHONPATH=build/python "$python" -m pytest tests/python -q -p no:cacheprovider | tee -a "$summary"
scripts/check-python-wheel.sh --clean
stage_done python

echo "== ASan+UBSan build and tests"
# -g1 (line tables): enough for sanitizer stack traces, and quicker to build and link than full -g.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DWM_WERROR=ON -DWM_SANITIZE=ON \
  -DWM_BENCH=OFF >/dev/null
cmake --build build-asan -j2
# -LE consumer: the consumer tests (install, find_package, pkg-config,
# add_subdirectory) build the library three more times; the release stage runs them.
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -j2 -LE consumer \
  | tee -a "$summary"
stage_done asan

echo "== ThreadSanitizer build and concurrency tests"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DWM_WERROR=ON -DWM_TSAN=ON \
  -DWM_TOOLS=OFF -DWM_BENCH=OFF "-DWM_TESTS_ONLY=concurrency_test;prefetch_test;mmap_limits_test;capi_test" >/dev/null
cmake --build build-tsan -j2
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" WM_STRESS_SECONDS=3 \
  ctest --test-dir build-tsan --output-on-failure -j2 -LE consumer | tee -a "$summary"
stage_done tsan

echo "== fuzzing"
fuzz/run.sh "${WM_FUZZ_SECONDS:-15}"
stage_done fuzz

# One closing line for the test runs (ctest's and pytest's own lines are above).
total=$(grep -o 'out of [0-9]*' "$summary" | awk '{n += $3} END {print n}')
failed=$(grep -o '[0-9]* tests failed' "$summary" | awk '{n += $1} END {print n}')
py_passed=$(grep -Eo '^[0-9]+ passed' "$summary" | awk '{n += $1} END {print n + 0}')
echo "tests: $((total - failed + py_passed)) passed, $failed failed"
