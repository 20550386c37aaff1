#!/usr/bin/env bash
# Warm-cache load of one model file, zero-copy mapped vs --no-mmap, each run
# in a fresh process, alternating, RUNS times (default 5); prints medians of
# load time (time_ms.total) and RssAnon growth, and their ratio.
#   bench/load_bench.sh FILE [RUNS=5] [BUILD_DIR=build] [extra load options...]
set -euo pipefail
cd "$(dirname "$0")/.."
file="$1"; runs="${2:-5}"; build="${3:-build}"; shift $(( $# < 3 ? $# : 3 ))
cat "$file" >/dev/null  # warm the page cache
field() { grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A ms anon
for i in $(seq "$runs"); do
  for mode in mmap no-mmap; do
    out=$("$build/weightmap" load --json "--$mode" "$@" "$file")
    ms[$mode]+="$(echo "$out" | field total) "
    a=$(echo "$out" | field anon_kib); b=$(echo "$out" | field anon_kib_before)
    anon[$mode]+="$(( a - b )) "
  done
done
echo "file: $file ($(stat -c %s "$file") bytes), warm, median of $runs runs each"
for mode in mmap no-mmap; do
  m=$(echo ${ms[$mode]} | tr ' ' '\n' | median); a=$(echo ${anon[$mode]} | tr ' ' '\n' | median)
  echo "  --$mode: load $m ms, RssAnon growth $(( a / 1024 )) MiB"
  eval "med_$(echo $mode | tr - _)=$m"
done
awk -v a="$med_no_mmap" -v b="$med_mmap" 'BEGIN { printf "  ratio no-mmap / mmap load time: %.0fx\n", a / b }'
