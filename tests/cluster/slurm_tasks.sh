# Helpers the cluster tests source (SLURM_CONF set).

# running_task N PATTERN [PATH]: prints "ID NODE" of the array task whose index is N once its
# slice process (command line matching PATTERN) runs, and, with PATH, once a file is in that
# folder. squeue says RUNNING as soon as slurmctld starts a task, before the node's slurmd has
# launched it: a signal, cancel or requeue then lands before the task began. Prints nothing
# after 30 s.
running_task() {
  local index=$1 pattern=$2 folder=${3:-} line
  for _ in $(seq 300); do
    line=$(squeue -h -t RUNNING -o '%i %N' | grep "_$index " | head -1 || true)
    if [ -n "$line" ] && pgrep -f "$pattern" >/dev/null && { [ -z "$folder" ] || [ -n "$(ls "$folder" 2>/dev/null)" ]; }; then
      echo "$line"
      return
    fi
    sleep 0.1
  done
}

# raw_job_id ID: the job id Slurm gives array task ID ("123_4") itself: its slurmstepd's name,
# its spool folder and its log lines use it.
raw_job_id() { scontrol show job "$1" | grep -o 'JobId=[0-9]*' | head -1 | cut -d= -f2; }
