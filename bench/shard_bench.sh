#!/usr/bin/env bash
# Tensor-parallel loading, cold: bytes read from storage (the block device's
# sectors-read counter, /sys/block/DEV/stat, which counts every process) and
# time until all ranks are ready, for WORLD ranks each loading its slices
# (--shard r/WORLD --split RULES) against every rank loading the whole model.
#
#   bench/shard_bench.sh MODEL.gguf [WORLD=4] [RULES=llama] [WEIGHTMAP=build/weightmap]
#
# Two layouts, as the ranks would see storage:
#   same-host   all ranks open one file: they share one page cache;
#   per-host    rank r opens its own copy of the file (made once, beside
#               MODEL as MODEL.host<r>): a host's storage and page cache of its
#               own, as on separate machines.
# Each case starts cold (`weightmap cache evict` on every file it reads) and
# runs the ranks as concurrent processes; needs root only to write the copies
# where MODEL lives. Prints one table (markdown).
set -euo pipefail

model=${1:?usage: shard_bench.sh MODEL [WORLD] [RULES] [WEIGHTMAP]}
world=${2:-4}
rules=${3:-llama}
wm=${4:-build/weightmap}
src=$(findmnt -n -o SOURCE -T "$model")
dev=$(basename "$(readlink -f "$src")")
stat=/sys/block/$dev/stat
[[ -r $stat ]] || { echo "no block statistics for $src ($stat)" >&2; exit 1; }
size=$(stat -c %s "$model")

sectors() { awk '{print $3}' "$stat"; }
for ((r = 0; r < world; ++r)); do
  [[ -f $model.host$r && $(stat -c %s "$model.host$r") == "$size" ]] || cp "$model" "$model.host$r"
done
sync

# run CASE LAYOUT SHARDED: starts the ranks together, waits for all.
run() {
  local name=$1 layout=$2 sharded=$3 files=() pids=()
  for ((r = 0; r < world; ++r)); do
    if [[ $layout == same-host ]]; then files+=("$model"); else files+=("$model.host$r"); fi
  done
  "$wm" cache evict "${files[@]}" "$model" > /dev/null
  sync
  echo 3 > /proc/sys/vm/drop_caches 2> /dev/null || true
  local before start end after
  before=$(sectors)
  start=$(date +%s.%N)
  for ((r = 0; r < world; ++r)); do
    local args=(load "${files[$r]}" --prefetch wait --json)
    [[ $sharded == yes ]] && args+=(--shard "$r/$world" --split "$rules")
    "$wm" "${args[@]}" > "/tmp/shard_bench.$r.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  end=$(date +%s.%N)
  after=$(sectors)
  python3 - "$name" "$layout" "$before" "$after" "$size" "$start" "$end" "$world" <<'EOF'
import json, sys
name, layout, before, after, size, start, end, world = sys.argv[1:]
read = (int(after) - int(before)) * 512
for r in range(int(world)):
    json.load(open(f"/tmp/shard_bench.{r}.json"))  # every rank finished and printed its report
print(f"| {name} | {layout} | {read / 2**30:.2f} | {read / int(size):.2f}x | {float(end) - float(start):.2f} |")
EOF
}

echo "model: $model ($((size / 1048576)) MiB), $world ranks, rules '$rules', device $dev"
echo
echo "| ranks load | storage | read GiB | read / file | all ready s |"
echo "|---|---|---:|---:|---:|"
world_saved=$world
world=1 run "one process, whole model" same-host no
world=$world_saved
run "$world ranks, slices" same-host yes
run "$world ranks, whole model each" same-host no
run "$world ranks, slices" per-host yes
run "$world ranks, whole model each" per-host no
