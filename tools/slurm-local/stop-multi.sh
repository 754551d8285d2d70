#!/usr/bin/env bash
# Undoes tools/slurm-local/start-multi.sh DIR: its daemons by their recorded pids, the share's
# mounts, the namespaces and the bridge it created (by the names it recorded), nothing else.
set -uo pipefail
dir=$(realpath -m "${1:?usage: stop-multi.sh DIR}")
[ -f "$dir/run/cluster" ] || exit 0
read -r tag nodes shared < "$dir/run/cluster"
stop() {  # pid file
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
for n in $(seq 1 "$nodes"); do
  [ -f "$dir/run/slurmd-node$n.pid" ] && stop "$dir/run/slurmd-node$n.pid"
  stop "$dir/run/node$n.pid"
done
stop "$dir/run/slurmctld.pid"
fusermount -u "$shared" 2>/dev/null || umount -l "$shared" 2>/dev/null || true
# The file server's group: the listening socat and what it forked for each connection.
[ -f "$dir/run/fileserver.pid" ] && kill -TERM -- "-$(cat "$dir/run/fileserver.pid")" 2>/dev/null
stop "$dir/run/fileserver.pid"
stop "$dir/munge/munged.pid"
for n in $(seq 1 "$nodes"); do
  ns=sp$tag-node$n
  # What still lives in a node's namespace is this cluster's (its sshfs client, a job's leftovers).
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  ip link del "v$tag$n" 2>/dev/null || true
done
ip link del "spbr$tag" 2>/dev/null || true
rm -f "$dir/run/cluster"
