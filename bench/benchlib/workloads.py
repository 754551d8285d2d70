"""The six workloads. Each function takes the run's Context and returns its result as plain
data: timed rows (one per contender), derived figures, targets (PASS/MISS) and extras."""
import json
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import data, load, watching
from .execute import (UNIT, BenchError, CommandFailed, Contender, FileSet, Measurement, NotAvailable, Pipeline, Tools,
                      check_same, gnu_parallel, ideal_loop, read_outputs, run_command, run_measured, snakemake, steppar,
                      xargs_batched, xargs_per_file)

IDEAL = "ideal loop (1 process)"
IDEAL_PER_CORE = "ideal / cores"
IDEAL_ATOMIC = "ideal loop, atomic writes (1 process)"
IDEAL_ATOMIC_PER_CORE = "ideal atomic / cores"
XARGS = "xargs -n 1"
GNU_PARALLEL = "GNU parallel"
SNAKEMAKE = "snakemake"
BATCHED = "xargs -n 500 (no outputs)"


@dataclass
class Context:
    """What every workload needs: tools, work folder, repetitions, sizes, logging."""
    tools: Tools
    workdir: Path
    repeat: int
    sizes: dict
    run_snakemake: bool
    settle_seconds: float
    log: Callable[[str], None]
    burn_cost: float = 0.0  # CPU seconds per byte and round of burn, measured once

    def folder(self, workload):
        return self.workdir / workload


@dataclass
class Row:
    """A contender's timed runs (or why it could not run)."""
    contender: str
    runs: list = field(default_factory=list)
    note: str = ""
    unavailable: str = ""

    def seconds(self):
        return [run.seconds for run in self.runs]

    def median(self):
        return statistics.median(self.seconds())

    def disturbed(self):
        """How many runs other processes disturbed (took more than BUSY_SHARE of the CPUs)."""
        return sum(run.detail["disturbed"] for run in self.runs)

    def to_json(self):
        return {"contender": self.contender, "seconds": self.seconds(),
                "details": [run.detail for run in self.runs], "note": self.note,
                "unavailable": self.unavailable or None}


def steppar_name(runner, slices, jobs=None):
    """Row name of a steppar run, e.g. 'steppar parallel (slices 2, -j 2)'."""
    return f"steppar {runner} (slices {slices}, -j {jobs})" if jobs else f"steppar {runner} (slices {slices})"


def figure(name, unit, median, values, note=""):
    """A derived figure: its headline (median) and the values its min and max come from."""
    return {"figure": name, "unit": unit, "median": median, "min": min(values) if values else None,
            "max": max(values) if values else None, "values": values, "note": note}


def missing_figure(name, unit, why):
    """A figure that could not be measured, and why."""
    return {"figure": name, "unit": unit, "median": None, "min": None, "max": None, "values": [], "note": why}


def target(text, measured, passed, row=None, figure_name=None):
    """A target line: PASS, MISS, or N/A when `passed` is None (nothing to measure)."""
    status = "N/A" if passed is None else ("PASS" if passed else "MISS")
    return {"text": text, "measured": measured, "status": status, "row": row, "figure": figure_name}


def timed_run(ctx, contender):
    """One run of the contender, after waiting for a quiet machine, noting the share of the
    CPUs other processes took during it."""
    waited = load.wait_quiet(ctx.settle_seconds, ctx.log) if ctx.settle_seconds else 0.0
    before = load.Snapshot.take()
    run = contender.run()
    after = load.Snapshot.take()
    others, share = after.others_since(before)
    run.detail.update({"other_cpu_seconds": others, "other_cpu_share": share,
                       "disturbed": after.disturbed_since(before), "waited_for_quiet_seconds": waited})
    return run


def measure(ctx, workload, contenders):
    """Runs the contenders `repeat` times, interleaved (so drift hits all alike), checking each
    run's outputs. Returns their rows in contender order."""
    rows = {c.name: Row(c.name, note="1 run (snakemake is slow)" if c.once else "") for c in contenders}
    for rep in range(ctx.repeat):
        for contender in contenders:
            row = rows[contender.name]
            if row.unavailable or (contender.once and rep > 0):
                continue
            try:
                run = timed_run(ctx, contender)
            except NotAvailable as why:
                row.unavailable = str(why)
                ctx.log(f"[{workload}] {contender.name}: not available: {why}")
                continue
            contender.check()
            row.runs.append(run)
            ctx.log(f"[{workload}] run {rep + 1}/{ctx.repeat} {contender.name}: {run.seconds:.3f} s" +
                    (f" (DISTURBED: other processes took {run.detail['other_cpu_share']:.0%} of the CPUs)"
                     if run.detail["disturbed"] else ""))
    return list(rows.values())


class Reference:
    """The outputs every contender must reproduce: those of one steppar run, read once (after
    that run's first repetition) and checked to hold one output per partition."""

    def __init__(self, folder, count):
        self.folder, self.count, self.outputs = folder, count, None

    def __call__(self):
        if self.outputs is None:
            self.outputs = read_outputs(self.folder)
            if len(self.outputs) != self.count:
                raise BenchError(f"reference {self.folder} holds {len(self.outputs)} outputs, not {self.count}")
        return self.outputs


def scaled_row(row, divisor, name, note):
    """A row whose run times are `row`'s divided by `divisor` (ideal / cores)."""
    return Row(name, [Measurement(run.seconds / divisor, run.detail) for run in row.runs], note)


