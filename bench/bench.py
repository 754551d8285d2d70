#!/usr/bin/python3
"""steppar benchmark driver: generates the workloads' data under a work folder, runs every
contender on it, checks their outputs byte for byte, and writes the report (report.txt,
results.json, speedup.png) to --out. See bench/README.md; bench/run.sh builds and calls this.

Standard library only (Debian 12's /usr/bin/python3)."""
import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchlib import report
from benchlib.execute import BenchError, Tools
from benchlib.load import Snapshot
from benchlib.workloads import WORKLOADS, Context

REPO = Path(__file__).resolve().parent.parent

FULL_SIZES = {
    "small-files": {"count": 20000, "min_bytes": 1024, "max_bytes": 16384},
    "cpu-bound": {"count": 200, "bytes": 65536, "partition_seconds": 0.020, "sweep": [1, 2, 4, 8]},
    "skewed": {"count": 400, "median_bytes": 16384, "alpha": 1.1, "cap": 100, "sequential_seconds": 4.0},
    "overhead": {"partitions": 64, "empty_partitions": 100000},
    "scale": {"partitions": 1000000},
    "snakemake": {"subset": 2000, "budget_seconds": 600},
    "incremental": {"large": 1000000, "medium": 7500},
    "watch": {"folders": 1000, "per_folder": 1000},
}
QUICK_SIZES = {
    **FULL_SIZES,
    "small-files": {"count": 300, "min_bytes": 1024, "max_bytes": 16384},
    "cpu-bound": {**FULL_SIZES["cpu-bound"], "count": 16},
    "skewed": {**FULL_SIZES["skewed"], "count": 40, "sequential_seconds": 0.5},
    "overhead": {"partitions": 64, "empty_partitions": 2000},
    "scale": {"partitions": 100000},
    "incremental": {"large": 20000, "medium": 1000},
    "watch": {"folders": 100, "per_folder": 100},
}


def parse_args(argv):
    build = REPO / "build-bench"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/dev/shm/steppar-bench"),
                        help="folder for the generated data and every run's outputs (default: %(default)s)")
    parser.add_argument("--repeat", type=int, help="repetitions per contender (default 5; 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run in under a minute")
    parser.add_argument("--only", help="comma-separated workloads: " + ", ".join(WORKLOADS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="N: slices and -j (default: cores)")
    parser.add_argument("--build", type=Path, default=build, help="build folder (default: %(default)s)")
    parser.add_argument("--steppar-host", type=Path, help="default: BUILD/bin/steppar-host")
    parser.add_argument("--builtin-plugin", type=Path, help="default: BUILD/lib/steppar/plugins/steppar_builtin.so")
    parser.add_argument("--bench-plugin", type=Path, help="default: BUILD/bench/plugins/steppar_bench.so")
    parser.add_argument("--bench-bin", type=Path, help="folder of bench-work and bench-scale (default: BUILD/bench/bin)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="report folder (default: %(default)s)")
    parser.add_argument("--skip-snakemake", action="store_true", help="leave snakemake out")
    parser.add_argument("--settle", type=float, default=120, metavar="SECONDS",
                        help="before each timed run, wait up to this long for other processes to leave the "
                             "CPUs alone (default: %(default)s; 0: never wait)")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (2 if args.quick else 5)
    args.only = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = [name for name in args.only if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)} (choose from {', '.join(WORKLOADS)})")
    if args.repeat < 1 or args.jobs < 1:
        parser.error("--repeat and --jobs must be at least 1")
    return args


def tools_from(args):
    """The programs and plugins, from --build unless given one by one; all must exist."""
    tools = Tools(host=(args.steppar_host or args.build / "bin" / "steppar-host").resolve(),
                  builtin_plugin=(args.builtin_plugin or args.build / "lib/steppar/plugins/steppar_builtin.so").resolve(),
                  bench_plugin=(args.bench_plugin or args.build / "bench/plugins/steppar_bench.so").resolve(),
                  bench_bin=(args.bench_bin or args.build / "bench" / "bin").resolve(), jobs=args.jobs)
    for path in (tools.host, tools.builtin_plugin, tools.bench_plugin, tools.work):
        if not path.exists():
            raise BenchError(f"{path} does not exist: build first (bash bench/run.sh does)")
    return tools


def first_line(cmd):
    """The first line a command prints (stdout or stderr), or 'missing'."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        return "missing"
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr).strip() else "?"


def filesystem_type(path):
    """The type of the filesystem holding `path` (its longest mount point in /proc/self/mounts)."""
    path = str(Path(path).resolve())
    best, kind = "", "unknown"
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _device, mount, fstype = line.split()[:3]
        mount = mount.replace("\\040", " ")
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best):
            best, kind = mount, fstype
    return f"{kind}, mounted at {best}"


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown cpu"


def machine_facts(args, tools, date):
    """Cores, kernel, CPU, the work folder's filesystem and the versions of every tool."""
    return {
        "date": date,
        "cores": os.cpu_count(), "jobs": args.jobs, "repeat": args.repeat, "quick": args.quick,
        "settle_seconds": args.settle,
        "kernel": platform.release(), "cpu": cpu_model(), "workdir": str(args.workdir),
        "workdir_filesystem": filesystem_type(args.workdir),
        "sizes": QUICK_SIZES if args.quick else FULL_SIZES,
        "versions": {"steppar-host": first_line([str(tools.host), "--version"]),
                     "steppar commit": first_line(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
                     "parallel": first_line(["parallel", "--version"]),
                     "snakemake": first_line(["snakemake", "--version"]),
                     "xargs": first_line(["xargs", "--version"]),
                     "gnuplot": first_line(["gnuplot", "--version"]),
                     "python": platform.python_version()},
        "tools": {name: str(value) for name, value in vars(tools).items()},
    }


def run_workload(ctx, name):
    """Runs one workload and notes how much CPU other processes took meanwhile (a busy machine
    disturbs the timings)."""
    before = Snapshot.take()
    result = WORKLOADS[name](ctx)
    after = Snapshot.take()
    others, share = after.others_since(before)
    result["machine_load"] = {"wall_seconds": after.wall - before.wall, "other_cpu_seconds": others,
                              "other_cpu_share": share}
    return result


def log(message):
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def main(argv):
    args = parse_args(argv)
    started = time.perf_counter()
    date = datetime.datetime.now().isoformat(timespec="seconds")
    try:
        tools = tools_from(args)
        args.workdir.mkdir(parents=True, exist_ok=True)
        ctx = Context(tools=tools, workdir=args.workdir.resolve(), repeat=args.repeat,
                      sizes=QUICK_SIZES if args.quick else FULL_SIZES,
                      run_snakemake=not args.skip_snakemake, settle_seconds=args.settle, log=log)
        log(f"work folder {ctx.workdir}, N = {tools.jobs}, {args.repeat} repetition(s)")
        results = [run_workload(ctx, name) for name in args.only]
    except BenchError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1
    machine = machine_facts(args, tools, date)
    machine["duration_seconds"] = time.perf_counter() - started
    print(report.write(args.out, machine, results), end="")
    log(f"report in {args.out}/ (report.txt, results.json, speedup.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
