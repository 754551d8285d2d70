"""The `watch` workload: change detection at scale. A million empty partitions in 1,000 folders
of 1,000 (the layout of issue 25), node bench.noop. After one untimed full run:

- a rerun by hand after one new file (it walks and stats every input and output), on every core
  and on one (taskset -c 0): their ratio is how the walk scales with cores;
- `steppar-host watch --debounce 0.1`: from a new file's creation to its output on disk (the run
  looks only at the paths the kernel named, from the scans the run before kept).

Every added file must get its output, and the output folder must end with exactly one output per
input (names compared). The added files are then deleted and one run retracts their outputs."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from .execute import BenchError, Contender, Measurement

FOLDERS_OF_FILES = 1000
# Published figures of the peers (not measured here): what the README puts beside ours.
GIT_FSMONITOR = "git status with fsmonitor: 248k files, 4.18 s -> 18 ms (24 ms after touching one file)"


def make_layout(data, folders, per_folder):
    """Empty partitions data/dNNN/fNNN.txt, made once (a marker file says the layout is there)."""
    marker = data.with_name(data.name + ".layout")
    wanted = f"{folders}x{per_folder}"
    if marker.exists() and marker.read_text() == wanted:
        return
    subprocess.run(["rm", "-rf", str(data)], check=True)
    for d in range(folders):
        folder = data / f"d{d:03d}"
        folder.mkdir(parents=True)
        for f in range(per_folder):
            os.close(os.open(folder / f"f{f:03d}.txt", os.O_WRONLY | os.O_CREAT, 0o644))
    marker.write_text(wanted)


def write_pipeline(tools, folder, data, jobs):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.yml"
    path.write_text("# Written by bench/bench.py (watch).\n"
                    f"plugins: {{bench: {json.dumps(str(tools.bench_plugin))}}}\n"
                    "catalog:\n"
                    f"  docs: {{type: partitioned, path: {json.dumps(str(data))}, suffix: .txt}}\n"
                    "  results: {type: partitioned, path: out, suffix: .out}\n"
                    f"nodes:\n  - {{name: noop, func: bench.noop, inputs: [docs], outputs: [results], slices: {jobs}}}\n")
    return path


def run_quiet(cmd, env=None):
    started = time.perf_counter()
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def wait_for(predicate, seconds, what):
    deadline = time.perf_counter() + seconds
    while not predicate():
        if time.perf_counter() > deadline:
            raise BenchError(f"watch: {what} within {seconds} s")
        time.sleep(0.001)


class Watcher:
    """`steppar-host watch` in the background, its JSON log in a file."""

    def __init__(self, tools, pipeline, log_path, jobs):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen([str(tools.host), "watch", str(pipeline), "--debounce", "0.1", "-j", str(jobs)],
                                        stdout=subprocess.DEVNULL, stderr=self.log)

    def runs_ended(self):
        return Path(self.log_path).read_text(errors="replace").count("watch: run ended")

    def settle(self, before):
        """Waits until more than `before` runs ended and none started for a second."""
        deadline = time.perf_counter() + 120
        seen, quiet_since = -1, time.perf_counter()
        while True:
            text = Path(self.log_path).read_text(errors="replace")
            started, ended = text.count("watch: run ("), text.count("watch: run ended")
            if ended != seen:
                seen, quiet_since = ended, time.perf_counter()
            if ended > before and started == ended and time.perf_counter() - quiet_since > 1.0:
                return
            if self.process.poll() is not None or time.perf_counter() > deadline:
                raise BenchError(f"watch: the watcher did not settle (log: {self.log_path})")
            time.sleep(0.05)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        self.log.close()


def check_outputs(data, out, added):
    for path in added:
        output = out / path.parent.name / (path.stem + ".out")
        if not output.is_file():
            raise BenchError(f"OUTPUT MISMATCH for watch: no output {output} for {path}")
    inputs = {os.path.join(os.path.relpath(root, data), name[:-4]) for root, _, names in os.walk(data) for name in names}
    outputs = {os.path.join(os.path.relpath(root, out), name[:-4]) for root, _, names in os.walk(out) for name in names}
    if inputs != outputs:
        raise BenchError(f"OUTPUT MISMATCH for watch: {len(inputs - outputs)} input(s) without an output, "
                         f"{len(outputs - inputs)} output(s) without an input")


def watch(ctx, measure, figure, target):
    size = ctx.sizes["watch"]
    folders, per_folder, jobs, tools = size["folders"], size["per_folder"], ctx.tools.jobs, ctx.tools
    total = folders * per_folder
    root = ctx.folder("watch")
    data = root / "data"
    make_layout(data, folders, per_folder)
    pipeline = write_pipeline(tools, root / "run", data, jobs)
    out = root / "run" / "out"
    subprocess.run(["rm", "-rf", str(out), str(root / "run" / ".steppar")], check=True)
    for stale in data.glob("d*/zz-*.txt"):
        stale.unlink()
    full = run_quiet([tools.host, "run", pipeline, "-q", "-j", jobs])
    ctx.log(f"[watch] full run, {total:,} partitions (untimed): {full:.3f} s")
    added = []

    def add(kind):
        path = data / f"d{len(added) * 37 % folders:03d}" / f"zz-{kind}-{len(added)}.txt"
        path.write_bytes(b"new\n")
        added.append(path)
        return path

    def by_hand(cores):
        def run():
            add("hand")
            prefix = ["taskset", "-c", "0"] if cores == 1 else []
            return Measurement(run_quiet(prefix + [tools.host, "run", pipeline, "-q", "-j", jobs]), {"cores": cores})
        return run

    def check_last():
        output = out / added[-1].parent.name / (added[-1].stem + ".out")
        if not output.is_file():
            raise BenchError(f"OUTPUT MISMATCH for watch: no output {output}")

    cores = len(os.sched_getaffinity(0))
    hand = measure(ctx, "watch", [Contender(f"rerun by hand, 1 new file ({cores} cores)", by_hand(cores), check_last),
                                  Contender("rerun by hand, 1 new file (1 core, taskset -c 0)", by_hand(1), check_last)])
    watcher = Watcher(tools, pipeline, root / "watch.log", jobs)
    try:
        watcher.settle(0)

        def through_watch():
            before = watcher.runs_ended()
            path = add("watch")
            started = time.perf_counter()
            output = out / path.parent.name / (path.stem + ".out")
            wait_for(output.exists, 60, f"no output for {path}")
            latency = time.perf_counter() - started
            watcher.settle(before)
            return Measurement(latency, {"debounce_seconds": 0.1})

        [watched] = measure(ctx, "watch", [Contender("watch --debounce 0.1: new file to its output", through_watch, check_last)])
        log_text = Path(watcher.log_path).read_text(errors="replace")
    finally:
        watcher.stop()
    trusted = log_text.count("path(s) changed since: no walk")
    check_outputs(data, out, added)
    ctx.log(f"[watch] outputs: one per input ({total + len(added):,}); {trusted} scan(s) from the watch, no walk")
    for path in added:
        path.unlink()
    run_quiet([tools.host, "run", pipeline, "-q", "-j", jobs])

    [hand_all, hand_one] = hand
    figures = [
        figure(f"rerun by hand, {total:,} partitions, 1 new file ({cores} cores)", "s", hand_all.median(), hand_all.seconds(),
               "walks and stats every input and output"),
        figure(f"rerun by hand, {total:,} partitions, 1 new file (1 core)", "s", hand_one.median(), hand_one.seconds(), "taskset -c 0"),
        figure("walk scaling: 1 core / all cores", "x", hand_one.median() / hand_all.median(), [], ""),
        figure(f"watch, {total:,} partitions: new file to its output", "s", watched.median(), watched.seconds(),
               "--debounce 0.1 included; the run looks only at the paths the kernel named"),
        figure("rerun by hand / watch", "x", hand_all.median() / watched.median(), [], GIT_FSMONITOR)]
    targets = [
        target(f"watch: {total:,} partitions, 1 new file: rerun by hand <= 1 s on {cores} cores", f"{hand_all.median():.3f} s",
               hand_all.median() <= 1, figure_name=figures[0]["figure"]),
        target(f"watch: {total:,} partitions: new file to output <= 0.1 s + debounce", f"{watched.median():.3f} s",
               watched.median() <= 0.2, figure_name=figures[3]["figure"])]
    return {"workload": "watch", "description": __doc__, "reference": None,
            "params": {"folders": folders, "per_folder": per_folder, "slices": jobs, "jobs": jobs, "debounce": 0.1},
            "rows": [hand_all, hand_one, watched], "figures": figures, "targets": targets}
