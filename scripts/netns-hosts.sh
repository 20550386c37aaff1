#!/usr/bin/env bash
# Fake a multi-host MPI cluster on one machine with network namespaces, so
# multi-node code paths (TCP BTL, one rank per "node") can be tested without
# real hosts. Needs root, iproute2 and Open MPI 4.1 (Debian: openmpi-bin
# libopenmpi-dev iproute2).
#
#   netns-hosts.sh up N                 create wmh0..wmh{N-1} on bridge wmbr0
#   netns-hosts.sh down                 remove them (never fails)
#   netns-hosts.sh run N [MPIRUN-OPTS] -- PROGRAM ARGS...
#                                       one rank per namespace; runs `up N`
#                                       first if they are missing
#   netns-hosts.sh rsh HOST CMD...      plm_rsh_agent used by `run`
#
# Env: WM_NETNS_TIMEOUT (seconds, default 300) bounds `run`; every WM_* var
# in the caller's env is forwarded to the ranks. Each rank sees
# WM_NETNS_HOST=wmhI and hostname wmhI.
set -euo pipefail

PREFIX=wmh
BRIDGE=wmbr0
NET=10.231.0
SELF=$(readlink -f "$0")

ns_list() { ip netns list 2>/dev/null | awk -v p="^${PREFIX}[0-9]+$" '$1 ~ p {print $1}'; }

ns_pids() { local ns; for ns in $(ns_list); do ip netns pids "$ns" 2>/dev/null; done; }

# The orteds are daemonized (see run), so mpirun returns while they and,
# after a failure, ranks are still exiting (1-4 s observed). Give them a
# moment to clean up their session dirs, then SIGKILL: they are ours.
reap() {
  local i
  for ((i = 0; i < ${1:-0} * 10; i++)); do
    [[ -z $(ns_pids) ]] && return 0
    sleep 0.1
  done
  ns_pids | xargs -r kill -9 2>/dev/null || true
}

down() {
  local ns l
  reap 0
  for ns in $(ns_list); do ip netns del "$ns" 2>/dev/null || true; done
  # netns del only unmounts; the kernel frees the namespace (and the root
  # end of its veth) asynchronously, so an immediate `up` would hit
  # "File exists". Deleting the root ends is synchronous.
  for l in $(ip -o link show type veth 2>/dev/null |
    sed -n "s/^[0-9]*: \(${PREFIX}[0-9]*br\)@.*/\1/p"); do
    ip link del "$l" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

up() {
  local n=$1 i
  [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 250 ]] || { echo "up: bad N '$n'" >&2; exit 2; }
  down
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for ((i = 0; i < n; i++)); do
    ip netns add "$PREFIX$i"
    ip link add "${PREFIX}${i}br" type veth peer name eth0 netns "$PREFIX$i"
    ip link set "${PREFIX}${i}br" master "$BRIDGE" up
    ip -n "$PREFIX$i" link set lo up
    ip -n "$PREFIX$i" addr add "$NET.$((i + 2))/24" dev eth0
    ip -n "$PREFIX$i" link set eth0 up
  done
}

rsh() {
  # Open MPI 4.1 calls: AGENT HOST word... where the words are already
  # shell-quoted for a remote shell (e.g. '"env"'), exactly as ssh would
  # get them, so they must be re-joined and given to sh -c, not exec'd.
  while [[ ${1:-} == -* ]]; do shift; done   # tolerate ssh-style options
  local host=${1:?rsh: no host} ns
  shift
  case $host in
    "$PREFIX"[0-9]*) ns=$host ;;
    "$NET".*) ns=$PREFIX$((${host##*.} - 2)) ;;
    *) echo "rsh: unknown host '$host'" >&2; exit 255 ;;
  esac
  # All namespaces share the UTS namespace, so give each its own hostname
  # (unshare --uts) to keep per-node names distinct in MPI diagnostics.
  # shellcheck disable=SC2016  # $1 is expanded by the inner sh
  exec ip netns exec "$ns" unshare --uts env WM_NETNS_HOST="$ns" \
    sh -c 'hostname "$WM_NETNS_HOST"; eval "exec $1"' sh "$*"
}

run() {
  local n=$1 i hosts="" opts=() v
  shift
  while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
  [[ ${1:-} == -- && $# -ge 2 ]] || { echo "run: need -- PROGRAM" >&2; exit 2; }
  shift
  [[ $(ns_list | wc -l) -eq $n ]] || up "$n"
  for ((i = 0; i < n; i++)); do hosts+="${hosts:+,}$NET.$((i + 2))"; done
  for v in $(compgen -e | grep '^WM_' || true); do opts+=(-x "$v"); done
  # No tree spawn: only mpirun runs the agent (never from inside a
  # namespace). Open MPI then daemonizes the orteds, hence reap below.
  # --timeout kills the whole job with status != 0; the outer timeout is a
  # backstop in case mpirun itself hangs.
  local t=${WM_NETNS_TIMEOUT:-300} rc=0
  timeout -k 10 $((t + 15)) mpirun --allow-run-as-root \
    --mca plm_rsh_agent "$SELF rsh" --mca plm_rsh_no_tree_spawn 1 \
    --mca btl tcp,self --mca btl_tcp_if_include "$NET.0/24" \
    --mca oob_tcp_if_include "$NET.0/24" \
    --host "$hosts" -np "$n" --map-by node --timeout "$t" \
    "${opts[@]}" "$@" || rc=$?
  reap 5
  return "$rc"
}

cmd=${1:-}
shift || true
case $cmd in
  up) up "${1:?usage: up N}" ;;
  down) down ;;
  rsh) rsh "$@" ;;
  run) run "${1:?usage: run N [mpirun opts] -- PROGRAM ARGS}" "${@:2}" ;;
  *) sed -n '2,16p' "$SELF" >&2; exit 2 ;;
esac
