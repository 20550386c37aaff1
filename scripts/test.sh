#!/usr/bin/env bash
# README command 2 (and CI): install what is needed, then run the stages
# named in WM_STAGES (default, in this order:
# "release cuda python asan tsan arm64 windows fuzz";
# an unknown name is an error):
#   release  Release build with warnings as errors, every test through CTest
#            (the consumer tests included: weightmap installed shared and
#            static, used through find_package, pkg-config, add_subdirectory;
#            and the ggml adapter's, against the pinned ggml that
#            scripts/ggml.sh fetches and builds);
#   cuda     the cuda device built with -DWM_CUDA=ON (nvcc, the static CUDA
#            runtime; warnings as errors), the CLI and the device tests run:
#            the "gpu" tests skip without a GPU, printing why
#            (scripts/gpu-check.sh runs them on a GPU machine);
#   python   the Python package: its pytest suite (in the venv that
#            scripts/python-env.sh makes, packages pinned in
#            scripts/python-requirements.txt) and a wheel built and installed
#            as `pip install .` would;
#   asan     ASan+UBSan build, every test again;
#   tsan     ThreadSanitizer build, the concurrency tests (threads loading,
#            using and releasing models at once; the prefetcher; the mmap
#            limiter; the C API read from several threads);
#   arm64    Linux arm64: cross build, every test under qemu-aarch64
#            (scripts/test-arm64.sh);
#   windows  Windows x86-64: mingw-w64 cross build, every test under wine
#            (scripts/test-windows.sh);
#   fuzz     every libFuzzer target for WM_FUZZ_SECONDS (default 10) each.
# Each stage prints its time; the release and python stages also ccache's hits.
#   WM_STAGES="release python" scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

all_stages="release cuda python asan tsan arm64 windows fuzz"
stages="${WM_STAGES-$all_stages}"
[ -n "${stages// /}" ] || { echo "WM_STAGES is empty (stages: $all_stages)" >&2; exit 2; }
for s in $stages; do
  [[ " $all_stages " == *" $s "* ]] || { echo "WM_STAGES: unknown stage '$s' (stages: $all_stages)" >&2; exit 2; }
done
wanted() { [[ " $stages " == *" $1 "* ]]; }

scripts/install-deps.sh

summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
stage_start=$SECONDS
stage_done() { echo "== $1: $((SECONDS - stage_start)) s"; stage_start=$SECONDS; }

# ccache, with its own cache in the clone (build-ccache/): the release build,
# the consumer tests' library builds (they get the launcher through
# WM_CXX_LAUNCHER) and the wheel compile the library's sources with the same
# flags, so each object is compiled once in a run. No CCACHE_BASEDIR: those
# build folders lie at different depths, so paths made relative to each
# would differ and miss, while the absolute ones are the same. The sanitizer
# and fuzz builds share nothing with these or each other: no launcher there
# (a miss costs an extra preprocessor run).
export CCACHE_DIR="$PWD/build-ccache"
unset CCACHE_BASEDIR
ccache_launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
ccache_stats() {  # one line: this stage's compilations, and how many came from the cache
  ccache --print-stats | awk -F'\t' -v stage="$1" '
    {v[$1] = $2}
    END {hits = v["direct_cache_hit"] + v["preprocessed_cache_hit"]; n = hits + v["cache_miss"]
         printf "== %s: ccache %d of %d compilations from the cache (%d direct, %d preprocessed), %d compiled;" \
                " %d with a precompiled header (tests) not cacheable\n", stage, hits, n, v["direct_cache_hit"],
                v["preprocessed_cache_hit"], v["cache_miss"], v["could_not_use_precompiled_header"]}'
  ccache --zero-stats >/dev/null
}
ccache --zero-stats >/dev/null

# The release build (with the Python extension, WM_PYTHON, built against the venv's Python).
python=""
if wanted release || wanted python; then
  python=$(scripts/python-env.sh | tail -1)
  # The ggml adapter builds with the release build: ggml itself, pinned, is
  # fetched and built by scripts/ggml.sh (CPU backend, into build-ggml/).
  ggml_start=$SECONDS
  ggml_prefix=$(scripts/ggml.sh | tail -1)
  echo "== ggml (fetched and built for the adapter): $((SECONDS - ggml_start)) s"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON -DWM_PYTHON=ON "-DPython_EXECUTABLE=$python" \
    -DWM_GGML=ON "-DCMAKE_PREFIX_PATH=$ggml_prefix" "-DWM_GGML_SOURCE_DIR=$PWD/build-ggml/src" \
    "${ccache_launcher[@]}" >/dev/null
