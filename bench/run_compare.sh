#!/usr/bin/env bash
# Warm compute pass (`weightmap run --json`, pass_ms) of two weightmap
# binaries side by side, alternating, RUNS times per file (default 5);
# prints medians, GB/s and the ratio.
#   bench/run_compare.sh OLD_WEIGHTMAP NEW_WEIGHTMAP FILE... [RUNS=5 in env]
set -euo pipefail
old="$1"; new="$2"; shift 2
runs="${RUNS:-5}"
field() { grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for f in "$@"; do
  cat "$f" >/dev/null  # warm the page cache
  po=""; pn=""
  for _ in $(seq "$runs"); do
    po+="$("$old" run --json "$f" 2>/dev/null | field pass_ms) "
    pn+="$("$new" run --json "$f" 2>/dev/null | field pass_ms) "
  done
  awk -v f="$f" -v s="$(stat -c %s "$f")" -v o="$(echo $po | median)" -v n="$(echo $pn | median)" \
    'BEGIN { printf "%s: old %.0f ms (%.2f GB/s), new %.0f ms (%.2f GB/s), %.1fx\n", f, o, s / o / 1e6, n, s / n / 1e6, o / n }'
done
