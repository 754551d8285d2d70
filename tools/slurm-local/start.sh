#!/usr/bin/env bash
# Starts a single-node Slurm cluster on 127.0.0.1 with everything (config, state, spool, logs,
# pid files, munge key and socket) under one folder, for trying steppar's Slurm export and for
# its tests. Needs root and Debian's `slurmctld slurmd slurm-client munge`.
#
#   eval "$(tools/slurm-local/start.sh /tmp/slurm)"    # prints: export SLURM_CONF=...
#   sinfo; ... ; tools/slurm-local/stop.sh /tmp/slurm
# A second argument, PORT (default 16817), is slurmctld's port; slurmd takes the next one and job
# ids start at (PORT - 16817) / 2 * 100000 + 1: clusters started with other ports run side by side.
set -euo pipefail
dir=$(realpath -m "${1:?usage: start.sh DIR [PORT]}")
port=${2:-16817}
host=$(hostname -s)  # controller and node names must equal it
cpus=$(nproc)
mkdir -p "$dir"/{state,spool,log,run}
source "$(dirname "$0")/common.sh"
start_munge "$dir"

cat > "$dir/slurm.conf" <<CONF
ClusterName=steppar
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmctldPort=$port
SlurmdPort=$((port + 1))
FirstJobId=$(( (port - 16817) / 2 * 100000 + 1 ))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmdParameters=config_overrides
$(common_slurm_conf)
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 1 100); do
  if sinfo -h -o %T 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.1
done
echo "slurm did not come up; see $dir/log" >&2
exit 1
