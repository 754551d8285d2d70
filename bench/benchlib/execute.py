"""Running the contenders: timed commands, steppar pipelines and the tools that are not steppar
(the ideal loop, xargs, GNU parallel, snakemake), each writing its outputs into its own folder,
and the byte-for-byte check of those outputs."""
import json
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class BenchError(Exception):
    """A failed command or a wrong output: the benchmark stops loudly."""


class CommandFailed(BenchError):
    """A command exited with a non-zero code."""

    def __init__(self, cmd, returncode, stderr):
        super().__init__(f"{shlex.join(map(str, cmd))} exited with {returncode}:\n{stderr.rstrip()}")
        self.returncode = returncode
        self.stderr = stderr


class NotAvailable(Exception):
    """The engine does not offer what a contender needs (e.g. `balance: size`)."""


@dataclass(frozen=True)
class Tools:
    """The built programs and plugins, and how many jobs run side by side."""
    host: Path
    builtin_plugin: Path
    bench_plugin: Path
    bench_bin: Path
    jobs: int

    @property
    def work(self):
        return self.bench_bin / "bench-work"

    @property
    def scale(self):
        return self.bench_bin / "bench-scale"


@dataclass
class Measurement:
    """One timed run: wall seconds, plus whatever else the run reported."""
    seconds: float
    detail: dict = field(default_factory=dict)


@dataclass
class Contender:
    """One way of doing a workload's work. `run` does one timed repetition from clean outputs;
    `check` raises BenchError unless the outputs are right. `once`: run in the first repetition
    only (snakemake is slow)."""
    name: str
    run: Callable[[], Measurement]
    check: Callable[[], None]
    once: bool = False


@dataclass(frozen=True)
class FileSet:
    """A workload's input and work: partition files, their list file, the node to run
    (bench-work's name and steppar's func), its rounds (burn), the output suffix."""
    root: Path
    data: Path
    files: list
    node: str
    func: str
    rounds: int = 0
    out_suffix: str = ".out"

    @property
    def list_file(self):
        return self.root / "files.list"

    def write_list(self):
        self.list_file.write_text("".join(f"{path}\n" for path in self.files))

    def work_command(self, tools):
        """bench-work with the node (and rounds), to which files and options are appended."""
        rounds = ["--rounds", str(self.rounds)] if self.rounds else []
        return [str(tools.work), self.node, *rounds]


def run_command(cmd, cwd=None, stdout=subprocess.DEVNULL, env=None):
    """Runs `cmd` (with `env` added to the environment) and returns its wall time in seconds;
    CommandFailed if it fails."""
    return run_measured(cmd, cwd, stdout, env)[0]


def run_measured(cmd, cwd=None, stdout=subprocess.DEVNULL, env=None):
    """Runs `cmd` (with `env` added to the environment); returns (wall seconds, peak resident
    MiB of it and the children it waited for); CommandFailed if it fails."""
    environment = {**os.environ, **env} if env else None
    started = time.perf_counter()
    proc = subprocess.Popen([str(part) for part in cmd], cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True,
                            env=environment)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise CommandFailed(cmd, proc.returncode, stderr)
    return seconds, usage.ru_maxrss / 1024


def fresh_folder(path):
    """Empties (or creates) the folder `path`."""
    shutil.rmtree(path, ignore_errors=True)
    Path(path).mkdir(parents=True)


def read_outputs(folder):
    """{file name: bytes} of every visible file in `folder`."""
    return {path.name: path.read_bytes() for path in Path(folder).iterdir() if not path.name.startswith(".")}


def check_same(folder, reference, label):
    """Raises BenchError unless `folder` holds exactly the files of `reference` with the same bytes."""
    actual = read_outputs(folder)
    missing = sorted(reference.keys() - actual.keys())
    extra = sorted(actual.keys() - reference.keys())
    wrong = sorted(name for name in reference.keys() & actual.keys() if actual[name] != reference[name])
    if missing or extra or wrong:
        raise BenchError(
            f"OUTPUT MISMATCH for {label} in {folder}: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(extra)} unexpected (e.g. {extra[:3]}), {len(wrong)} with other bytes (e.g. {wrong[:3]})")