def ratio_text(value):
    return f"{value:.2f}x"


def burn_cost(ctx):
    """CPU seconds per byte and round of burn: bench-work burn --rounds 1000 --timing on one 64 KiB file,
    the best of three (measured once per driver run)."""
    if not ctx.burn_cost:
        size, rounds = 64 * 1024, 1000
        [probe] = data.materialize(ctx.folder("calibration") / "data", {"seed": 4, "sizes": [size]}, [size])
        timings = []
        for _ in range(3):
            out = subprocess.run([str(ctx.tools.work), "burn", "--rounds", str(rounds), "--timing", str(probe)],
                                 capture_output=True, text=True, check=True).stdout
            timings.append(json.loads(out.splitlines()[-1])["seconds"])
        ctx.burn_cost = min(timings) / (size * rounds)
        ctx.log(f"[calibration] burn costs {ctx.burn_cost * 1e9:.3f} ns per byte and round")
    return ctx.burn_cost


def file_contenders(ctx, fs, reference, steppar_runs):
    """steppar sequential (the reference outputs), the given steppar parallel runs
    {name: (slices, jobs)}, the ideal loop, xargs -n 1, GNU parallel and snakemake."""
    tools, runs = ctx.tools, fs.root / "runs"
    sequential = Pipeline(runs / "steppar-sequential", fs, tools.jobs)
    contenders = [steppar(tools, steppar_name("sequential", tools.jobs), sequential, "sequential", 1, reference)]
    for name, (slices, jobs) in steppar_runs.items():
        contenders.append(steppar(tools, name, Pipeline(runs / f"steppar-{slices}-{jobs}", fs, slices),
                                  "parallel", jobs, reference))
    contenders += [ideal_loop(tools, IDEAL, fs, runs / "ideal", reference),
                   xargs_per_file(tools, XARGS, fs, runs / "xargs", reference),
                   gnu_parallel(tools, GNU_PARALLEL, fs, runs / "gnu-parallel", reference)]
    if ctx.run_snakemake:
        limits = ctx.sizes["snakemake"]
        contenders.append(snakemake(tools, SNAKEMAKE, fs, runs / "snakemake", reference,
                                    limits["subset"], limits["budget_seconds"]))
    return contenders


def note_snakemake(rows):
    """Says on the snakemake row when its time was extrapolated from a subset."""
    for row in rows:
        if row.contender == SNAKEMAKE and row.runs and "extrapolated_to_files" in row.runs[0].detail:
            detail = row.runs[0].detail
            row.note = (f"1 run on the first {detail['files']} of {detail['extrapolated_to_files']} files "
                        f"({detail['extrapolated_from_seconds']:.1f} s), EXTRAPOLATED linearly (a lower estimate)")


def faster_target(rows, reference, other, factor, text):
    """Target: the reference row is at least `factor` times faster than `other` (if it ran)."""
    if other not in rows or not rows[other].runs:
        return target(text, "not run", None, row=other)
    ratio = rows[other].median() / rows[reference].median()
    return target(text, ratio_text(ratio), ratio >= factor, row=other)


def ideal_target(rows, reference, limit, text):
    """Target: the reference row is at most `limit` x ideal / cores."""
    ratio = rows[reference].median() / rows[IDEAL_PER_CORE].median()
    return target(text, f"{ratio_text(ratio)} ideal/cores", ratio <= limit, row=IDEAL_PER_CORE)


def with_ideal_per_core(ctx, rows, ideal=IDEAL, per_core_name=IDEAL_PER_CORE):
    """The rows plus 'ideal / cores' right after the ideal loop."""
    at = next(i for i, row in enumerate(rows) if row.contender == ideal)
    per_core = scaled_row(rows[at], ctx.tools.jobs, per_core_name, f"{ideal} time / {ctx.tools.jobs}")
    return rows[:at + 1] + [per_core] + rows[at + 1:]


