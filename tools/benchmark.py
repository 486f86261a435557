"""Time every notebook and lab the way the tests run them, and write BENCHMARK.md.

``python -m tools.benchmark`` (``make benchmark``) executes each notebook one at a time
(so runs do not compete for the two cores) and records its wall time (median over
``--repeat`` runs) and the peak memory of its kernel with everything the kernel started.
It also measures the kit's fixed cost per notebook (a fresh kernel plus the setup cell)
against a fresh kernel that only runs ``import mlflow, pandas, sklearn``. Then it runs
the class server load test (:mod:`tools.classroom_load`, 30 students) unless
``--skip-classroom`` is given, and grades a class's worth of lab submissions with
``make grade`` (:mod:`tools.grade`) unless ``--skip-grading`` is given.
``--only-grading`` measures the grading alone and rewrites only its section.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil

from tools import classroom_load, grade, labs, runner
from tools.notebook_checks import ROOT, lab_notebooks, lesson_notebooks
from utils.notebook import FIGURES_ENV

OUTPUT = ROOT / "BENCHMARK.md"
BARE = "import mlflow, pandas, sklearn"
KIT = 'from utils import setup_notebook\n\nkit = setup_notebook("benchmark_overhead")'
CLASS_SIZE = 30  # students in the class server load test
GRADED_LAB = "lab03"  # the lab whose submissions the grading benchmark grades
GRADING_HEADING = "## Grading a class's submissions"


@dataclass
class Row:
    """One benchmarked notebook."""

    name: str
    median_s: float
    runs_s: list[float]
    peak_mb: float
    ok: bool
    figures: list[dict] = field(default_factory=list)


def tiny_notebook(folder: Path, name: str, code: str) -> Path:
    """Write a one-cell notebook for the overhead measurement."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {
        "name": runner.KERNEL_NAME,
        "display_name": "kit",
        "language": "python",
    }
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def measure(path: Path, repeat: int, template: Path, label: str) -> Row:
    """Run ``path`` ``repeat`` times and summarise."""
    times, peaks, ok, figures = [], [], True, []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
            figures_file = Path(tmp) / "figures.jsonl"
            result = runner.run_notebook(
                path, Path(tmp), template, env={FIGURES_ENV: str(figures_file)}
            )
            if figures_file.exists():
                figures = [json.loads(line) for line in figures_file.read_text().splitlines()]
        ok = ok and not (result.error or result.deprecations or result.leaked)
        times.append(result.seconds)
        peaks.append(result.peak_rss_mb)
        status = "ok" if ok else "FAILED"
        print(
            f"  {label:<48} {result.seconds:6.1f} s {result.peak_rss_mb:7.0f} MiB  {status}",
            flush=True,
        )
    return Row(label, statistics.median(times), times, max(peaks), ok, figures)


def render(rows: list[Row], overhead: tuple[Row, Row], repeat: int) -> str:
    """Return the markdown of BENCHMARK.md."""
    bare, kit = overhead
    cores = psutil.cpu_count(logical=True)
    memory = psutil.virtual_memory().total / 2**30
    lines = [
        "# Benchmark",
        "",
        "Written by `make benchmark` (`python -m tools.benchmark`); do not edit by hand.",
        "Each notebook runs alone in a fresh kernel with its own MLflow store, exactly as",
        "in the tests. Time is wall time from kernel start to shutdown (median of "
        f"{repeat} run{'s' if repeat > 1 else ''}); memory is the peak resident memory of",
        "the kernel and every process it started (servers included).",
        "",
        f"Machine: {cores} cores, {memory:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}. Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "## Fixed cost per notebook",
        "",
        "| fresh kernel that runs | median time (s) | peak memory (MiB) |",
        "|---|---:|---:|",
        f"| `{BARE}` | {bare.median_s:.1f} | {bare.peak_mb:.0f} |",
        f"| the kit's setup cell (`setup_notebook`) | {kit.median_s:.1f} | {kit.peak_mb:.0f} |",
        "",
        f"Ratio: {kit.median_s / bare.median_s:.2f}x (target: within 2x).",
        "",
        "## Notebooks and labs",
        "",
        "| notebook | median time (s) | runs (s) | peak memory (MiB) | status |",
        "|---|---:|---|---:|---|",
    ]
    for row in rows:
        runs = ", ".join(f"{t:.1f}" for t in row.runs_s)
        status = "ok" if row.ok else "failed"
        lines.append(f"| {row.name} | {row.median_s:.1f} | {runs} | {row.peak_mb:.0f} | {status} |")
    total = sum(row.median_s for row in rows)
    lines += [
        "",
        f"Total of the medians: {total:.0f} s ({total / 60:.1f} min) for "
        f"{len(rows)} notebooks, run one at a time.",
        "",
    ]
    figures = [(row.name, figure) for row in rows for figure in row.figures]
    if figures:
        lines += ["## Figures measured by the notebooks", "",
                  "From the last run of each notebook.", "",
                  "| notebook | figure | value |", "|---|---|---:|"]  # fmt: skip
        for name, figure in figures:
            lines.append(f"| {name} | {figure['name']} | {figure['value']:.1f} {figure['unit']} |")
        lines.append("")
    return "\n".join(lines)


