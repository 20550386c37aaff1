#!/usr/bin/env bash
# Times `weightmap inspect --json` on a 3 GB GGUF with a real-sized
# vocabulary and 300 tensors, warm cache: median of 11 runs.
#   bench/inspect_bench.sh [BUILD_DIR=build] [FILE=/tmp/weightmap-bench-3g.gguf]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
file="${2:-/tmp/weightmap-bench-3g.gguf}"
[ -f "$file" ] || "$build/bench/make_bench_model" gguf "$file" 3 300
cat "$file" >/dev/null  # warm
times=()
for _ in $(seq 11); do
  s=$(date +%s%N)
  "$build/weightmap" inspect --json "$file" >/dev/null
  e=$(date +%s%N)
  times+=($(( (e - s) / 1000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "file: $file ($(stat -c %s "$file") bytes, $("$build/weightmap" inspect --json "$file" | grep -o '"name"' | wc -l) tensors)"
echo "inspect --json wall, warm: median $(( sorted[5] / 1000 )).$(( (sorted[5] % 1000) / 100 )) ms (min $(( sorted[0] / 1000 )) ms, max $(( sorted[10] / 1000 )) ms, 11 runs)"