def small_files(ctx):
    """small-files: 20,000 text files of 1-16 KiB (sizes uniform), node builtin.wc. The work per
    file is tiny, so this measures what each contender pays per partition: steppar's slices
    against the ideal loop, one process per file (xargs -n 1, GNU parallel, snakemake) and
    batched xargs -n 500 (which writes no per-file outputs)."""
    size = ctx.sizes["small-files"]
    spec = {"seed": 1, **size}
    root = ctx.folder("small-files")
    files = data.materialize(root / "data", spec, data.uniform_sizes(size["count"], size["min_bytes"],
                                                                     size["max_bytes"], spec["seed"]))
    fs = FileSet(root, root / "data", files, "wc", "builtin.wc", out_suffix=".json")
    fs.write_list()
    jobs = ctx.tools.jobs
    parallel = steppar_name("parallel", jobs, jobs)
    reference = Reference(root / "runs" / "steppar-sequential" / "out", len(files))
    contenders = file_contenders(ctx, fs, reference, {parallel: (jobs, jobs)})
    contenders.append(ideal_loop(ctx.tools, IDEAL_ATOMIC, fs, root / "runs" / "ideal-atomic", reference, atomic=True))
    contenders.append(xargs_batched(ctx.tools, BATCHED, fs, root / "runs" / "batched", 500))
    rows = with_ideal_per_core(ctx, with_ideal_per_core(ctx, measure(ctx, "small-files", contenders)),
                               IDEAL_ATOMIC, IDEAL_ATOMIC_PER_CORE)
    note_snakemake(rows)
    by_name = {row.contender: row for row in rows}
    targets = [
        ideal_target(by_name, parallel, 1.2, "small-files: steppar parallel <= 1.2x ideal/cores"),
        faster_target(by_name, parallel, XARGS, 15, "small-files: steppar parallel >= 15x faster than xargs -n 1"),
        faster_target(by_name, parallel, GNU_PARALLEL, 20, "small-files: steppar parallel >= 20x faster than GNU parallel"),
        faster_target(by_name, parallel, SNAKEMAKE, 20, "small-files: steppar parallel >= 20x faster than snakemake"),
    ]
    batched = by_name[BATCHED].median()
    over = by_name[parallel].median() / batched
    targets.append(target("small-files: steppar parallel <= 2x batched xargs -n 500",
                          f"{ratio_text(over)} batched", over <= 2, row=BATCHED))
    # What publishing each output atomically (temporary file + rename) costs, which the plain
    # ideal loop does not pay: steppar against an ideal loop that does.
    atomic = [p / (a / jobs) for p, a in zip(by_name[parallel].seconds(), by_name[IDEAL_ATOMIC].seconds())]
    figures = [figure("steppar parallel / (ideal loop with atomic writes / cores)", "x",
                      by_name[parallel].median() / by_name[IDEAL_ATOMIC_PER_CORE].median(), atomic,
                      "the ideal loop renaming each output into place, as steppar does")]
    return {"workload": "small-files", "description": small_files.__doc__, "reference": parallel,
            "params": {**spec, "files": len(files), "total_bytes": data.total_bytes(files)},
            "rows": rows, "figures": figures, "targets": targets}


def speedup_points(ctx, rows, sequential, sweep):
    """Speedup of steppar parallel over steppar sequential per slice count (median, and the
    range from the parallel run's slowest and fastest runs), with the ideal min(slices, cores)."""
    base = rows[sequential].median()
    points = []
    for slices in sweep:
        jobs = min(slices, ctx.tools.jobs)
        times = rows[steppar_name("parallel", slices, jobs)].seconds()
        points.append({"slices": slices, "jobs": jobs, "median": base / statistics.median(times),
                       "min": base / max(times), "max": base / min(times), "ideal": float(jobs)})
    return points


def cpu_bound(ctx):
    """cpu-bound: 200 partitions of 64 KiB, node bench.burn with rounds calibrated so one
    partition costs about 20 ms of CPU: with this much work per partition every contender
    should approach ideal / cores; steppar parallel is also run with slices 1, 2, 4, 8 (-j
    min(slices, cores)) for the speedup plot."""
    size = ctx.sizes["cpu-bound"]
    rounds = max(1, round(size["partition_seconds"] / (size["bytes"] * burn_cost(ctx))))
    spec = {"seed": 2, "count": size["count"], "bytes": size["bytes"]}
    root = ctx.folder("cpu-bound")
    files = data.materialize(root / "data", spec, [size["bytes"]] * size["count"])
    fs = FileSet(root, root / "data", files, "burn", "bench.burn", rounds=rounds, out_suffix=".sha256")
    fs.write_list()
    jobs = ctx.tools.jobs
    sweep = size["sweep"]
    parallel = steppar_name("parallel", jobs, jobs)
    runs = {steppar_name("parallel", s, min(s, jobs)): (s, min(s, jobs)) for s in sorted({*sweep, jobs})}
    reference = Reference(root / "runs" / "steppar-sequential" / "out", len(files))
    contenders = file_contenders(ctx, fs, reference, runs)
    rows = with_ideal_per_core(ctx, measure(ctx, "cpu-bound", contenders))
    note_snakemake(rows)
    by_name = {row.contender: row for row in rows}
    sequential = steppar_name("sequential", jobs)
    speedup = by_name[sequential].median() / by_name[parallel].median()
    per_partition = [run.detail["seconds"] / len(files) * 1e3 for run in by_name[IDEAL].runs]
    figures = [figure("burn work per partition (ideal loop)", "ms", statistics.median(per_partition), per_partition,
                      f"rounds {rounds}, target {size['partition_seconds'] * 1e3:.0f} ms")]
    targets = [
        target("cpu-bound: steppar parallel >= 1.9x faster than sequential", ratio_text(speedup), speedup >= 1.9,
               row=sequential),
        ideal_target(by_name, parallel, 1.05, "cpu-bound: steppar parallel <= 1.05x ideal/cores"),
    ]
    return {"workload": "cpu-bound", "description": cpu_bound.__doc__, "reference": parallel,
            "params": {**spec, "rounds": rounds, "burn_ns_per_byte_round": burn_cost(ctx) * 1e9,
                       "total_bytes": data.total_bytes(files)},
            "rows": rows, "figures": figures, "targets": targets,
            "speedup": speedup_points(ctx, by_name, sequential, sweep)}


def lower_bounds(ctx, row):
    """Per run of the work loop: max(total work / N, largest partition's work), in seconds."""
    return [max(run.detail["seconds"] / ctx.tools.jobs, run.detail["slowest_file_seconds"]) for run in row.runs]


def imbalance(row):
    """Per run: the slowest slice's seconds over the mean slice's (from the markers)."""
    return [max(s) / statistics.mean(s) for s in (run.detail["slice_seconds"] for run in row.runs)]


