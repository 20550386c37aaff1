#!/usr/bin/env bash
# `weightmap verify --shard auto` under Open MPI's mpirun: every rank takes
# its rank and world from the launcher, loads its slices of one model, and
# checks each against its file (bytes, read again by path); the ranks'
# slices add up to the whole model; the mode is the one expected (exchange
# when each rank has its own copy, shared when they share one file), and in
# the exchange mode the ranks together read each byte of the file once; one
# rank failing (its host lacks the file) ends the job in bounded time, and
# the errors name the rank.
#
#   shard_mpi_test.sh local WEIGHTMAP WORK MPI   mpirun -np 2 and -np 4 on this host
#   shard_mpi_test.sh netns WEIGHTMAP WORK MPI   one rank per network namespace, over
#                                                TCP (scripts/netns-hosts.sh; root)
#
# MPI is "mpi" when the CLI was built with MPI (WM_MPI), else "nompi": then
# every rank loads alone and the mode is always shared.
#
# Each rank reads its own host's copy of the model (WORK/models/HOST/), as on
# separate machines, except in the shared-file run. Exit 77 (CTest's SKIP_RETURN_CODE) when what a mode
# needs is missing: mpirun (Open MPI), python3 (checks the JSON), and for
# netns root, ip and network namespaces. Every mpirun runs under timeout.
set -euo pipefail

mode=${1:?usage: shard_mpi_test.sh local|netns WEIGHTMAP WORK}
wm=$(readlink -f "${2:?no weightmap}")
work=${3:?no work folder}
with_mpi=${4:?mpi or nompi}
here=$(cd "$(dirname "$0")" && pwd)
rank_load=$here/rank_load.sh
netns_hosts=$(cd "$here/../../scripts" && pwd)/netns-hosts.sh
# The llama preset, then everything else by rows: every tensor is cut, so
# the ranks' bytes add up to the model's exactly.
split='llama,*=rows'
fail_within_s=30  # one rank failing must end the job within this

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $mode == local || $mode == netns ]] || fail "unknown mode '$mode' (local, netns)"
[[ -x $wm ]] || fail "no weightmap at '$wm'"
command -v mpirun >/dev/null || skip "no mpirun"
mpirun --version 2>&1 | grep -q "Open MPI" || skip "mpirun is not Open MPI's (rank_load.sh reads OMPI_COMM_WORLD_RANK)"
command -v python3 >/dev/null || skip "no python3 (it checks the ranks' JSON)"
command -v timeout >/dev/null || skip "no timeout (coreutils)"

