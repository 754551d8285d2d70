#!/usr/bin/env bash
# Runs real pipelines through a real single-node Slurm (tools/slurm-local): success compared byte
# for byte with the sequential runner, a failing slice reported with its partition, and a rerun
# that resumes. Skips (exit 77) where Slurm is not installed or we are not root.
# HOST SRC FIXTURES [PART]: PART "first" runs sections 1 to 3, "second" 4 to 8, each on a cluster
# of its own (other ports and job ids), so that CTest runs the two halves side by side; no PART
# runs them all.
set -euo pipefail
host=$1; src=$2; fixtures=$3; part=${4:-}
command -v slurmctld >/dev/null && command -v munged >/dev/null && [ "$(id -u)" = 0 ] || { echo "no Slurm here: skipped"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/steppar-slurm-XXXXXX")
cluster=$(mktemp -d /tmp/steppar-slurmd-XXXXXX)  # daemons' files: not on tmpfs quirks
cleanup() { bash "$src/tools/slurm-local/stop.sh" "$cluster"; rm -rf "$work" "$cluster"; }
trap cleanup EXIT
env_line=$(bash "$src/tools/slurm-local/start.sh" "$cluster" "$([ "$part" = second ] && echo 16819 || echo 16817)")
eval "$env_line"
source "$src/tests/cluster/slurm_tasks.sh"

if [ "$part" != second ]; then
# 1. The demo pipeline (a multinode per builtin and a multipipeline) on Slurm vs sequentially.
for d in slurm local; do
  mkdir -p "$work/$d"
  cp "$src/examples/demo/pipeline.yml" "$work/$d/"
  bash "$src/examples/demo/make-data.sh" "$work/$d/data/docs" 60
done
"$host" run "$work/slurm/pipeline.yml" --runner slurm -q
"$host" run "$work/local/pipeline.yml" --runner sequential -q
diff -r "$work/slurm/out" "$work/local/out"
echo "[${SECONDS}s] slurm == sequential: OK"

# 1b. The run's trace: one step row per step of the graph, all ok; every slice, barrier and node
# wrote its own from its Slurm task (its job id in slurm_job); one partition row per document.
traces=("$work/slurm/.steppar/traces/"*.tsv)
[ "${#traces[@]}" = 1 ]
trace=${traces[0]}
awk -F'\t' 'NF != 26 { bad = 1 } END { exit bad }' "$trace"
[ "$(awk -F'\t' '$6 == "step"' "$trace" | wc -l)" = "$("$host" graph "$work/slurm/pipeline.yml" | wc -l)" ]
[ "$(awk -F'\t' '$6 == "step" && $9 != "ok"' "$trace" | wc -l)" = 0 ]
[ "$(awk -F'\t' '$6 == "step" && $3 != "slicer" && $24 !~ /^[0-9]+(_[0-9]+)?$/' "$trace" | wc -l)" = 0 ]
[ "$(awk -F'\t' '$4 == "count" && $6 == "partition" && $9 == "ok"' "$trace" | wc -l)" = "$(find "$work/slurm/data/docs" -name '*.txt' | wc -l)" ]
# The report of that run: ok, every partition counted, one timeline bar per step.
"$host" report "$work/slurm/pipeline.yml" --html "$work/slurm-report.html" | grep -q ', ok)$'
grep -q "data-k=\"partitions_ok\" data-v=\"$(awk -F'\t' '$6 == "partition" && $9 == "ok"' "$trace" | wc -l)\"" "$work/slurm-report.html"
[ "$(grep -o 'data-step="' "$work/slurm-report.html" | wc -l)" = "$(awk -F'\t' '$6 == "step" && $13 > $12' "$trace" | wc -l)" ]
echo "[${SECONDS}s] trace and report of the Slurm run: OK"

# 2. A failing slice: reported with slice and partition, dependents cancelled; then resume.
mkdir -p "$work/fail/docs"
for i in $(seq -w 0 11); do echo "doc $i" > "$work/fail/docs/p$i.txt"; done
touch "$work/fail/flag"
cat > "$work/fail/pipeline.yml" <<YAML
plugins: {test: $fixtures/steppar_test_nodes.so, builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
params: {mode: throw, bad: p07, delay_ms: 0, flag: $work/fail/flag}
nodes:
  - {name: copy, func: test.fault, inputs: [docs, params:mode, params:bad, params:delay_ms, params:flag], outputs: [copies], slices: 3}
  - {name: count, func: builtin.wc, inputs: [copies], outputs: [counts], slices: 2}
YAML
set +e
"$host" run "$work/fail/pipeline.yml" --runner slurm -q 2> "$work/fail/err"
code=$?
set -e
cat "$work/fail/err"
[ "$code" = 1 ]
grep -q "copy-slice-1 failed on partition 'p07'" "$work/fail/err"
[ ! -e "$work/fail/out/counts/p00.json" ]   # the dependent multinode never ran
# Its trace: the partition and the task that failed, and the cancelled multinode not run.
trace=$(ls "$work/fail/.steppar/traces/"*.tsv | tail -1)
awk -F'\t' '$2 == "copy-slice-1" && $7 == "p07" && $9 == "failed"' "$trace" | grep -q .
awk -F'\t' '$2 == "copy-slice-1" && $6 == "step" && $9 == "failed" && $11 == "1" && $24 != ""' "$trace" | grep -q .
[ "$(awk -F'\t' '$4 == "count" && $6 == "step" && $9 != "skipped"' "$trace" | wc -l)" = 0 ]
"$host" report "$work/fail/pipeline.yml" | grep -q $'^failed\tcopy-slice-1\tp07\t'
echo "[${SECONDS}s] failure reported (and in report)"
rm "$work/fail/flag"
"$host" run "$work/fail/pipeline.yml" --runner slurm 2> "$work/fail/err2"
cat "$work/fail/err2"
# Only the failed slice is submitted again; the rest of copy is up to date.
# Only what the failed slice had not finished is planned and submitted (p07 in slice 0).
grep -q "copy: 1 new, 0 changed, 11 up to date" "$work/fail/err2"
grep -q "submitted copy-slices as Slurm job [0-9]* (slices 0; the others have nothing to run)" "$work/fail/err2"
trace=$(ls "$work/fail/.steppar/traces/"*.tsv | tail -1)
awk -F'\t' '$2 == "copy-slice-1" && $6 == "step" && $9 == "up-to-date"' "$trace" | grep -q .
awk -F'\t' '$2 == "copy-slicer" && $6 == "partitions" && $8 == "11"' "$trace" | grep -q .
[ "$(ls "$work/fail/out/counts" | wc -l)" = 12 ]
cmp <(cat "$work/fail/out/copies/"*.txt) <(cat "$work/fail/docs/"*.txt)
"$host" run "$work/fail/pipeline.yml" --runner slurm 2> "$work/fail/err3"
grep -q "everything is up to date" "$work/fail/err3"
echo "[${SECONDS}s] failure, cancel and resume on Slurm: OK"

# 2b. export slurm + submit.sh after a failed slice, on a slurm.conf without kill_invalid_depend:
# the barrier fails naming the slice, what follows it is cancelled, nothing is left PENDING.
touch "$work/fail/flag"
echo "changed" >> "$work/fail/docs/p07.txt"
"$host" export slurm "$work/fail/pipeline.yml" --out "$work/fail/jobs" >/dev/null
bash "$work/fail/jobs/submit.sh" > "$work/fail/submitted"
ids=$(sed -n 's/^submitted .*: \([0-9]*\)$/\1/p' "$work/fail/submitted" | paste -sd,)
for _ in $(seq 300); do
  [ -z "$(squeue -h -j "$ids" -t PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED)" ] && break
  sleep 0.2
done
states=$(squeue -h -t all -j "$ids" -o '%j %T' | sort -u)
echo "$states"
! echo "$states" | grep -q -E 'PENDING|RUNNING'
echo "$states" | grep -q "steppar-copy-barrier FAILED"
echo "$states" | grep -q "steppar-count-slicer CANCELLED"
echo "$states" | grep -q "steppar-count-barrier CANCELLED"   # never passes on an older plan
grep -q "did not succeed: slice [0-9] failed on partition 'p07'" "$work/fail/.steppar/slurm/copy-barrier-"*.out
rm "$work/fail/flag"
"$host" run "$work/fail/pipeline.yml" --runner slurm -q
echo "[${SECONDS}s] submit.sh after a failure: nothing left pending: OK"

# 3. Incremental on Slurm: an input edited keeping its size and mtime (as cp -p does) and a new
# one; only those are submitted, and the outputs equal a clean sequential run.
f="$work/slurm/data/docs/doc-00007.txt"
cp -p "$f" "$work/doc-00007.orig"   # its timestamps, to the nanosecond
tr a-z A-Z < "$work/doc-00007.orig" > "$f"   # rewritten in place: the same size and inode
touch -r "$work/doc-00007.orig" "$f" && rm "$work/doc-00007.orig"
echo "a brand new document" > "$work/slurm/data/docs/zz-new.txt"
"$host" run "$work/slurm/pipeline.yml" --runner slurm 2> "$work/slurm/err"
cat "$work/slurm/err"
grep -q "count: 1 new, 1 changed, 60 up to date" "$work/slurm/err"
rm -rf "$work/clean" && mkdir -p "$work/clean" && cp "$work/slurm/pipeline.yml" "$work/clean/" && cp -r "$work/slurm/data" "$work/clean/"
"$host" run "$work/clean/pipeline.yml" --runner sequential -q
diff -r "$work/slurm/out" "$work/clean/out"
"$host" run "$work/slurm/pipeline.yml" --runner slurm 2> "$work/slurm/err2"
grep -q "everything is up to date" "$work/slurm/err2"
! grep -q "submitted" "$work/slurm/err2"
echo "[${SECONDS}s] incremental on Slurm: OK"
fi
[ "$part" != first ] || exit 0

# 4. SIGTERM while the host waits on Slurm: it cancels the jobs and stops within half a second
# (exit 143); the rerun resumes, and its outputs equal a clean sequential run.
mkdir -p "$work/stop/docs"
for i in $(seq -w 0 7); do echo "doc $i" > "$work/stop/docs/p$i.txt"; done
cat > "$work/stop/pipeline.yml" <<YAML
plugins: {test: $fixtures/steppar_test_nodes.so}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
params: {mode: throw, bad: none, delay_ms: 500, flag: $work/stop/no-flag}
nodes:
  - {name: copy, func: test.fault, inputs: [docs, params:mode, params:bad, params:delay_ms, params:flag], outputs: [copies], slices: 2}
YAML
"$host" run "$work/stop/pipeline.yml" --runner slurm 2> "$work/stop/err" &
pid=$!
for _ in $(seq 100); do grep -q "submitted copy-slices" "$work/stop/err" && break; sleep 0.1; done
sleep 0.5
started=$(date +%s%N)
kill -TERM "$pid"
set +e; wait "$pid"; code=$?; set -e
ms=$(( ($(date +%s%N) - started) / 1000000 ))
cat "$work/stop/err"
[ "$code" = 143 ]
grep -q "interrupted by SIGTERM: cancelled the Slurm jobs" "$work/stop/err"
[ "$ms" -lt 500 ] || { echo "the host took $ms ms to stop"; exit 1; }
for _ in $(seq 100); do [ -z "$(squeue -h)" ] && break; sleep 0.1; done
[ -z "$(squeue -h)" ] || { squeue; echo "jobs left running after SIGTERM"; exit 1; }
"$host" run "$work/stop/pipeline.yml" --runner slurm -q
rm -rf "$work/stop-clean" && mkdir -p "$work/stop-clean" && cp -r "$work/stop/docs" "$work/stop/pipeline.yml" "$work/stop-clean/"
"$host" run "$work/stop-clean/pipeline.yml" --runner sequential -q
diff -r "$work/stop/out" "$work/stop-clean/out"
echo "[${SECONDS}s] SIGTERM while waiting on Slurm ($ms ms): OK"

# 5. A unit of 1,500 slices: slice indices beyond MaxArraySize (1001 by default) go in a second
# array whose tasks start at an offset. Made locally first, in one slice (the slice count is not
# part of what a partition's output depends on, so nothing reruns when it changes); then four
# inputs change, and their new plan (4 partitions over 1,500 slices: slices 0, 375, 750 and
# 1125) goes in two arrays. The judge is a clean sequential run, in one slice too.
mkdir -p "$work/wide/docs"
(cd "$work/wide/docs" && for i in $(seq -w 0 1499); do echo "doc $i" > "d$i.txt"; done)
cat > "$work/wide/pipeline.yml" <<YAML
plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 1500}
YAML
sed 's/slices: 1500/slices: 1/' "$work/wide/pipeline.yml" > "$work/wide/one-slice.yml"
"$host" run "$work/wide/one-slice.yml" -q
# one-slice.yml hands its state (same unit, same outputs) to pipeline.yml, as after a rename.
rm "$work/wide/.steppar/.steppar-state"
for d in 0005 0100 1000 1400; do echo "changed words" >> "$work/wide/docs/d$d.txt"; done
"$host" run "$work/wide/pipeline.yml" --runner slurm 2> "$work/wide/err"
cat "$work/wide/err"
grep -q "submitted count-slices as Slurm job [0-9]*, [0-9]* (slices 0,375,750,1125; the others have nothing to run) in 2 arrays (MaxArraySize 1001)" "$work/wide/err"
test "$(cat "$work/wide/out/counts/d1400.json")" = '{"lines":2,"words":4,"bytes":23}'
rm -rf "$work/wide-clean" && mkdir -p "$work/wide-clean" && cp -r "$work/wide/docs" "$work/wide/one-slice.yml" "$work/wide-clean/"
"$host" run "$work/wide-clean/one-slice.yml" --runner sequential -q
diff -r "$work/wide/out" "$work/wide-clean/out"
echo "[${SECONDS}s] 1,500 slices on Slurm, beyond MaxArraySize: OK"

# 6. A requeued task is news: said as it happens (a requeue holds it PENDING for BeginTime), and
# said again when it runs again; the outputs still equal a clean sequential run.
rm -rf "$work/stop/out" "$work/stop/.steppar"
sed 's/delay_ms: 500/delay_ms: 2000/' "$work/stop/pipeline.yml" > "$work/stop/requeue.yml"   # tasks of 8 s
"$host" run "$work/stop/requeue.yml" --runner slurm --poll-interval 1 2> "$work/stop/requeue.err" &
pid=$!
# Requeued mid-run: once slice 0's process runs on the node and a partition is written (a requeue
# as soon as squeue said RUNNING landed before the launch, slurmd: "already killed, do not
# launch", or during it).
slice0="run-slice $work/stop/requeue.yml --node copy --slice 0 "
read -r task _ < <(running_task 0 "$slice0" "$work/stop/out/copies") || true
[ -n "$task" ] || { echo "task 0 never ran a partition"; cat "$work/stop/requeue.err"; exit 1; }
scontrol requeue "$task"
for _ in $(seq 200); do grep -q "PENDING (BeginTime)" "$work/stop/requeue.err" && break; sleep 0.1; done
# The first run of the task must be gone before the second starts (Slurm would wait 2 minutes),
# its slurmstepd too: one still removing its spool folder makes the restart fail with "File
# exists" and Slurm holds the task for good ("launch failed requeued held"); and slurmctld must
# have it PENDING again, not still completing.
raw=$(raw_job_id "$task")
for _ in $(seq 300); do
  { pgrep -f "$slice0" || pgrep -f "slurmstepd: \[$raw\." || test -e "$cluster/spool/job$(printf %05d "$raw")" ||
    ! scontrol show job "$task" | grep -q "JobState=PENDING"; } >/dev/null || break
  sleep 0.1
done
# Nor in the second slurmd revoked the task's credential (when the requeue stopped it): a
# credential issued in that same second counts as revoked too, and slurmctld kills the restart
# ("Killing non-startable batch JobId=...: Job credential revoked": 3 of 4 such rounds here; the
# wait below: 8 of 8 pass).
gone=$(date +%s)
while [ "$(date +%s)" -le "$gone" ]; do sleep 0.05; done
scontrol update JobId="$task" StartTime=now   # instead of waiting out the requeue delay
# A restart that still races the old step's cleanup is held by Slurm for good ("launch failed
# requeued held", seen on a loaded machine): released, as an operator would, and started at once
# (released, it waits out the 2-minute requeue delay again: the test took 240 s instead of 120).
while kill -0 "$pid" 2>/dev/null; do
  case $(squeue -h -j "$task" -o '%r' 2>/dev/null || true) in
    *'launch failed'*) scontrol release "$task" || true ;;
    BeginTime) scontrol update JobId="$task" StartTime=now || true ;;
  esac
  sleep 0.5