def skewed_figures(ctx, rows, names, bound):
    """Lower bound, and per balance: makespan / lower bound and slice imbalance."""
    figures = [figure("lower bound max(total work / N, largest partition)", "s", statistics.median(bound), bound)]
    for name in names:
        row = rows[name]
        if not row.runs:
            figures.append(missing_figure(f"makespan / lower bound, {name}", "x", "not available"))
            continue
        ratios = [run.seconds / lb for run, lb in zip(row.runs, bound)]
        figures.append(figure(f"makespan / lower bound, {name}", "x", row.median() / statistics.median(bound), ratios))
        spread = imbalance(row)
        figures.append(figure(f"slowest slice / mean slice, {name}", "x", statistics.median(spread), spread))
    return figures


def skewed_targets(rows, by_count, by_size, bound):
    """balance: size within 1.1x the lower bound, and faster than balance: count."""
    if not rows[by_size].runs:
        why = "not available (the engine rejects balance: size)"
        return [target("skewed: balance: size makespan <= 1.1x lower bound", why, None, row=by_size),
                target("skewed: balance: size faster than balance: count", why, None, row=by_size)]
    size, count = rows[by_size].median(), rows[by_count].median()
    ratio = size / statistics.median(bound)
    return [target("skewed: balance: size makespan <= 1.1x lower bound", f"{ratio_text(ratio)} lower bound",
                   ratio <= 1.1, row=by_size),
            target("skewed: balance: size faster than balance: count", f"{size:.3f} s vs {count:.3f} s",
                   size < count, row=by_size)]


def skewed(ctx):
    """skewed: 400 partitions whose sizes follow a heavy (Pareto) tail, median about 16 KiB, the
    largest about 100x that, node bench.burn (rounds so the whole set is a few seconds of work).
    Contenders: steppar parallel with balance: count (slices of equal partition counts) and with
    balance: size (balanced by bytes), against the lower bound max(total work / N, largest
    partition's work) measured with bench-work --timing."""
    size = ctx.sizes["skewed"]
    spec = {"seed": 3, **{k: size[k] for k in ("count", "median_bytes", "alpha", "cap")}}
    root = ctx.folder("skewed")
    sizes = data.pareto_sizes(size["count"], size["median_bytes"], size["alpha"], size["cap"], spec["seed"])
    files = data.materialize(root / "data", spec, sizes)
    rounds = max(1, round(size["sequential_seconds"] / (sum(sizes) * burn_cost(ctx))))
    fs = FileSet(root, root / "data", files, "burn", "bench.burn", rounds=rounds, out_suffix=".sha256")
    fs.write_list()
    tools, jobs = ctx.tools, ctx.tools.jobs
    by_count = steppar_name("parallel", jobs, jobs) + ", balance: count"
    by_size = steppar_name("parallel", jobs, jobs) + ", balance: size"
    count_pipeline = Pipeline(root / "runs" / "balance-count", fs, jobs)  # count is the default
    reference = Reference(count_pipeline.out, len(files))
    contenders = [steppar(tools, by_count, count_pipeline, "parallel", jobs, reference),
                  steppar(tools, by_size, Pipeline(root / "runs" / "balance-size", fs, jobs, balance="size"),
                          "parallel", jobs, reference),
                  ideal_loop(tools, IDEAL, fs, root / "runs" / "work-loop", reference)]
    rows = measure(ctx, "skewed", contenders)
    by_name = {row.contender: row for row in rows}
    if by_name[by_size].unavailable:
        by_name[by_size].note = "not available: " + by_name[by_size].unavailable.splitlines()[0]
    by_name[IDEAL].note = "bench-work --timing: gives the lower bound"
    bound = lower_bounds(ctx, by_name[IDEAL])
    return {"workload": "skewed", "description": skewed.__doc__, "reference": by_count,
            "params": {**spec, "rounds": rounds, "total_bytes": sum(sizes), "largest_bytes": max(sizes),
                       "median_bytes_actual": statistics.median(sizes)},
            "rows": rows, "figures": skewed_figures(ctx, by_name, [by_count, by_size], bound),
            "targets": skewed_targets(by_name, by_count, by_size, bound)}


def noop_pipeline(ctx, root, count, slices, label, trace=True):
    """A bench.noop pipeline over `count` empty partitions in `slices` slices, and its contender
    (sequential runner; every output must be an empty file). `trace`: with the run's default
    trace (as every run has it), else with STEPPAR_KEEP_TRACES=0 (none)."""
    files = data.materialize(root / label, {"seed": 0, "empty": count}, [0] * count)
    fs = FileSet(root, root / label, files, "noop", "bench.noop")
    pipeline = Pipeline(root / "runs" / f"{label}-slices-{slices}{'' if trace else '-no-trace'}", fs, slices)
    expected = {path.stem + fs.out_suffix: b"" for path in files}
    name = f"noop, {count} partition{'s' if count != 1 else ''}, {steppar_name('sequential', slices)}{'' if trace else ', no trace'}"
    return steppar(ctx.tools, name, pipeline, "sequential", 1, lambda: expected,
                   None if trace else {"STEPPAR_KEEP_TRACES": "0"})


