#!/usr/bin/env bash
# One rank of shard_mpi_test.sh, started by mpirun: `weightmap load --shard
# auto` on this host's copy of the model (MODELS/$WM_NETNS_HOST under
# scripts/netns-hosts.sh, else MODELS/host$RANK), its JSON into
# OUT/out.RANK.json. With LINGER > 0 a rank that loaded stays up that many
# seconds, as a rank waiting for its peers would, so a peer's failure must
# end the job.
#
#   rank_load.sh WEIGHTMAP MODELS OUT SPLIT [LINGER]
set -u
wm=$1 models=$2 out=$3 split=$4 linger=${5:-0}
rank=${OMPI_COMM_WORLD_RANK:?not started by Open MPI}
host=${WM_NETNS_HOST:-host$rank}
"$wm" load --shard auto --split "$split" --json --tensors "$models/$host/model.safetensors" >"$out/out.$rank.json"
rc=$?
echo "$host $(readlink /proc/self/ns/net 2>/dev/null)" >"$out/host.$rank"  # which host and network namespace ran it
if [ "$rc" -eq 0 ] && [ "$linger" -gt 0 ]; then exec sleep "$linger"; fi
exit "$rc"
