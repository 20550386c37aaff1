#!/usr/bin/env bash
# One prepared, time-bounded check of weightmap on a machine with an NVIDIA GPU
# (or, with --device sim, on any machine): machine facts, the CTest label `gpu`,
# then load benchmarks against peers (safetensors, torch.load) and the limits
# measured in the same run (O_DIRECT read, pinned host-to-device copies).
# Builds nothing: it uses the binaries of an existing build folder.
#
#   scripts/gpu-check.sh [--device cuda|cuda:N|sim] [--build DIR] [--sizes 2,16] [--runs N]
#                        [--quick] [--models DIR] [--budget-s S] [--ctest-timeout-s S]
#                        [--peer-device DEV] [--python PY]
#
#   --device        weightmap device (default cuda); sim: the built-in stand-in, peers skipped
#   --build         build folder with weightmap and the tests (default build-cuda, else build)
#   --sizes         model sizes in GB (default 2,16; --quick: 0.125,0.25)
#   --runs          runs per case, medians reported (default 3; --quick: 2)
#   --models        where the models are written and reused (default /tmp/wm-gpu-models;
#                   must hold about 2.3x the sum of the sizes, F16 + BF16 + a .pt)
#   --budget-s      the whole run's time bound, this script's start included (default 540)
#   --peer-device   torch device for the peers (default: --device unless sim; 'cpu' tests them)
#   --python        interpreter for bench/gpu_bench.py and the peers (default python3)
#
# Results under $OUT (default ./gpu-check-out), six flat files (the device
# machine returns at most 8): gpu-check.json, gpu-check.md, machine.txt,
# ctest-gpu.log, bench.log, logs.tar.gz (every command's stdout and stderr).
# Exit status: 0, or 1 when a benchmark case failed (the reports say which), 2 on bad usage.
set -uo pipefail
start_epoch=$(date +%s.%N)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

device=cuda build="" sizes="" runs="" quick=0 models=/tmp/wm-gpu-models budget=540 ctest_timeout=150
peer_device="" python=${PYTHON:-python3}
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --device) device=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --models) models=$2; shift 2 ;;
    --budget-s) budget=$2; shift 2 ;;
    --ctest-timeout-s) ctest_timeout=$2; shift 2 ;;
    --peer-device) peer_device=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case $device in sim | cuda | cuda:[0-9]*) ;; *) echo "gpu-check: --device must be sim, cuda or cuda:N" >&2; exit 2 ;; esac
if ((quick)); then sizes=${sizes:-0.125,0.25}; runs=${runs:-2}; fi
sizes=${sizes:-2,16}; runs=${runs:-3}
if [[ -z $build ]]; then
  if [[ -x build-cuda/weightmap ]]; then build="build-cuda"; else build="build"; fi
fi
wm=$build/weightmap
[[ -x $wm ]] || { echo "gpu-check: no $wm (this script builds nothing; pass --build DIR)" >&2; exit 2; }
wm=$(cd "$(dirname "$wm")" && pwd)/weightmap
out=${OUT:-./gpu-check-out}
mkdir -p "$out" "$models" || exit 1
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") || exit 1  # per-command logs, packed into $OUT at the end
mkdir -p "$work/logs"
export PYTHONUNBUFFERED=1
elapsed() { awk -v s="$start_epoch" -v n="$(date +%s.%N)" 'BEGIN { printf "%.0f", n - s }'; }
say() { echo "[gpu-check $(elapsed)s] $*"; }

# 1. Machine facts.
{
  echo "date: $(date -Is)"
  echo "host: $(uname -srm)"
  # gVisor reports kernel 4.4.0: its page cache, fadvise, mincore and O_DIRECT are its own
  [[ $(uname -r) == 4.4.0* ]] && echo "runtime: probably gVisor (kernel 4.4.0): eviction, O_DIRECT and residency may not act as on Linux; check the cold numbers"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc)"
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 30 nvidia-smi --query-gpu=index,name,driver_version,memory.total,pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,clocks.max.memory \
      --format=csv 2>&1 || echo "nvidia-smi query failed"
    timeout 30 nvidia-smi -L 2>&1
  else
    echo "nvidia-smi: not found"
  fi
  free -g
  df -hT "$models" 2>&1
  echo "weightmap: $wm ($("$wm" --version 2>&1 | head -1))"
  echo "python: $python ($("$python" --version 2>&1))"
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"
fstype=$(stat -f -c %T "$models" 2>/dev/null || echo unknown)
if [[ $fstype == tmpfs || $fstype == ramfs ]]; then
  say "WARNING: $models is on $fstype: cold runs and O_DIRECT are meaningless there; pass --models on a disk"
  echo "WARNING: models folder on $fstype" >>"$out/machine.txt"