def per_unit_figure(name, unit, scale, many, few, divisor):
    """(many - few) / divisor x scale: the headline from the medians, min and max from the runs
    paired by repetition."""
    paired = [(a - b) / divisor * scale for a, b in zip(many.seconds(), few.seconds())]
    return figure(name, unit, (many.median() - few.median()) / divisor * scale, paired,
                  f"({many.contender} - {few.contender}) / {divisor}")


def overhead(ctx):
    """overhead: what the engine costs when the node does nothing (bench.noop on empty files,
    sequential runner). (a) per-slice fixed cost: 64 partitions with slices 64 against slices 1,
    (T64 - T1) / 63. (b) per-partition cost: 100,000 partitions against 1, both slices 1,
    (T100000 - T1) / 99,999. (c) what the run's trace adds per partition: 100,000 partitions with
    the default trace against STEPPAR_KEEP_TRACES=0, (T - T no trace) / 100,000."""
    size = ctx.sizes["overhead"]
    root = ctx.folder("overhead")
    slices, many = size["partitions"], size["empty_partitions"]
    contenders = [noop_pipeline(ctx, root, slices, slices, "small"), noop_pipeline(ctx, root, slices, 1, "small"),
                  noop_pipeline(ctx, root, many, 1, "many"), noop_pipeline(ctx, root, 1, 1, "one"),
                  noop_pipeline(ctx, root, many, 1, "many", trace=False)]
    rows = measure(ctx, "overhead", contenders)
    per_slice = per_unit_figure("per-slice fixed cost", "ms", 1e3, rows[0], rows[1], slices - 1)
    per_partition = per_unit_figure("per-partition engine cost", "us", 1e6, rows[2], rows[3], many - 1)
    trace_cost = per_unit_figure("trace cost per partition", "us", 1e6, rows[2], rows[4], many)
    release = barrier_release(ctx, root, root / "small")
    return {"workload": "overhead", "description": overhead.__doc__, "reference": None,
            "params": {"partitions": slices, "empty_partitions": many},
            "rows": rows, "figures": [per_slice, per_partition, trace_cost, release],
            "targets": [target("overhead: per-slice fixed cost <= 3 ms (median)", f"{per_slice['median']:.3f} ms",
                               per_slice["median"] <= 3, figure_name=per_slice["figure"]),
                        target("overhead: per-partition cost <= 20 us", f"{per_partition['median']:.2f} us",
                               per_partition["median"] <= 20, figure_name=per_partition["figure"]),
                        target("overhead: the trace adds <= 1 us per partition", f"{trace_cost['median']:.2f} us",
                               trace_cost["median"] <= 1, figure_name=trace_cost["figure"]),
                        target("barrier: downstream starts <= 5 ms after the last marker (parallel runner)",
                               f"{release['median']:.2f} ms", release["median"] <= 5, figure_name=release["figure"])]}


def barrier_release(ctx, root, data_dir):
    """How soon work after a barrier starts: a noop multinode (N slices) over the 64 empty
    partitions, then bench.stamp, a whole node that writes the wall clock when it starts. The
    latency is that stamp minus the newest slice marker's modification time."""
    folder = root / "runs" / "barrier"
    folder.mkdir(parents=True, exist_ok=True)
    pipeline = folder / "pipeline.yml"
    pipeline.write_text(
        "# Written by bench/bench.py.\n"
        f"plugins: {{bench: {json.dumps(str(ctx.tools.bench_plugin))}}}\n"
        "catalog:\n"
        f"  docs: {{type: partitioned, path: {json.dumps(str(data_dir))}, suffix: .txt}}\n"
        "  results: {type: partitioned, path: out, suffix: .out}\n"
        "  stamp: {type: file, path: stamp.txt}\n"
        "nodes:\n"
        f"  - {{name: {UNIT}, func: bench.noop, inputs: [docs], outputs: [results], slices: {ctx.tools.jobs}}}\n"
        "  - {name: after, func: bench.stamp, inputs: [results], outputs: [stamp]}\n")
    markers = folder / ".steppar" / "units" / UNIT / "markers"
    latencies = []
    for rep in range(max(ctx.repeat, 10)):
        for stale in (folder / "out", folder / ".steppar"):
            shutil.rmtree(stale, ignore_errors=True)
        run_command([ctx.tools.host, "run", pipeline, "--quiet", "-j", ctx.tools.jobs])
        last_marker = max(path.stat().st_mtime_ns for path in markers.glob("slice-*.json"))
        latencies.append((int((folder / "stamp.txt").read_text()) - last_marker) / 1e6)
    ctx.log(f"[overhead] barrier release: {', '.join(f'{ms:.2f}' for ms in latencies)} ms")
    return figure("last slice marker -> node after the barrier running", "ms", statistics.median(latencies),
                  latencies, "parallel runner; stamp written by bench.stamp minus the newest marker's mtime")


