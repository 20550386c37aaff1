#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan + UBSan and runs each for a
# bounded time. Fails on any finding; the input that triggered it is left in
# fuzz/findings/ (add it to fuzz/regressions/<target>/ once fixed, so the
# regression test replays it forever).
#   fuzz/run.sh [SECONDS_PER_TARGET=60]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
build=build-fuzz

targets="gguf_fuzz safetensors_fuzz safetensors_index_fuzz torch_fuzz lora_names_fuzz exchange_runs_fuzz"
start=$SECONDS
# -O2 with line tables only (-gline-tables-only): what the sanitizers' stack
# traces need, and quicker to compile than RelWithDebInfo's full -g.
CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG" -DWM_FUZZ=ON -DWM_SANITIZE=ON \
  -DWM_TESTS=OFF -DWM_TOOLS=OFF -DWM_BENCH=OFF -DWM_WERROR=ON >/dev/null
# Only the targets: they link the parsers alone (wm_parsers), not the whole library.
# shellcheck disable=SC2086
cmake --build "$build" -j2 --target $targets make_fuzz_seeds
echo "== fuzz targets built in $((SECONDS - start)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p fuzz/findings "$work/seeds-gguf" "$work/seeds-st" "$work/seeds-index"
"$build/fuzz/make_fuzz_seeds" "$work/seeds-gguf" "$work/seeds-st" "$work/seeds-index"
status=0
for target in $targets; do
  corpus="$work/$target"
  mkdir -p "$corpus"
  case "$target" in
    gguf_fuzz) seeds="$work/seeds-gguf" ;;
    safetensors_fuzz) seeds="$work/seeds-st" ;;
    lora_names_fuzz) seeds="fuzz/seeds/lora_names_fuzz" ;;
    exchange_runs_fuzz) seeds="fuzz/seeds/exchange_runs_fuzz" ;;
    torch_fuzz) seeds="tests/data/torch" ;;  # checkpoints and hostile pickles from make_torch_fixtures.py
    *) seeds="$work/seeds-index" ;;
  esac
  regress="fuzz/regressions/$target"
  [ -d "$regress" ] && cp "$regress"/* "$corpus"/ 2>/dev/null || true
  echo "== $target: ${secs}s"
  if ! "$build/fuzz/$target" "$corpus" "$seeds" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1 -artifact_prefix="fuzz/findings/$target-" \
      2>"$work/$target.log"; then
    tail -40 "$work/$target.log"
    echo "== $target: FINDING (see fuzz/findings/)"
    status=1
  else
    grep -E '^#[0-9]+ *DONE' "$work/$target.log" || true  # coverage and corpus at the end
    grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added' "$work/$target.log" || true
    echo "== $target: corpus $(ls "$corpus" | wc -l) inputs, no findings"
  fi
done
exit $status
