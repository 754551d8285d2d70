#!/usr/bin/env bash
# Starts a single-node Slurm cluster on 127.0.0.1 with everything (config, state, spool, logs,
# pid files, munge key and socket) under one folder, for trying steppar's Slurm export and for
# its tests. Needs root and Debian's `slurmctld slurmd slurm-client munge`.
#
#   eval "$(tools/slurm-local/start.sh /tmp/slurm)"    # prints: export SLURM_CONF=...
#   sinfo; ... ; tools/slurm-local/stop.sh /tmp/slurm
set -euo pipefail
dir=$(realpath -m "${1:?usage: start.sh DIR}")
host=$(hostname -s)  # controller and node names must equal it
cpus=$(nproc)
mkdir -p "$dir"/{state,spool,log,run,munge}
chmod 0755 "$dir" "$dir/munge"
chown munge:munge "$dir/munge" 2>/dev/null || true

if [ ! -f "$dir/munge/munge.key" ]; then
  mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 || \
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$dir/munge/munge.key" 2>/dev/null || true
  chmod 0400 "$dir/munge/munge.key"
fi
socket=$dir/munge/munge.socket.2
if ! [ -S "$socket" ] || ! kill -0 "$(cat "$dir/munge/munged.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
  runuser -u munge -- /usr/sbin/munged --socket="$socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" 2>/dev/null || \
  /usr/sbin/munged --force --socket="$socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
fi

cat > "$dir/slurm.conf" <<CONF
ClusterName=steppar
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# No DependencyParameters=kill_invalid_depend (on 22.05 it belongs there, not in
# SchedulerParameters, where it does nothing): steppar's jobs carry --kill-on-invalid-dep=yes
# themselves, and the tests prove that this is enough.
MinJobAge=600
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