def measure_grading(count: int = CLASS_SIZE, lab: str = GRADED_LAB) -> tuple[str, bool]:
    """Grade ``count`` submissions of ``lab`` (half solutions, half student versions).

    Returns:
        The markdown section, and whether every grade came out as expected.
    """
    solution = grade.solution_of(lab)
    with tempfile.TemporaryDirectory(prefix="kit-bench-grade-") as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for number in range(count):
            source = solution if number % 2 == 0 else labs.student_path(solution)
            (folder / f"student{number:02d}.ipynb").write_bytes(source.read_bytes())
        start = time.perf_counter()
        grades = grade.grade_folder(folder, lab, jobs=psutil.cpu_count(logical=True) or 2)
        seconds = time.perf_counter() - start
    full = sum(1 for g in grades if g.total == g.possible)
    nothing = sum(1 for g in grades if g.total == 0)
    ok = full == (count + 1) // 2 and nothing == count // 2
    print(f"  {count} submissions of {lab} graded in {seconds:.0f} s ({'ok' if ok else 'FAILED'})")
    per = seconds / count
    text = "\n".join(
        [
            GRADING_HEADING,
            "",
            f"`make grade SUBMISSIONS=DIR LAB={lab[3:]}` on {count} submissions of {lab} "
            f"(half solutions, half untouched student notebooks), graded "
            f"{psutil.cpu_count(logical=True)} at a time, each in a fresh kernel with its own "
            f"store. Date: {time.strftime('%Y-%m-%d')}.",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| submissions | {count} |",
            f"| wall time | {seconds:.0f} s ({seconds / 60:.1f} min) |",
            f"| per submission | {per:.1f} s |",
            f"| full marks / zero, as expected | {full} / {nothing} ({'ok' if ok else 'FAILED'}) |",
            "",
        ]
    )
    return text, ok


def replace_section(text: str, heading: str, section: str) -> str:
    """Return ``text`` with the ``##`` section ``heading`` replaced by ``section`` (or added)."""
    start = text.find(heading)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(heading))
    return text[:start] + section + (text[end + 1 :] if end >= 0 else "")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write BENCHMARK.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per notebook (median)")
    parser.add_argument("--only", default="", help="only notebooks whose path contains this")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--skip-classroom", action="store_true", help="skip the class server load test"
    )
    parser.add_argument("--skip-grading", action="store_true", help="skip the grading run")
    parser.add_argument(
        "--only-grading", action="store_true", help="measure grading alone; keep the rest"
    )
    args = parser.parse_args(argv)
    if args.only_grading:
        print(f"grading {CLASS_SIZE} submissions:", flush=True)
        section, ok = measure_grading()
        old = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        args.output.write_text(replace_section(old, GRADING_HEADING, section), encoding="utf-8")
        print(f"wrote {args.output}")
        return 0 if ok else 1
    paths = [p for p in lesson_notebooks() + lab_notebooks() if args.only in str(p)]
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        folder = Path(tmp)
        template = runner.migrated_template(folder / "template")
        print("fixed cost per notebook:")
        bare = measure(tiny_notebook(folder, "bare", BARE), args.repeat, template, "bare")
        kit = measure(tiny_notebook(folder, "kit", KIT), args.repeat, template, "kit setup")
        print("notebooks:")
        rows = [measure(p, args.repeat, template, p.relative_to(ROOT).as_posix()) for p in paths]
    text, load_ok = render(rows, (bare, kit), args.repeat), True
    if not args.skip_classroom:
        print(f"class server load test ({CLASS_SIZE} students):", flush=True)
        try:
            load = classroom_load.run_load_test(students=CLASS_SIZE)
            print(load.summary())
            text, load_ok = text + "\n" + load.markdown(), load.ok
        except Exception as error:  # the notebooks' figures are written all the same
            print(f"  FAILED: {error}")
            text, load_ok = text + f"\n## Class server load test\n\nFailed: {error}\n", False
    grading_ok = True
    if not args.skip_grading:
        print(f"grading {CLASS_SIZE} submissions:", flush=True)
        section, grading_ok = measure_grading()
        text = text.rstrip("\n") + "\n\n" + section
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0 if all(row.ok for row in rows) and load_ok and grading_ok else 1


if __name__ == "__main__":
    sys.exit(main())
