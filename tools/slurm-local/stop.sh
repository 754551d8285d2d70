#!/usr/bin/env bash
# Stops the daemons tools/slurm-local/start.sh started in DIR, by their recorded pids only.
set -uo pipefail
dir=$(realpath -m "${1:?usage: stop.sh DIR}")
for pidfile in "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" "$dir/munge/munged.pid"; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || continue
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
done