# --- the model: F32 safetensors with llama (Hugging Face) names ----------
# write_safetensors FILE NAME=D0xD1... (random F32 bytes; the header padded
# to 8 bytes as the reference writer does).
write_safetensors() {
  local file=$1 spec name dims d n off=0 header="" hlen pad i
  shift
  for spec in "$@"; do
    name=${spec%%=*} dims=${spec#*=} n=4
    for d in ${dims//x/ }; do n=$((n * d)); done
    header+="${header:+,}\"$name\":{\"dtype\":\"F32\",\"shape\":[${dims//x/,}],\"data_offsets\":[$off,$((off + n))]}"
    off=$((off + n))
  done
  header="{$header}"
  pad=$(((8 - ${#header} % 8) % 8))
  for ((i = 0; i < pad; i++)); do header+=" "; done
  hlen=${#header}
  {
    for ((i = 0; i < 8; i++)); do
      # shellcheck disable=SC2059  # the format is the byte
      printf "\\x$(printf %02x $(((hlen >> (8 * i)) & 255)))"
    done
    printf '%s' "$header"
    head -c "$off" /dev/urandom
  } >"$file"
}

rm -rf "$work"
mkdir -p "$work/models"
model=$work/model.safetensors
tensors=(model.embed_tokens.weight=256x64 model.norm.weight=64 lm_head.weight=256x64)
for l in 0 1; do
  p=model.layers.$l
  tensors+=("$p.input_layernorm.weight=64" "$p.post_attention_layernorm.weight=64"
    "$p.self_attn.q_proj.weight=64x64" "$p.self_attn.k_proj.weight=32x64" "$p.self_attn.v_proj.weight=32x64"
    "$p.self_attn.o_proj.weight=64x64" "$p.mlp.gate_proj.weight=128x64" "$p.mlp.up_proj.weight=128x64"
    "$p.mlp.down_proj.weight=64x128")
done
write_safetensors "$model" "${tensors[@]}"
# One copy per host, each under its own path.
copies() {
  local prefix=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    mkdir -p "$work/models/$prefix$i"
    cp "$model" "$work/models/$prefix$i/model.safetensors"
  done
}

# check_ranks OUT N MODE: every rank's JSON parses and verified ok; rank,
# world and source are the launcher's; the mode is MODE; the bytes add up;
# in the exchange mode the ranks read the file's data once between them.
check_ranks() {
  python3 - "$1" "$2" "${#tensors[@]}" "$3" "$(stat -c %s "$model")" <<'PY'
import json, sys
out, world, count, mode, file_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
errors, total, full, read, sent, received = [], 0, None, 0, 0, 0
for rank in range(world):
    try:
        with open(f"{out}/out.{rank}.json") as f:
            doc = json.load(f)
    except Exception as e:  # missing, empty or not JSON
        errors.append(f"rank {rank}: no JSON report: {e}")
        continue
    bad = [t["name"] for t in doc["per_tensor"] if not t["ok"] or t["check"] != "bytes"]
    if not doc["ok"] or bad or doc["tensors"] != count:
        errors.append(f"rank {rank}: verify: ok={doc['ok']}, {doc['tensors']} tensors, differ: {bad}")
    s = doc["load"]["shard"]
    want = {"rank": rank, "world": world, "source": "OMPI_COMM_WORLD_RANK", "tensors_replicated": 0, "mode": mode}
    for k, v in want.items():
        if s.get(k) != v:
            errors.append(f"rank {rank}: shard.{k} is {s.get(k)!r}, expected {v!r} ({s.get('mode_reason')})")
    if s["tensors_rows"] + s["tensors_cols"] != count:
        errors.append(f"rank {rank}: {s['tensors_rows']} + {s['tensors_cols']} tensors cut, expected {count}")
    if full is not None and s["full_bytes"] != full:
        errors.append(f"rank {rank}: full_bytes {s['full_bytes']} differs from rank 0's {full}")
    full = s["full_bytes"]
    total += s["bytes"]
    read += s["exchange_read_bytes"]
    sent += s["exchange_sent_bytes"]
    received += s["exchange_received_bytes"]
    if mode == "exchange" and s["staged_bytes"] != s["bytes"]:
        errors.append(f"rank {rank}: staged {s['staged_bytes']} bytes, its slices have {s['bytes']}")
if full is not None and total != full:
    errors.append(f"the ranks' bytes add up to {total}, the model has {full}")
if mode == "exchange" and (read != full or sent != received):
    errors.append(f"exchange: the ranks read {read} bytes of the file between them (its tensors: {full}), "
                  f"sent {sent}, received {received}")
if mode == "shared" and read:
    errors.append(f"shared mode, yet the ranks read {read} bytes for an exchange")
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
PY
}

# launch NAME N LINGER SHARED [OPTIONS...]: the ranks through $launcher into
# WORK/NAME, output into WORK/NAME/log; sets rc and took (seconds).
launch() {
  local name=$1 n=$2 linger=$3 shared=$4 start
  shift 4
  out=$work/$name
  mkdir -p "$out"
  start=$(now)
  rc=0
  "${launcher[@]}" "$n" "$rank_load" "$wm" "$work/models" "$out" "$split" "$linger" "$shared" "$@" >"$out/log" 2>&1 ||
    rc=$?
  took=$(seconds_since "$start")
}

# run_ok NAME N MODE [SHARED [OPTIONS...]]: every rank loads its part, in MODE.
run_ok() {
  local name=$1 n=$2 want=$3 shared=${4:--}
  shift 3
  shift $(($# > 0 ? 1 : 0))
  if [[ $with_mpi != mpi ]]; then  # without MPI every rank loads alone
    if [[ " $* " == *" --shard-mode exchange "* ]]; then
      echo "skip $name: --shard-mode exchange needs a weightmap built with MPI"
      return 0
    fi
    want=shared
  fi
  launch "$name" "$n" 0 "$shared" "$@"
  set -- "$name" "$n"
  if [[ $rc -ne 0 ]]; then
    cat "$out/log" >&2
    fail "$1: $2 ranks: exit $rc"
  fi
  check_ranks "$out" "$2" "$want" || { cat "$out/log" >&2; fail "$1: $2 ranks: reports do not add up"; }
  if [[ $mode == netns ]]; then  # one rank per host, each in its own network namespace
    local hosts netns
    hosts=$(cut -d' ' -f1 "$out"/host.* | sort -u | wc -l)
    netns=$(cut -d' ' -f2 "$out"/host.* | sort -u | wc -l)
    [[ $hosts -eq $2 && $netns -eq $2 ]] ||
      fail "$1: $2 ranks ran on $hosts hosts in $netns network namespaces: $(cat "$out"/host.*)"
  fi
  echo "ok   $1: $2 ranks loaded and verified their slices, $want mode (${took} s)"
}

# run_one_fails NAME N HOST: HOST lacks the model; the others load and
# linger, so mpirun must end them: non-zero within $fail_within_s seconds,
# the error naming the rank and HOST's path.
run_one_fails() {
  local name=$1 n=$2 host=$3
  mv "$work/models/$host/model.safetensors" "$work/models/$host/moved.safetensors"
  launch "$name" "$n" 120 -
  mv "$work/models/$host/moved.safetensors" "$work/models/$host/model.safetensors"
  [[ $rc -ne 0 ]] || { cat "$out/log" >&2; fail "$name: exit 0 with $host's model missing"; }
  awk -v t="$took" -v max="$fail_within_s" 'BEGIN { exit !(t < max) }' ||
    { cat "$out/log" >&2; fail "$name: took ${took} s to fail (limit ${fail_within_s} s)"; }
  grep -Eq "weightmap: error: rank [0-9]+ of $n: file '[^']*/$host/model\.safetensors'" "$out/log" ||
    { cat "$out/log" >&2; fail "$name: no error naming the rank and $host's file"; }
  echo "ok   $name: $host's model missing: exit $rc after ${took} s; $(grep -Eo "rank [0-9]+ of $n: file '[^']*'" "$out/log" | head -1)"
}

started=$(now)
case $mode in
  local)
    # mpirun's own --timeout ends a stuck job; timeout(1) is the backstop.
    launcher=(timeout -k 10 90 mpirun --allow-run-as-root --oversubscribe --timeout 60 -np)
    copies host 4
    copies shared 1  # one file for every rank
    run_ok local_np2 2 exchange
    run_ok local_np4 4 exchange
    run_ok local_np4_one_file 4 shared shared0
    run_ok local_np2_one_file_exchange 2 exchange shared0 --shard-mode exchange
    run_one_fails local_np4_missing 4 host2
    ;;
  netns)
    [[ $(id -u) -eq 0 ]] || skip "network namespaces need root"
    command -v ip >/dev/null || skip "no ip (iproute2)"
    command -v unshare >/dev/null || skip "no unshare (util-linux)"
    probe=wmprobe$$
    ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces here (ip netns add failed)"
    ip netns del "$probe" 2>/dev/null || true
    ip link add wmprobebr$$ type bridge 2>/dev/null || skip "cannot create a bridge here"
    ip link del wmprobebr$$ 2>/dev/null || true
    # The namespaces and bridge have fixed names: one user at a time.
    exec 9>"${TMPDIR:-/tmp}/weightmap-netns-hosts.lock"
    command -v flock >/dev/null && { flock -w 120 9 || fail "another run holds the network namespaces"; }
    trap 'bash "$netns_hosts" down >/dev/null 2>&1 || true' EXIT
    trap 'exit 143' TERM INT  # ... and on being stopped
    export WM_NETNS_TIMEOUT=60  # netns-hosts.sh: mpirun --timeout, and timeout(1) around it
    copies wmh 4
    # netns-hosts.sh run N [MPIRUN-OPTS] -- PROGRAM ARGS: wrap to put the "--" in.
    netns_run() { local n=$1; shift; timeout -k 10 120 bash "$netns_hosts" run "$n" -- "$@"; }
    launcher=(netns_run)
    run_ok netns_np2 2 exchange
    run_ok netns_np4 4 exchange
    run_one_fails netns_np4_missing 4 wmh2
    ;;
esac
echo "all passed in $(seconds_since "$started") s"