def bench_scale_figures(outputs):
    """Figures from bench-scale's JSON objects (one per repetition)."""
    fields = (("fork_exit_ms", "ms", "plain fork() + exit + wait from a host grown by host_mib"),
              ("posix_spawn_true_ms", "ms", "posix_spawn(/bin/true) + wait from that host"),
              ("fork_server_slice_ms", "ms", "a whole slice (1 partition, marker included) through the fork server, from that host"),
              ("barrier_inotify_ms", "ms", "last marker renamed -> check-barrier --wait released (inotify)"),
              ("barrier_scan_50ms_ms", "ms", "the same with only the directory scan, every 50 ms (shared filesystems)"),
              ("plan_seconds", "s", "cut the names into slices and write the plan (parts + index)"),
              ("slice_by_size_seconds", "s", "balance: size over all the partitions"),
              ("read_slice_part_seconds", "s", "what one slice reads of the plan"),
              ("slicer_seconds", "s", "the slicer in-process over the files (listing included)"),
              ("peak_rss_mib", "MiB", "bench-scale's own peak: the names + plan in memory + the slicer"))
    figures = []
    for name, unit, note in fields:
        values = [out[name] for out in outputs if name in out]
        figures.append(figure(f"bench-scale {name}", unit, statistics.median(values), values, note) if values
                       else missing_figure(f"bench-scale {name}", unit, "not in bench-scale's output"))
    return figures


def scale(ctx):
    """scale: a million partitions. bench-scale cuts 1M names into slices (by count and by
    size), writes the plan and reads one slice's part; creates 1M empty files once and runs the
    slicer over them; grows itself by 2 GiB and times starting a process by fork(), by
    posix_spawn() and through the fork server; and times the barrier's wake-up after the last
    marker. Then `steppar-host run-slicer` over the 1M files gives the targets' time and peak
    memory (measured with wait4)."""
    partitions = ctx.sizes["scale"]["partitions"]
    root = ctx.folder("scale")
    result = {"workload": "scale", "description": scale.__doc__, "reference": None,
              "params": {"partitions": partitions}, "rows": [], "figures": [], "targets": []}
    texts = (f"scale: slicing {partitions:,} partitions <= 1 s", f"scale: slicing {partitions:,} partitions <= 300 MiB peak",
             "scale: a 2 GiB host starts a slice in about 1 ms (<= 2 ms, through the fork server)",
             "barrier: check-barrier --wait released <= 5 ms after the last marker (inotify)")
    if not ctx.tools.scale.exists():
        result["figures"] = [missing_figure("bench-scale", "", f"not built ({ctx.tools.scale})")]
        result["targets"] = [target(text, "not built", None) for text in texts]
        return result
    out = root / "bench-scale.json"
    root.mkdir(parents=True, exist_ok=True)
    outputs = []
    for rep in range(ctx.repeat):
        with open(out, "w") as stdout:
            seconds = run_command([ctx.tools.scale, "--plugin", ctx.tools.bench_plugin, "--workdir", root,
                                   "--partitions", partitions, "--files"], stdout=stdout)
        outputs.append(json.loads(out.read_text()))
        ctx.log(f"[scale] bench-scale run {rep + 1}/{ctx.repeat}: {seconds:.3f} s")
    result["bench_scale"] = outputs
    def run_slicer():
        seconds, peak = run_measured([ctx.tools.host, "run-slicer", root / "files" / "pipeline.yml", "--node", "n",
                                      "--force", "--quiet"])
        return Measurement(seconds, {"peak_rss_mib": peak})
    [slicer] = measure(ctx, "scale", [Contender(f"steppar-host run-slicer, {partitions} partitions", run_slicer,
                                                lambda: None)])
    result["rows"] = [slicer]
    peaks = [run.detail["peak_rss_mib"] for run in slicer.runs]
    memory = figure("run-slicer peak resident memory", "MiB", statistics.median(peaks), peaks)
    figures = bench_scale_figures(outputs)
    result["figures"] = [memory] + figures
    by_name = {fig["figure"]: fig for fig in figures}
    spawn, barrier = by_name["bench-scale fork_server_slice_ms"], by_name["bench-scale barrier_inotify_ms"]
    result["targets"] = [
        target(texts[0], f"{slicer.median():.3f} s", slicer.median() <= 1.0, row=slicer.contender),
        target(texts[1], f"{memory['median']:.0f} MiB", memory["median"] <= 300, figure_name=memory["figure"]),
        target(texts[2], f"{spawn['median']:.2f} ms" if spawn["median"] is not None else "not measured",
               None if spawn["median"] is None else spawn["median"] <= 2, figure_name=spawn["figure"]),
        target(texts[3], f"{barrier['median']:.2f} ms" if barrier["median"] is not None else "not measured",
               None if barrier["median"] is None else barrier["median"] <= 5, figure_name=barrier["figure"])]
    return result


NEW_PARTITION = "zz-new-"  # the partitions the incremental workload adds: zz-new-0.txt, zz-new-1.txt, ...


# Starts a command with its stderr in a file and reports its wall time and peak memory. It runs
# in a fresh small interpreter: a child's peak resident memory (ru_maxrss) includes the peak of
# the process that started it (exec keeps the high-water mark), and the driver holds the names of
# up to 1,000,000 partitions.
LAUNCHER = """\
import json, os, sys, time
log, cmd = sys.argv[1], sys.argv[2:]
with open(log, "wb") as err:
    started = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, err.fileno(), 2), (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024,
                  "returncode": os.waitstatus_to_exitcode(status)}))
"""


