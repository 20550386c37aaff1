#!/usr/bin/env bash
# Tensor-parallel loading, cold: bytes read from storage (the block device's
# sectors-read counter, /sys/block/DEV/stat, which counts every process) and
# time until all ranks are ready, for WORLD ranks each loading its slices
# (--shard r/WORLD --split RULES) against every rank loading the whole model,
# and for the ranks under mpirun (--shard auto), where they choose the
# shared or exchange mode and report it.
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
# where MODEL lives. The mpirun rows need Open MPI and a weightmap built with
# MPI (skipped otherwise). Prints one table (markdown).
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

# run CASE LAYOUT SHARDED [mpirun]: starts the ranks together (as separate
# processes, or through mpirun with --shard auto), waits for all.
run() {
  local name=$1 layout=$2 sharded=$3 launcher=${4:-} files=() pids=()
  for ((r = 0; r < world; ++r)); do
    if [[ $layout == same-host ]]; then files+=("$model"); else files+=("$model.host$r"); fi
  done
  "$wm" cache evict "${files[@]}" "$model" > /dev/null
  sync
  echo 3 > /proc/sys/vm/drop_caches 2> /dev/null || true
  rm -f /tmp/shard_bench.*.json
  local before start end after
  before=$(sectors)
  start=$(date +%s.%N)
  if [[ $launcher == mpirun ]]; then
    # Each rank picks its file by its own rank.
    local pick='f=$1; [ "$2" = per-host ] && f=$1.host$OMPI_COMM_WORLD_RANK'
    mpirun --allow-run-as-root --oversubscribe -np "$world" bash -c "$pick; exec \"\$3\" load \"\$f\" \
      --shard auto --split \"\$4\" --prefetch wait --json > /tmp/shard_bench.\$OMPI_COMM_WORLD_RANK.json" \
      rank "$model" "$layout" "$wm" "$rules"
  else
    for ((r = 0; r < world; ++r)); do
      local args=(load "${files[$r]}" --prefetch wait --json)
      [[ $sharded == yes ]] && args+=(--shard "$r/$world" --split "$rules")
      "$wm" "${args[@]}" > "/tmp/shard_bench.$r.json" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
  fi
  end=$(date +%s.%N)
  after=$(sectors)
  python3 - "$name" "$layout" "$before" "$after" "$size" "$start" "$end" "$world" <<'EOF'
import json, sys
name, layout, before, after, size, start, end, world = sys.argv[1:]
read = (int(after) - int(before)) * 512
modes = set()
for r in range(int(world)):
    doc = json.load(open(f"/tmp/shard_bench.{r}.json"))  # every rank finished and printed its report
    modes.add(doc["shard"]["mode"] or "-")
print(f"| {name} | {layout} | {'/'.join(sorted(modes))} | {read / 2**30:.2f} | {read / int(size):.2f}x | "
      f"{float(end) - float(start):.2f} |")
EOF
}

echo "model: $model ($((size / 1048576)) MiB), $world ranks, rules '$rules', device $dev"
echo
echo "| ranks load | storage | mode | read GiB | read / file | all ready s |"
echo "|---|---|---|---:|---:|---:|"
world_saved=$world
world=1 run "one process, whole model" same-host no
world=$world_saved
run "$world ranks, slices" same-host yes
run "$world ranks, whole model each" same-host no
run "$world ranks, slices" per-host yes
run "$world ranks, whole model each" per-host no
if command -v mpirun > /dev/null && ldd "$wm" | grep -q libmpi; then
  run "$world ranks under mpirun, slices" same-host yes mpirun
  run "$world ranks under mpirun, slices" per-host yes mpirun
else
  echo "(no mpirun, or $wm built without MPI: no mpirun rows)"
fi
