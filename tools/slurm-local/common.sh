# Sourced by start.sh and start-multi.sh: what a one-machine Slurm cluster of either kind needs.

# Starts munged for the cluster in DIR (key, path socket, pid file under DIR/munge) unless it is
# already running there; sets `socket`. A path socket: network namespaces do not separate it.
start_munge() {
  local dir=$1
  mkdir -p "$dir/munge"
  chmod 0755 "$dir" "$dir/munge"
  chown munge:munge "$dir/munge" 2>/dev/null || true
  if [ ! -f "$dir/munge/munge.key" ]; then
    mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 ||
      dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$dir/munge/munge.key" 2>/dev/null || true
    chmod 0400 "$dir/munge/munge.key"
  fi
  socket=$dir/munge/munge.socket.2
  if ! [ -S "$socket" ] || ! kill -0 "$(cat "$dir/munge/munged.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
    local args=(--socket="$socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid"
                --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed")
    runuser -u munge -- /usr/sbin/munged "${args[@]}" 2>/dev/null || /usr/sbin/munged --force "${args[@]}"
  fi
}

# The slurm.conf lines both kinds share: plugins that need no cgroups or accounting, fast waves,
# finished jobs kept visible for the runner. The main and backfill scheduling loops every second (not
# 60 and 30): a requeued task given StartTime=now starts at once.
common_slurm_conf() {
  cat <<CONF
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1,bf_interval=1
# No DependencyParameters=kill_invalid_depend (on 22.05 it belongs there, not in
# SchedulerParameters, where it does nothing): steppar's jobs carry --kill-on-invalid-dep=yes
# themselves, and the tests prove that this is enough.
MinJobAge=600
CONF
}