def run_logged(cmd, log_path):
    """Runs `cmd` (its program an absolute path) with its stderr (steppar-host's JSON log)
    written to `log_path`; returns (wall seconds, peak resident MiB of it and the children it
    waited for, the log's JSON objects); CommandFailed if it fails. The time and memory are
    measured by LAUNCHER, as run_measured does but from a small process."""
    cmd = [str(part) for part in cmd]
    launcher = subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, str(log_path), *cmd],
                              capture_output=True, text=True)
    if launcher.returncode != 0:
        raise BenchError(f"the launcher of {cmd[0]} failed:\n{launcher.stderr.rstrip()}")
    result = json.loads(launcher.stdout)
    text = Path(log_path).read_text(errors="replace")
    if result["returncode"] != 0:
        raise CommandFailed(cmd, result["returncode"], text)
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line that is not the engine's (a plugin's own output)
    return result["seconds"], result["peak_rss_mib"], events


def run_end(events, log_path):
    """The run_end event of a JSON log; BenchError unless its status is done."""
    ends = [event for event in events if event.get("event") == "run_end"]
    if not ends or ends[-1].get("status") != "done":
        raise BenchError(f"{log_path}: the run did not end with status done ({ends[-1] if ends else 'no run_end'})")
    return ends[-1]


def slicer_counts(events, log_path):
    """(new, changed, up to date) from the slicer's line `<unit>: 1 new, 0 changed, 1,000,000 up to date`."""
    pattern = re.compile(rf"^{UNIT}: ([\d,]+) new, ([\d,]+) changed, ([\d,]+) up to date")
    for event in events:
        found = pattern.match(str(event.get("message", ""))) if event.get("event") == "log" else None
        if found:
            return tuple(int(group.replace(",", "")) for group in found.groups())
    raise BenchError(f"{log_path}: no '{UNIT}: N new, N changed, N up to date' line in the log")


def rerun_contender(ctx, name, pipeline):
    """The contender of an incremental case: each run adds one new partition file
    (zz-new-<rep>.txt, a few bytes) and times `steppar-host run -j N` (wall time and peak memory
    from wait4, the engine's own time from the run_end event of its JSON log), which must run
    that partition only. Also returns the list of the files it added."""
    fs, added = pipeline.fileset, []
    log_path = pipeline.folder / "rerun.log"
    cmd = [ctx.tools.host, "run", pipeline.path, "--log-format", "json", "-j", ctx.tools.jobs]

    def run():
        new = fs.data / f"{NEW_PARTITION}{len(added)}{data.SUFFIX}"
        new.write_bytes(f"new partition {len(added)}\n".encode())
        added.append(new)
        seconds, peak, events = run_logged(cmd, log_path)
        end = run_end(events, log_path)
        counts = slicer_counts(events, log_path)
        expected = (1, 0, len(fs.files) + len(added) - 1)
        if counts != expected:
            raise BenchError(f"{name}: the rerun after adding {new.name} found {counts[0]} new, {counts[1]} changed, "
                             f"{counts[2]:,} up to date partitions, not {expected[0]} new, {expected[1]} changed, "
                             f"{expected[2]:,} up to date (log: {log_path})")
        return Measurement(seconds, {"engine_seconds": end["seconds"], "peak_rss_mib": peak, "new_file": new.name,
                                     "steps_ran": end.get("ran")})

    def check():
        output = pipeline.out / (added[-1].stem + fs.out_suffix)
        if not output.is_file():
            raise BenchError(f"OUTPUT MISMATCH for {name}: the rerun did not write {output}")
    return Contender(name, run, check), added


def same_as_clean_run(ctx, name, pipeline, count):
    """Compares the outputs of the incremental runs with those of one clean sequential run of the
    same pipeline text in a fresh folder (own out/ and .steppar/, same data)."""
    clean = Pipeline(pipeline.folder.with_name(pipeline.folder.name + "-clean"), pipeline.fileset, pipeline.slices)
    clean.write(ctx.tools)
    for stale in (clean.out, clean.folder / ".steppar"):
        shutil.rmtree(stale, ignore_errors=True)
    run_command([ctx.tools.host, "run", clean.path, "--runner", "sequential", "--quiet"])
    reference = read_outputs(clean.out)
    if len(reference) != count:
        raise BenchError(f"OUTPUT MISMATCH for {name}: the clean run {clean.out} holds {len(reference)} outputs, "
                         f"not {count}")
    check_same(pipeline.out, reference, name)
    ctx.log(f"[incremental] {name}: outputs same as a clean sequential run ({count:,} files)")


def incremental_case(ctx, name, pipeline, verify=None):
    """One incremental case: one untimed full run, then `repeat` timed reruns, each after adding
    one new partition; `verify(pipeline, outputs)` after the last one. Then the added files are
    deleted and an untimed run retracts their outputs, so the data folder matches its manifest
    again. Returns the reruns' row."""
    tools, fs = ctx.tools, pipeline.fileset
    for stale in fs.data.glob(f"{NEW_PARTITION}*{data.SUFFIX}"):  # left by an interrupted run
        stale.unlink()
    pipeline.write(tools)
    for stale in (pipeline.out, pipeline.folder / ".steppar"):
        shutil.rmtree(stale, ignore_errors=True)
    full = run_command([tools.host, "run", pipeline.path, "--quiet", "-j", tools.jobs])
    ctx.log(f"[incremental] full run, {len(fs.files):,} partitions (untimed): {full:.3f} s")
    contender, added = rerun_contender(ctx, name, pipeline)
    try:
        [row] = measure(ctx, "incremental", [contender])
        if verify:
            verify(pipeline, len(fs.files) + len(added))
    finally:
        for path in added:
            path.unlink(missing_ok=True)
    log_path = pipeline.folder / "retract.log"
    _, _, events = run_logged([tools.host, "run", pipeline.path, "--log-format", "json", "-j", tools.jobs], log_path)
    run_end(events, log_path)
    left = [path.name for path in added if (pipeline.out / (path.stem + fs.out_suffix)).exists()]
    if left:
        raise BenchError(f"{name}: the run after deleting the added files left their outputs {left[:3]} "
                         f"in {pipeline.out}")
    return row