done
set +e; wait "$pid"; code=$?; set -e
cat "$work/stop/requeue.err"
[ "$code" = 0 ] || { tail -n 20 "$work/stop/.steppar/slurm/"copy-slices-*.out; tail -n 40 "$cluster/log/slurmctld.log" "$cluster/log/slurmd.log"; exit 1; }
# The task's first run was stopped by the requeue, not before it began.
grep -q "\[$raw.batch\] error: \*\*\* JOB $raw ON .* DUE TO JOB REQUEUE" "$cluster/log/slurmd.log"
grep -q "copy-slice-0 (Slurm $task): PENDING (BeginTime)" "$work/stop/requeue.err"
grep -q "copy-slice-0 (Slurm $task): RUNNING again on " "$work/stop/requeue.err"
diff -r "$work/stop/out" "$work/stop-clean/out"
echo "[${SECONDS}s] a requeued task is reported and the run ends right: OK"

# 7. A task that fails before it can leave a marker (here: the pipeline file broken while the
# jobs wait for their start time): the failure carries the task's own error line.
rm -rf "$work/broken" && mkdir -p "$work/broken" && cp -r "$work/stop/docs" "$work/stop/pipeline.yml" "$work/broken/"
"$host" run "$work/broken/pipeline.yml" --runner slurm --poll-interval 1 --sbatch-arg=--begin=now+3 2> "$work/broken/err" &
pid=$!
for _ in $(seq 100); do grep -q "submitted copy-slices" "$work/broken/err" && break; sleep 0.1; done
echo "nodes: [" >> "$work/broken/pipeline.yml"
set +e; wait "$pid"; code=$?; set -e
cat "$work/broken/err"
[ "$code" = 1 ]
grep -q "copy-slice-0: Slurm task [0-9_]* FAILED on [^ ]* on partition '[^']*': $work/broken/pipeline.yml:" "$work/broken/err" ||
  grep -q "copy-slice-0: Slurm task [0-9_]* FAILED on [^ ]*: $work/broken/pipeline.yml:" "$work/broken/err"