# --- steppar ---------------------------------------------------------------------------------

UNIT = "step"


@dataclass(frozen=True)
class Pipeline:
    """A steppar pipeline file in its own folder: the node `func` over one partitioned input,
    as a multinode of `slices` slices, writing `<folder>/out/`."""
    folder: Path
    fileset: FileSet
    slices: int
    balance: str = ""

    @property
    def path(self):
        return self.folder / "pipeline.yml"

    @property
    def out(self):
        return self.folder / "out"

    def write(self, tools):
        fs = self.fileset
        inputs = "[docs, params:rounds]" if fs.rounds else "[docs]"
        balance = f", balance: {self.balance}" if self.balance else ""
        params = f"params:\n  rounds: {fs.rounds}\n" if fs.rounds else ""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            "# Written by bench/bench.py.\n"
            "plugins:\n"
            f"  builtin: {json.dumps(str(tools.builtin_plugin))}\n"
            f"  bench: {json.dumps(str(tools.bench_plugin))}\n"
            "catalog:\n"
            f"  docs: {{type: partitioned, path: {json.dumps(str(fs.data))}, suffix: .txt}}\n"
            f"  results: {{type: partitioned, path: out, suffix: {fs.out_suffix}}}\n"
            f"{params}"
            "nodes:\n"
            f"  - {{name: {UNIT}, func: {fs.func}, inputs: {inputs}, outputs: [results], "
            f"slices: {self.slices}{balance}}}\n")

    def slice_seconds(self):
        """The `seconds` of each slice's marker, in slice order."""
        markers = self.folder / ".steppar" / "units" / UNIT / "markers"
        return [json.loads((markers / f"slice-{i}.json").read_text())["seconds"] for i in range(self.slices)]


def run_steppar(tools, pipeline, runner, jobs, env=None):
    """One clean `steppar-host run` of the pipeline (`env` added to its environment);
    NotAvailable when the engine rejects its `balance` key."""
    shutil.rmtree(pipeline.out, ignore_errors=True)
    shutil.rmtree(pipeline.folder / ".steppar", ignore_errors=True)
    cmd = [tools.host, "run", pipeline.path, "--runner", runner, "--force", "--quiet"]
    if runner == "parallel":
        cmd += ["-j", jobs]
    try:
        seconds = run_command(cmd, env=env)
    except CommandFailed as failure:
        if pipeline.balance and failure.returncode == 2 and "balance" in failure.stderr:
            raise NotAvailable(failure.stderr.strip()) from failure
        raise
    return Measurement(seconds, {"slice_seconds": pipeline.slice_seconds()})


def steppar(tools, name, pipeline, runner, jobs, reference, env=None):
    """steppar-host running `pipeline` with `runner` (-j `jobs` for the parallel runner), `env`
    added to its environment."""
    pipeline.write(tools)
    return Contender(name, lambda: run_steppar(tools, pipeline, runner, jobs, env),
                     lambda: check_same(pipeline.out, reference(), name))


# --- contenders that are not steppar ----------------------------------------------------------

def ideal_loop(tools, name, fileset, out, reference, atomic=False):
    """bench-work over every file in one process (--timing): the cost of the work itself; with
    `atomic`, each output is published by rename as steppar does."""
    def run():
        fresh_folder(out)
        cmd = fileset.work_command(tools) + ["--out", out, "--suffix", fileset.out_suffix,
                                             "--list", fileset.list_file, "--timing"] + (["--atomic"] if atomic else [])
        with open(out.with_suffix(".timing"), "w+") as timing:
            seconds = run_command(cmd, stdout=timing)
            timing.seek(0)
            return Measurement(seconds, json.loads(timing.read()))
    return Contender(name, run, lambda: check_same(out, reference(), name))