def incremental(ctx):
    """incremental: a rerun after adding one input file runs only that partition (the ledger).
    (a) 1,000,000 empty partitions, node bench.noop, slices N; (b) 7,500 text files of 1-4 KiB,
    node builtin.sha256, slices N. Each case: one untimed full run, then per repetition one new
    partition file (zz-new-<rep>.txt) and a timed `steppar-host run -j N --log-format json`: wall
    time and peak memory (wait4), and the engine's time from the log's run_end event (process
    start-up excluded); the log must say 1 new, 0 changed. (b)'s outputs are compared with a clean
    sequential run's. Afterwards the added files are deleted and a run retracts their outputs."""
    size = ctx.sizes["incremental"]
    large, medium, jobs = size["large"], size["medium"], ctx.tools.jobs
    root = ctx.folder("incremental")
    large_spec = {"seed": 0, "empty": large}
    large_files = data.materialize(root / "data-large", large_spec, [0] * large)
    medium_spec = {"seed": 5, "count": medium, "min_bytes": 1024, "max_bytes": 4096}
    medium_files = data.materialize(root / "data-medium", medium_spec, data.uniform_sizes(
        medium, medium_spec["min_bytes"], medium_spec["max_bytes"], medium_spec["seed"]))
    large_pipeline = Pipeline(root / "runs" / "large", FileSet(root, root / "data-large", large_files, "noop",
                                                                "bench.noop"), jobs)
    medium_pipeline = Pipeline(root / "runs" / "medium", FileSet(root, root / "data-medium", medium_files, "sha256",
                                                                  "builtin.sha256", out_suffix=".sha256"), jobs)
    large_name = f"steppar rerun, {large:,} empty partitions + 1 new (bench.noop, slices {jobs}, -j {jobs})"
    medium_name = f"steppar rerun, {medium:,} partitions + 1 new (builtin.sha256, slices {jobs}, -j {jobs})"
    large_row = incremental_case(ctx, large_name, large_pipeline)
    medium_row = incremental_case(ctx, medium_name, medium_pipeline,
                                  lambda pipeline, count: same_as_clean_run(ctx, medium_name, pipeline, count))
    for row in (large_row, medium_row):
        row.note = "1 new file per run; wall time, process start-up included"

    def detail(row, key, scale=1.0):
        return [run.detail[key] * scale for run in row.runs]
    large_engine, peaks = detail(large_row, "engine_seconds"), detail(large_row, "peak_rss_mib")
    medium_wall = [seconds * 1e3 for seconds in medium_row.seconds()]
    medium_engine = detail(medium_row, "engine_seconds", 1e3)
    engine_note = "run_end seconds of the JSON log (process start-up excluded)"
    figures = [
        figure(f"rerun, {large:,} partitions, 1 new file: wall", "s", large_row.median(), large_row.seconds(),
               "steppar-host run, process start-up included"),
        figure(f"rerun, {large:,} partitions, 1 new file: engine", "s", statistics.median(large_engine), large_engine,
               engine_note),
        figure(f"rerun, {large:,} partitions, 1 new file: peak resident memory", "MiB", statistics.median(peaks),
               peaks, "steppar-host and the children it waited for (wait4, from a small launcher process)"),
        figure(f"rerun, {medium:,} partitions, 1 new file: wall", "ms", statistics.median(medium_wall), medium_wall,
               "steppar-host run, process start-up included"),
        figure(f"rerun, {medium:,} partitions, 1 new file: engine", "ms", statistics.median(medium_engine),
               medium_engine, engine_note)]
    wall, memory, engine = figures[0], figures[2], figures[4]
    targets = [
        target(f"incremental: {large:,} partitions, 1 new file: rerun <= 2 s", f"{wall['median']:.3f} s",
               wall["median"] <= 2, figure_name=wall["figure"]),
        target(f"incremental: {large:,} partitions, 1 new file: rerun <= 300 MiB peak", f"{memory['median']:.0f} MiB",
               memory["median"] <= 300, figure_name=memory["figure"]),
        target(f"incremental: {medium:,} partitions, 1 new file: engine time <= 50 ms", f"{engine['median']:.1f} ms",
               engine["median"] <= 50, figure_name=engine["figure"])]
    return {"workload": "incremental", "description": incremental.__doc__, "reference": None,
            "params": {"large": large_spec, "medium": {**medium_spec, "total_bytes": data.total_bytes(medium_files)},
                       "slices": jobs, "jobs": jobs},
            "rows": [large_row, medium_row], "figures": figures, "targets": targets}


def watch(ctx):
    """watch: change detection at 1,000,000 partitions (benchlib/watching.py)."""
    return watching.watch(ctx, measure, figure, target)


WORKLOADS = {"small-files": small_files, "cpu-bound": cpu_bound, "skewed": skewed, "overhead": overhead,
             "scale": scale, "incremental": incremental, "watch": watch}