fi

# 2. The CTest label `gpu`.
# CTest runs the absolute paths recorded when the build folder was configured;
# a copy of the repository elsewhere gets a link at each recorded path that is
# missing here (never replacing anything).
link_recorded() {  # link_recorded RECORDED_PATH ACTUAL_PATH
  local recorded=$1 actual=$2
  [[ -n $recorded && $recorded != "$actual" && ! -e $recorded ]] || return 0
  if mkdir -p "$(dirname "$recorded")" 2>/dev/null && ln -s "$actual" "$recorded" 2>/dev/null; then
    say "linked $recorded -> $actual (the path $build was configured at)"
  else
    say "WARNING: $build was configured at $recorded, missing here and not linkable: tests may not find their programs"
  fi
}
if [[ -f $build/CMakeCache.txt ]]; then
  link_recorded "$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")" "$root"
  link_recorded "$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$build/CMakeCache.txt")" "$(cd "$build" && pwd)"
fi
ctest_rc=""
if command -v ctest >/dev/null 2>&1 && [[ -f $build/CTestTestfile.cmake ]]; then
  if [[ $device == sim ]]; then
    # The GPU tests' checks, run on the sim device (WM_TEST_GPU_DEVICE).
    say "ctest -L gpu (device sim: the GPU tests' checks on sim; cuda-only ones skip with a reason)"
    export WM_TEST_GPU_DEVICE=sim
  else
    say "ctest -L gpu"
  fi
  timeout -k 10 "$ctest_timeout" ctest --test-dir "$build" -L gpu --output-on-failure --timeout 120 \
    >"$work/ctest-gpu.log" 2>&1
  ctest_rc=$?
  tail -c 15000000 "$work/ctest-gpu.log" >"$out/ctest-gpu.log"  # a returned file holds 16 MiB at most
  tail -n 15 "$out/ctest-gpu.log"
  say "ctest rc $ctest_rc (log: ctest-gpu.log)"
elif [[ -x $build/tests/gpu_cuda_device_test ]]; then
  # No CMake on the machine: the test program itself.
  say "no ctest: running $build/tests/gpu_cuda_device_test directly"
  [[ $device == sim ]] && export WM_TEST_GPU_DEVICE=sim
  timeout -k 10 "$ctest_timeout" "$build/tests/gpu_cuda_device_test" >"$work/ctest-gpu.log" 2>&1
  ctest_rc=$?
  tail -c 15000000 "$work/ctest-gpu.log" >"$out/ctest-gpu.log"
  tail -n 15 "$out/ctest-gpu.log"
  say "gpu_cuda_device_test rc $ctest_rc (log: ctest-gpu.log)"
else
  echo "no ctest or no $build/CTestTestfile.cmake: tests not run" >"$out/ctest-gpu.log"
  ctest_rc=127
  say "tests not run: no ctest, or $build is not a CTest build folder"
fi

# 3-4. Benchmarks, bounded by the budget (counted from this script's start).
say "benchmarks: device $device, sizes $sizes GB, $runs runs, models in $models, budget ${budget}s"
args=(run --wm "$wm" --build "$build" --device "$device" --sizes "$sizes" --runs "$runs" --models "$models"
  --out "$out" --budget-s "$budget" --start-epoch "$start_epoch" --machine "$out/machine.txt"
  --logs "$work/logs" --ctest-log "$out/ctest-gpu.log" --ctest-rc "$ctest_rc")
[[ -n $peer_device ]] && args+=(--peer-device "$peer_device")
# A hard stop a little after the budget, in case a step overruns its estimate.
hard=$(awk -v b="$budget" -v e="$(elapsed)" 'BEGIN { h = b - e + 30; print (h < 30 ? 30 : int(h)) }')
timeout -k 10 "$hard" "$python" "$root/bench/gpu_bench.py" "${args[@]}" 2>&1 | tee "$out/bench.log"
rc=${PIPESTATUS[0]}
tar -czf "$out/logs.tar.gz" -C "$work" logs && rm -rf "$work"
if [[ -f $out/gpu-check.md ]]; then
  echo
  cat "$out/gpu-check.md"
fi
say "done (bench rc $rc): $out/gpu-check.json, $out/gpu-check.md, $out/logs.tar.gz"
exit "$rc"