def xargs_per_file(tools, name, fileset, out, reference):
    """xargs -P N -n 1: one bench-work process per file."""
    def run():
        fresh_folder(out)
        cmd = ["xargs", "-P", tools.jobs, "-n", 1, "-d", "\n", "-a", fileset.list_file,
               *fileset.work_command(tools), "--out", out, "--suffix", fileset.out_suffix]
        return Measurement(run_command(cmd))
    return Contender(name, run, lambda: check_same(out, reference(), name))


def gnu_parallel(tools, name, fileset, out, reference):
    """GNU parallel -j N: one bench-work process per file, names read from the list file."""
    def run():
        fresh_folder(out)
        cmd = ["parallel", "-j", tools.jobs, *fileset.work_command(tools), "--out", out,
               "--suffix", fileset.out_suffix, "::::", fileset.list_file]
        return Measurement(run_command(cmd))
    return Contender(name, run, lambda: check_same(out, reference(), name))


def xargs_batched(tools, name, fileset, out, batch):
    """xargs -P N -n `batch`: bench-work over `batch` files per process, printing one result line
    per file instead of writing outputs; checked by its count of result lines."""
    results = out.with_suffix(".lines")

    def run():
        cmd = ["xargs", "-P", tools.jobs, "-n", batch, "-d", "\n", "-a", fileset.list_file,
               *fileset.work_command(tools)]
        with open(results, "w") as stdout:
            return Measurement(run_command(cmd, stdout=stdout))

    def check():
        lines = results.read_bytes().count(b"\n")
        if lines != len(fileset.files):
            raise BenchError(f"OUTPUT MISMATCH for {name}: {lines} result lines for {len(fileset.files)} files")
    return Contender(name, run, check)


SNAKEFILE = """\
# Written by bench/bench.py: one job per partition, each running bench-work once.
NAMES = [line.rstrip("\\n") for line in open({names!r}) if line.strip()]

rule all:
    input: expand("out/{{name}}{suffix}", name=NAMES)

rule work:
    input: {data!r} + "/{{name}}.txt"
    output: "out/{{name}}{suffix}"
    shell: {command!r} + " --out out --suffix {suffix} {{input}}"
"""


def run_snakemake(tools, fileset, folder, count):
    """snakemake --cores N in a fresh folder over the first `count` partitions; wall seconds."""
    fresh_folder(folder)
    (folder / "names.list").write_text("".join(f"{path.stem}\n" for path in fileset.files[:count]))
    (folder / "Snakefile").write_text(SNAKEFILE.format(
        names=str(folder / "names.list"), data=str(fileset.data), suffix=fileset.out_suffix,
        command=shlex.join(fileset.work_command(tools))))
    return run_command(["snakemake", "--snakefile", folder / "Snakefile", "--directory", folder,
                        "--cores", tools.jobs, "--quiet"])


def snakemake(tools, name, fileset, folder, reference, subset, budget):
    """snakemake, run once. With more than `subset` partitions it first runs on the first
    `subset` of them; when that predicts more than `budget` seconds for all, its time is
    scaled linearly (a lower estimate) instead of running everything."""
    state = {"count": len(fileset.files)}

    def run():
        total = len(fileset.files)
        if total <= subset:
            return Measurement(run_snakemake(tools, fileset, folder, total), {"files": total})
        probe = run_snakemake(tools, fileset, folder, subset)
        estimate = probe * total / subset
        if estimate <= budget:
            state["count"] = total
            return Measurement(run_snakemake(tools, fileset, folder, total),
                               {"files": total, "probe_files": subset, "probe_seconds": probe})
        state["count"] = subset
        return Measurement(estimate, {"files": subset, "extrapolated_from_seconds": probe,
                                      "extrapolated_to_files": total})

    def check():
        names = {Path(path).stem + fileset.out_suffix for path in fileset.files[:state["count"]]}
        check_same(folder / "out", {k: v for k, v in reference().items() if k in names}, name)
    return Contender(name, run, check, once=True)
