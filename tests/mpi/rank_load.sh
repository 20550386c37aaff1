#!/usr/bin/env bash
# One rank of shard_mpi_test.sh, started by mpirun: `weightmap verify --shard
# auto` (the load, then every loaded slice compared with this host's file,
# read again by path) on this host's copy of the model, its JSON (with the
# load's report under "load") into OUT/out.RANK.json. The copy is
# MODELS/$WM_NETNS_HOST under scripts/netns-hosts.sh, else MODELS/host$RANK,
# or MODELS/SHARED for every rank when SHARED is not "-". With LINGER > 0 a
# rank that loaded stays up that many seconds, as a rank waiting for its
# peers would, so a peer's failure must end the job.
#
#   rank_load.sh WEIGHTMAP MODELS OUT SPLIT LINGER SHARED [WEIGHTMAP-OPTIONS...]
set -u
wm=$1 models=$2 out=$3 split=$4 linger=$5 shared=$6
shift 6
rank=${OMPI_COMM_WORLD_RANK:?not started by Open MPI}
host=${WM_NETNS_HOST:-host$rank}
[ "$shared" = - ] || host=$shared
"$wm" verify --shard auto --split "$split" --json "$@" "$models/$host/model.safetensors" >"$out/out.$rank.json"
rc=$?
echo "$host $(readlink /proc/self/ns/net 2>/dev/null)" >"$out/host.$rank"  # which host and network namespace ran it
if [ "$rc" -eq 0 ] && [ "$linger" -gt 0 ]; then exec sleep "$linger"; fi
exit "$rc"
