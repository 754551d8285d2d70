"""The report: a plain-text table (timed rows), derived figures, PASS/MISS target lines,
results.json with every figure, and the cpu-bound speedup plot (gnuplot)."""
import json
import shutil
import subprocess

from .load import BUSY_SHARE
from .workloads import IDEAL_ATOMIC_PER_CORE, IDEAL_PER_CORE


def fmt(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


def align(rows):
    """Rows of cells as text lines, each column padded to its widest cell (first column left-,
    numbers right-aligned)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(w) if i < 2 or i >= len(row) - 3 else cell.rjust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return lines


def targets_of(result, key, name):
    """The targets of a workload attached to the row or figure `name`."""
    return [t for t in result["targets"] if t.get(key) == name]


def target_cells(targets):
    return ["; ".join(t["text"].split(": ", 1)[1] for t in targets), " ".join(t["status"] for t in targets)]


def timing_table(results):
    """One line per workload and contender: median, min, max seconds, runs, ratio to the
    workload's steppar parallel median, target and result."""
    rows = [["workload", "contender", "median s", "min s", "max s", "runs", "disturbed", "ratio", "target", "result",
             "note"]]
    for result in results:
        reference = next((r for r in result["rows"] if r.contender == result["reference"]), None)
        for row in result["rows"]:
            targets = targets_of(result, "row", row.contender)
            if not row.runs:
                rows.append([result["workload"], row.contender, "-", "-", "-", "0", "-", "-", *target_cells(targets),
                             row.note or "not available"])
                continue
            seconds = row.seconds()
            ratio = f"{row.median() / reference.median():.2f}" if reference and reference.runs else "-"
            rows.append([result["workload"], row.contender, fmt(row.median()), fmt(min(seconds)), fmt(max(seconds)),
                         str(len(seconds)), str(row.disturbed()), ratio, *target_cells(targets), row.note])
    return align(rows)


def figure_table(results):
    """One line per derived figure: median, min, max in its unit, target and result."""
    rows = [["workload", "figure", "median", "min", "max", "unit", "target", "result", "note"]]
    for result in results:
        for fig in result["figures"]:
            rows.append([result["workload"], fig["figure"], fmt(fig["median"]), fmt(fig["min"]), fmt(fig["max"]),
                         fig["unit"], *target_cells(targets_of(result, "figure", fig["figure"])), fig["note"]])
    return align(rows) if len(rows) > 1 else []


def target_lines(results):
    return [f"{t['status']:<4}  {t['text']} (measured: {t['measured']})" for r in results for t in r["targets"]]


def load_lines(results):
    """How much of the CPUs other processes took during each workload (waits for a quiet machine
    included), and a warning when some timed runs were disturbed."""
    lines = ["other processes took " + ", ".join(
        f"{r['machine_load']['other_cpu_share']:.0%} of the CPUs during {r['workload']}" for r in results)
        + " (waits for a quiet machine included)"]
    rows = [row for r in results for row in r["rows"] if row.contender not in (IDEAL_PER_CORE, IDEAL_ATOMIC_PER_CORE)]
    disturbed, runs = sum(row.disturbed() for row in rows), sum(len(row.runs) for row in rows)
    if disturbed:
        lines.append(f"WARNING: {disturbed} of {runs} timed runs were disturbed by other processes "
                     f"(column 'disturbed'): those timings are less trustworthy")
    return lines


def render(machine, results):
    """The whole plain-text report."""
    facts = [f"steppar benchmark, {machine['date']}, took {machine['duration_seconds']:.0f} s",
             f"work folder: {machine['workdir']} (filesystem: {machine['workdir_filesystem']})",
             f"cores: {machine['cores']}, jobs (N): {machine['jobs']}, repetitions: {machine['repeat']}, "
             f"kernel {machine['kernel']}, {machine['cpu']}",
             "ratio = median / the workload's steppar parallel median (skewed: balance: count)",
             f"disturbed = runs during which other processes took more than {BUSY_SHARE:.0%} of the CPUs "
             f"(each run first waits up to {machine['settle_seconds']:.0f} s for a quiet machine)"]
    sections = [facts, load_lines(results), timing_table(results), figure_table(results), ["targets:"] + target_lines(results),
                ["timings are measurements of this machine, never test assertions"]]
    return "\n\n".join("\n".join(lines) for lines in sections if lines) + "\n"


def to_json(machine, results):
    """Everything, with every individual run time."""
    workloads = [{**result, "rows": [row.to_json() for row in result["rows"]]} for result in results]
    return {"machine": machine, "workloads": workloads}


GNUPLOT = """\
set terminal {terminal} size 800,500
set output '{png}'
set title 'steppar parallel against steppar sequential, cpu-bound ({partitions} partitions)'
set xlabel 'slices (-j = min(slices, cores))'
set ylabel 'speedup over sequential'
set logscale x 2
set xrange [0.8:{xmax}]
set xtics ({xtics})
set yrange [0:{ymax}]
set key bottom right
set grid
plot '{data}' using 1:3:4:5 with yerrorlines lw 2 title 'steppar parallel (median; min..max)', \\
     '{data}' using 1:6 with linespoints dashtype 2 title 'ideal: min(slices, cores)'
"""


def write_plot(out_dir, result):
    """speedup.dat, speedup.gp and (with gnuplot) speedup.png from the cpu-bound speedup points.
    Returns the PNG's path, or None when gnuplot is missing."""
    points = result["speedup"]
    data = out_dir / "speedup.dat"
    data.write_text("# slices jobs speedup_median speedup_min speedup_max ideal\n" + "".join(
        f"{p['slices']} {p['jobs']} {p['median']:.4f} {p['min']:.4f} {p['max']:.4f} {p['ideal']:.1f}\n" for p in points))
    if not shutil.which("gnuplot"):
        return None
    terminals = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True).stderr
    script = out_dir / "speedup.gp"
    script.write_text(GNUPLOT.format(
        terminal="pngcairo" if "pngcairo" in terminals else "png", png=out_dir / "speedup.png", data=data,
        partitions=result["params"]["count"], xtics=", ".join(str(p["slices"]) for p in points),
        xmax=max(p["slices"] for p in points) * 1.25, ymax=max(p["ideal"] for p in points) + 0.5))
    subprocess.run(["gnuplot", str(script)], check=True)
    return out_dir / "speedup.png"


def write(out_dir, machine, results):
    """Writes report.txt, results.json and the plot into out_dir; returns the report text."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = render(machine, results)
    (out_dir / "report.txt").write_text(text)
    (out_dir / "results.json").write_text(json.dumps(to_json(machine, results), indent=1) + "\n")
    for result in results:
        if "speedup" in result:
            write_plot(out_dir, result)
    return text