echo "[${SECONDS}s] a task that fails before its marker says why: OK"

# 8. The plugin's setup and teardown run once per slice in the Slurm task that runs it, and once
# for a plain node (counted in the files they append to), after a node failure too; the outputs
# equal a clean sequential run.
mkdir -p "$work/life/docs" "$work/life/calls" "$work/life-local/docs" "$work/life-local/calls"
for i in $(seq -w 00 09); do echo "line $i" > "$work/life/docs/p$i.txt"; done
cp "$work/life/docs/"* "$work/life-local/docs/"
life_pipeline() {  # $1: folder, $2: params:bad
  cat > "$1/pipeline.yml" <<YAML
plugins: {test: $fixtures/steppar_test_nodes.so}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
  total:  {type: file, path: out/total.txt}
params: {lifecycle_dir: $1/calls, bad: $2, fail_setup: false, fail_teardown: false}
nodes:
  - {name: copy, func: test.lifecycle_copy, inputs: [docs, params:lifecycle_dir, params:bad, params:fail_setup, params:fail_teardown], outputs: [copies], slices: 3}
  - {name: total, func: test.lifecycle_total, inputs: [copies, params:lifecycle_dir], outputs: [total]}
YAML
}
life_pipeline "$work/life" p04
set +e; "$host" run "$work/life/pipeline.yml" --runner slurm -q 2> "$work/life/err"; code=$?; set -e
cat "$work/life/err"
[ "$code" = 1 ]
grep -q "refusing partition p04" "$work/life/err"
# p04 is in slice 1 (of 0-3, 4-6, 7-9): its teardown ran after the node threw.
[ "$(wc -l < "$work/life/calls/teardown.copy-slice-1")" = 1 ]
life_pipeline "$work/life" none
"$host" run "$work/life/pipeline.yml" --runner slurm -q
# Each slice ran once per run that gave it work: one setup and one teardown each time.
for s in 0 1 2; do
  [ "$(wc -l < "$work/life/calls/setup.copy-slice-$s")" -ge 1 ]
  [ "$(wc -l < "$work/life/calls/setup.copy-slice-$s")" = "$(wc -l < "$work/life/calls/teardown.copy-slice-$s")" ]
done
grep -qx "slice 2 of 3 in copy" "$work/life/calls/setup.copy-slice-2"
[ "$(wc -l < "$work/life/calls/setup.total")" = 1 ] && [ "$(cat "$work/life/calls/teardown.total")" = "calls 1" ]
life_pipeline "$work/life-local" none
"$host" run "$work/life-local/pipeline.yml" --runner sequential -q
diff -r "$work/life/out" "$work/life-local/out"
echo "[${SECONDS}s] setup and teardown once per slice on Slurm: OK"
