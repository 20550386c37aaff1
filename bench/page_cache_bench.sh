#!/usr/bin/env bash
# Issue 4's figures on one model file, each run in a fresh process:
#  1. warm: load time with --hints auto vs --hints none, alternating, median
#     of RUNS (auto must cost nothing when the file is cached);
#  2. cold: `weightmap bench --cold` for lazy mmap, populate and auto, with the
#     O_DIRECT bandwidth (1 MiB x 4 in flight) measured in the same run;
#  3. eviction: residency after `run --evict`, and after a cold `--io direct`
#     copy load.
#   bench/page_cache_bench.sh FILE [RUNS=5] [BUILD_DIR=build]
set -euo pipefail
cd "$(dirname "$0")/.."
file="$1"; runs="${2:-5}"; build="${3:-build}"
wm="$build/weightmap"
field() { grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

"$wm" cache warm "$file" >/dev/null
declare -A ms
for i in $(seq "$runs"); do
  for h in none auto; do
    ms[$h]+="$("$wm" load --json --hints "$h" "$file" 2>/dev/null | field total) "
  done
done
none=$(echo ${ms[none]} | tr ' ' '\n' | median); auto=$(echo ${ms[auto]} | tr ' ' '\n' | median)
echo "warm load, median of $runs: --hints none $none ms, --hints auto $auto ms (auto/none $(awk -v a="$auto" -v b="$none" 'BEGIN{printf "%.2f", a/b}'))"

echo "cold, time to first result (weightmap bench --cold):"
"$wm" bench "$file" --cold --runs 3 --strategies mmap,mmap-prefetch,auto 2>/dev/null

"$wm" run "$file" --evict >/dev/null 2>&1
echo "after run --evict: $("$wm" cache status "$file" | awk '{print $1}') of the file cached"
"$wm" cache evict "$file" >/dev/null
"$wm" load --no-mmap --io direct "$file" >/dev/null 2>&1
echo "after a cold --no-mmap --io direct load: $("$wm" cache status "$file" | awk '{print $1}') of the file cached"
