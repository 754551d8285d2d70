#!/usr/bin/env bash
# A real three-node Slurm cluster on this machine (tools/slurm-local/start-multi.sh: one slurmd per
# network namespace on a private bridge, the pipeline folder on sshfs mounted by every node): the
# demo spreads over the nodes and equals the sequential runner byte for byte; an input changed on
# the file server just before a rerun is rerun; a cancelled task and a killed slurmd are reported
# and resumed. Skips (77) where that cluster cannot be made (no root, Slurm, sshfs, namespaces).
set -euo pipefail
host=$1; src=$2
command -v slurmctld >/dev/null && command -v sshfs >/dev/null && command -v socat >/dev/null && [ -c /dev/fuse ] &&
  [ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1 || { echo "no multi-node cluster here: skipped"; exit 77; }
base=$(mktemp -d /tmp/steppar-multinode-XXXXXX)
cluster=$base/cluster shared=$base/shared
cleanup() { bash "$src/tools/slurm-local/stop-multi.sh" "$cluster"; rm -rf "$base"; }
trap cleanup EXIT
env_line=$(bash "$src/tools/slurm-local/start-multi.sh" "$cluster" 3 "$shared") || {
  echo "the cluster did not start: skipped"; tail -5 "$cluster"/log/*.out "$cluster/log/slurmctld.log" 2>/dev/null || true; exit 77; }
eval "$env_line"
source "$src/tests/cluster/slurm_tasks.sh"
server=$cluster/export   # the file server's side of $shared

# 1. The demo on three nodes vs the sequential runner on local disk.
mkdir -p "$shared/demo" "$base/local"
cp "$src/examples/demo/pipeline.yml" "$shared/demo/"
bash "$src/examples/demo/make-data.sh" "$shared/demo/data/docs" 60 >/dev/null
"$host" run "$shared/demo/pipeline.yml" --runner slurm --poll-interval 1 -q
clean_run() {  # a clean sequential run of the share's current inputs, on local disk
  rm -rf "$base/local" && mkdir -p "$base/local"
  cp -r "$server/demo/pipeline.yml" "$server/demo/data" "$base/local/"
  "$host" run "$base/local/pipeline.yml" --runner sequential -q
  diff -r "$server/demo/out" "$base/local/out"
}
clean_run
hosts=$(grep -h '"host"' "$server"/demo/.steppar/units/*/markers/*.json | sort -u | wc -l)
[ "$hosts" -ge 2 ] || { echo "every slice ran on one node"; exit 1; }
echo "[${SECONDS}s] 3 nodes ($hosts in the markers) == sequential: OK"

# 2. An input appended on the file server, and the rerun started at once from the login node.
echo "appended on the file server" >> "$server/demo/data/docs/doc-00007.txt"
"$host" run "$shared/demo/pipeline.yml" --runner slurm --poll-interval 1 2> "$base/changed.err"
grep -q "count: 0 new, 1 changed, 60 up to date" "$base/changed.err" || { cat "$base/changed.err"; exit 1; }
clean_run
echo "[${SECONDS}s] a change on the file server is rerun at once: OK"

# 3. scancel of one running task: reported, and the rerun does only what it left. (slow.yml
# beside pipeline.yml: a state folder of its own.)
cat > "$shared/demo/slow.yml" <<YAML
plugins: {test: $3/steppar_test_nodes.so}
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  copies: {type: partitioned, path: out/slow, suffix: .txt}
params: {mode: throw, bad: none, delay_ms: 400, flag: $base/no-flag}
nodes:
  - {name: slow, func: test.fault, inputs: [docs, params:mode, params:bad, params:delay_ms, params:flag], outputs: [copies], slices: 3}
YAML
"$host" run "$shared/demo/slow.yml" --state-dir "$shared/demo/.steppar-slow" --runner slurm --poll-interval 1 2> "$base/cancel.err" &
pid=$!
read -r task _ < <(running_task 1 "run-slice $shared/demo/slow.yml --node slow --slice 1 ") || true
[ -n "$task" ] || { echo "no task ran"; cat "$base/cancel.err"; exit 1; }
scancel "$task"
set +e; wait "$pid"; code=$?; set -e
cat "$base/cancel.err"
[ "$code" = 1 ]
grep -q "slow-slice-1: Slurm task $task CANCELLED" "$base/cancel.err"
"$host" run "$shared/demo/slow.yml" --state-dir "$shared/demo/.steppar-slow" --runner slurm --poll-interval 1 2> "$base/resumed.err"
grep -q -E "slow: [1-9][0-9]* new, 0 changed, [1-9][0-9]* up to date" "$base/resumed.err"   # only what the cancel left
diff -r "$server/demo/data/docs" "$server/demo/out/slow"   # test.fault copies each input
echo "[${SECONDS}s] scancel of one task: reported, resumed: OK"

# 4. kill -9 of a node's slurmd while its task runs, jobs submitted with --no-requeue (by default
# Slurm requeues the task and holds it 2 minutes, which the runner reports as it happens): Slurm
# declares the node dead (SlurmdTimeout 10 s) and the task NODE_FAIL; steppar reports it naming
# the node, and the rerun on the nodes left resumes; the outputs equal a clean run.
"$host" run "$shared/demo/slow.yml" --state-dir "$shared/demo/.steppar-slow" --runner slurm --poll-interval 1 --force --sbatch-arg=--no-requeue 2> "$base/nodefail.err" &
pid=$!
read -r task node < <(running_task 2 "run-slice $shared/demo/slow.yml --node slow --slice 2 ") || true
[ -n "$node" ] || { echo "no task ran"; cat "$base/nodefail.err"; exit 1; }
raw=$(raw_job_id "$task")
kill -KILL "$(cat "$cluster/run/slurmd-$node.pid")"
# The task dies with its node: its slurmstepd and its slice process.
pkill -KILL -f "slurmstepd: \\[$raw\\." 2>/dev/null || true
pkill -KILL -f "run-slice $shared/demo/slow.yml --node slow --slice 2 " 2>/dev/null || true
set +e; wait "$pid"; code=$?; set -e
cat "$base/nodefail.err"
[ "$code" = 1 ]
grep -q "slow-slice-2: Slurm task $task NODE_FAIL on $node" "$base/nodefail.err"
"$host" run "$shared/demo/slow.yml" --state-dir "$shared/demo/.steppar-slow" --runner slurm --poll-interval 1 -q
diff -r "$server/demo/data/docs" "$server/demo/out/slow"
echo "[${SECONDS}s] a killed slurmd ($node): NODE_FAIL reported, resumed on the others: OK"