fi

if wanted release; then
  echo "== release build and tests"
  cmake --build build -j2
  # -LE python: the pytest suite runs next, on its own, so its own count shows.
  ctest --test-dir build --output-on-failure -j2 -LE python | tee -a "$summary"
  # The consumer tests' own times (each library build is one of them).
  awk '/Test +#[0-9]+: consumer_/ {s += $(NF - 1); n++} END {printf "== consumer tests: %d, %.0f s in all\n", n, s}' "$summary"
  ccache_stats release
  stage_done release
fi

if wanted cuda; then
  echo "== CUDA build (compile and link: no GPU here) and the device tests"
  nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  [ -x "$nvcc" ] || { echo "cuda stage: nvcc not found (the CUDA toolkit is expected on these machines)" >&2; exit 1; }
  # The library's other objects are the release build's (ccache); only the
  # cuda device, its kernels and the gpu test program are new (the device
  # tests that need no CUDA ran in the release stage).
  cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON -DWM_CUDA=ON "-DCMAKE_CUDA_COMPILER=$nvcc" \
    -DWM_BENCH=OFF -DWM_TESTS_ONLY=gpu_cuda_device_test \
    "${ccache_launcher[@]}" >/dev/null
  cmake --build build-cuda -j2
  ctest --test-dir build-cuda --output-on-failure -j2 | tee -a "$summary"
  ccache_stats cuda
  stage_done cuda
fi

if wanted python; then
  echo "== Python package tests"
  # build/python/weightmap is the package as the release build laid it out
  # (built here when the release stage did not run).
  cmake --build build -j2 --target wm_native
  PYTHONPATH=build/python "$python" -m pytest tests/python -q -p no:cacheprovider | tee -a "$summary"
  scripts/check-python-wheel.sh --clean
  ccache_stats python
  stage_done python
fi

if wanted asan; then
  echo "== ASan+UBSan build and tests"
  # -g1 (line tables): enough for sanitizer stack traces, and quicker to build and link than full -g.
  # WM_PCH: no ccache here, so the headers are parsed once (CMakeLists.txt).
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DWM_WERROR=ON -DWM_SANITIZE=ON \
    -DWM_BENCH=OFF -DWM_PCH=ON >/dev/null
  cmake --build build-asan -j2
  # -LE consumer: the consumer tests (install, find_package, pkg-config,
  # add_subdirectory) build the library three more times; the release stage runs them.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -j2 -LE consumer \
    | tee -a "$summary"
  stage_done asan
fi

if wanted tsan; then
  echo "== ThreadSanitizer build and concurrency tests"
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DWM_WERROR=ON -DWM_TSAN=ON \
    -DWM_TOOLS=OFF -DWM_BENCH=OFF -DWM_PCH=ON "-DWM_TESTS_ONLY=concurrency_test;prefetch_test;mmap_limits_test;capi_test;exchange_test" >/dev/null
  cmake --build build-tsan -j2
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" WM_STRESS_SECONDS=3 \
    ctest --test-dir build-tsan --output-on-failure -j2 -LE consumer | tee -a "$summary"
  stage_done tsan
fi

if wanted arm64; then
  scripts/test-arm64.sh | tee -a "$summary"
  stage_done arm64
fi

if wanted windows; then
  scripts/test-windows.sh | tee -a "$summary"
  stage_done windows
fi

if wanted fuzz; then
  echo "== fuzzing"
  fuzz/run.sh "${WM_FUZZ_SECONDS:-10}"
  stage_done fuzz
fi

# One closing line for the test runs (ctest's and pytest's own lines are above).
matches() { grep -Eo "$1" "$summary" || true; }  # none is fine: a stage subset may run no ctest or no pytest
total=$(matches 'out of [0-9]+' | awk '{n += $3} END {print n + 0}')
failed=$(matches '[0-9]+ tests failed' | awk '{n += $1} END {print n + 0}')
py_passed=$(matches '^[0-9]+ passed' | awk '{n += $1} END {print n + 0}')
echo "tests: $((total - failed + py_passed)) passed, $failed failed (stages: $stages)"
