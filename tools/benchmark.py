"""Time every notebook and lab as a student runs it, and write BENCHMARK.md.

``python -m tools.benchmark`` (``make benchmark``) executes each notebook one at a time
(so runs do not compete for the two cores), with the test runner, in a fresh kernel as
JupyterLab starts one (the tests fork warm kernels instead, :mod:`tools.warm_kernels`, so
every notebook also runs both ways), and records its wall time (median over ``--repeat``
runs) and the peak memory of its kernel with everything the kernel started. It also
measures the kit's fixed cost per notebook (a fresh kernel plus the setup cell) against a
fresh kernel that only runs ``import mlflow, pandas, sklearn``, and the same setup cell in
a warm kernel. Then it runs
the class server load test (:mod:`tools.classroom_load`, 30 students) unless
``--skip-classroom`` is given, and grades a class's worth of lab submissions with
``make grade`` (:mod:`tools.grade`) unless ``--skip-grading`` is given.
``--only-grading`` measures the grading alone and rewrites only its section.

The section "Where the suite's time goes" runs the whole suite three times
(``--suite-runs``; ``pytest -n auto --dist worksteal --junitxml``), takes the median run
and sums its time per test file, then measures what every notebook and many tests pay
again and again: a fresh kernel, the imports, the kit's setup cell, a warm kernel, an
MLflow tracking server, a new SQLite store's migrations, PostgreSQL and one ``log_model``.
It compares the suite with its floor: every notebook execution paying only the fixed cost
of the tests' (warm) kernels, spread over the cores. While the suite runs, it samples every
process's CPU time (:class:`CpuSampler`) and reports, for the median run, the CPU spent by
kind of process (kernels, servers, test workers, PostgreSQL, Chromium, other programs)
and the CPU floor: the machine's CPU time during the run divided by its cores, below
which no order of the tests can bring the suite. ``--suite-junit PATH`` reads an
existing JUnit file instead of running the suite; ``--only-profile`` measures that section
alone and rewrites only it; ``--skip-profile`` leaves it out. The per-test times also go to
``tests/durations.json``, which the tests' ``conftest.py`` reads to start the longest tests
first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
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
PROFILE_HEADING = "## Where the suite's time goes"
DURATIONS = ROOT / "tests" / "durations.json"
EMPTY = "pass"
SUITE_TARGET_S = 180  # what a run of the whole suite should take at most (test time)
# The tests that execute one whole notebook each (lessons, lab solutions, lab student versions).
NOTEBOOK_TESTS = (
    "tests/test_notebooks.py::test_notebook_runs[",
    "tests/test_labs.py::test_lab_solution_passes_every_check[",
    "tests/test_labs.py::test_lab_student_version_runs_with_every_task_unfinished[",
)
# Each snippet runs in a fresh interpreter, in a store holding a migrated ``mlflow.db``, and
# prints the seconds of the part it times.
COMPONENTS = {
    "tracking server": (
        "starting and stopping an MLflow tracking server (`utils.servers.tracking_server`)",
        "import os, time\n"
        "from utils import servers\n"
        "store = os.environ['KIT_STORE_DIR']\n"
        "start = time.perf_counter()\n"
        "with servers.tracking_server(backend_store_uri=f'sqlite:///{store}/mlflow.db'):\n"
        "    pass\n"
        "print(time.perf_counter() - start)\n",
    ),
    "fresh store": (
        "creating and migrating a new SQLite tracking store (MLflow already imported)",
        "import os, time\n"
        "import mlflow\n"
        "store = os.environ['KIT_STORE_DIR']\n"
        "start = time.perf_counter()\n"
        "mlflow.MlflowClient(tracking_uri=f'sqlite:///{store}/new.db').search_experiments()\n"
        "print(time.perf_counter() - start)\n",
    ),
    "postgres": (
        "starting and stopping PostgreSQL (`utils.servers.postgres_server`)",
        "import time\n"
        "from utils import servers\n"
        "start = time.perf_counter()\n"
        "with servers.postgres_server():\n"
        "    pass\n"
        "print(time.perf_counter() - start)\n",
    ),
    "log_model": (
        "one `mlflow.sklearn.log_model` with explicit `pip_requirements`",
        "import os, time\n"
        "import mlflow, mlflow.sklearn\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])\n"
        "store = os.environ['KIT_STORE_DIR']\n"
        "mlflow.set_tracking_uri(f'sqlite:///{store}/mlflow.db')\n"
        "with mlflow.start_run():\n"
        "    start = time.perf_counter()\n"
        "    mlflow.sklearn.log_model(model, name='model', pip_requirements=['scikit-learn'])\n"
        "    print(time.perf_counter() - start)\n",
    ),
}


# What each process of a suite run is, by a part of its command line; the first match wins.
PROCESS_KINDS = (
    ("notebook kernels", ("tools.warm_kernels", "ipykernel_launcher")),
    ("MLflow tracking and model servers", ("run_in_place", "mlflow server", "mlflow models serve",
                                           "uvicorn", "gunicorn")),
    ("pytest and its workers", ("pytest", "sys.stdin.readline()")),
    ("PostgreSQL", ("postgres", "initdb", "pg_dump")),
    ("Chromium and its driver (UI, slides, screenshots)", ("chrom", "playwright", "--type=")),
)  # fmt: skip
OTHER_KIND = "other programs (Project steps, `mlflow run`, grading workers, JupyterLab, moto)"
SYSTEM_KIND = "the operating system's own threads"


def process_kind(cmdline: str) -> str:
    """Return which of :data:`PROCESS_KINDS` a process with this command line is."""
    for kind, needles in PROCESS_KINDS:
        if any(needle in cmdline for needle in needles):
            return kind
    return OTHER_KIND


@dataclass
class CpuUse:
    """Where the CPU time of one suite run went.

    Attributes:
        busy_s: CPU seconds the whole machine spent (all cores, from ``/proc/stat``).
        wall_s: Seconds the run took.
        cores: Logical cores.
        per_kind: CPU seconds of the processes seen while sampling, by :func:`process_kind`.
    """

    busy_s: float
    wall_s: float
    cores: int
    per_kind: dict[str, float]

    @property
    def unattributed_s(self) -> float:
        """CPU that no sampled process accounts for: processes shorter than a sample,
        interrupts, the sampling itself."""
        return max(self.busy_s - sum(self.per_kind.values()), 0.0)


@dataclass
class _Seen:
    """A process as the sampler knows it."""

    kind: str
    first_cpu: float  # CPU seconds it had spent when first seen (0 if it started since)
    last_cpu: float
    settled: bool = False  # its kind is final


class CpuSampler(threading.Thread):
    """Adds up the CPU time of every process that runs while it samples, by kind.

    A process seen at the first sample counts only what it spends afterwards; one that
    starts and ends between two samples is missed (it shows as unattributed).
    """

    def __init__(
        self, interval: float = 0.25, kind_of: Callable[[str], str] = process_kind
    ) -> None:
        super().__init__(daemon=True)
        self.interval, self.kind_of = interval, kind_of
        self._halt = threading.Event()
        self._seen: dict[tuple[int, float], _Seen] = {}  # by pid and start time
        self._first = True

    def _sample(self) -> None:
        for proc in psutil.process_iter(["create_time"]):
            if proc.pid == os.getpid():
                continue
            try:
                times = proc.cpu_times()
                cpu = times.user + times.system
                started = proc.info["create_time"]
                # Until its command line is read, a process has the kind of an empty one.
                seen = self._seen.setdefault(
                    (proc.pid, started), _Seen(self.kind_of(""), cpu if self._first else 0.0, cpu)
                )
                seen.last_cpu = cpu
                if seen.settled:
                    continue
                cmdline = proc.cmdline()
                if not cmdline and proc.status() != psutil.STATUS_ZOMBIE:
                    seen.kind, seen.settled = SYSTEM_KIND, True  # a kernel thread
                else:
                    seen.kind = self.kind_of(" ".join(cmdline))
                    seen.settled = time.time() - started > runner.EXEC_GRACE_S
            except (psutil.Error, OSError):
                continue
        self._first = False

    def run(self) -> None:
        while not self._halt.is_set():
            self._sample()
            self._halt.wait(self.interval)

    def __enter__(self) -> CpuSampler:
        self._busy = _busy_seconds()
        self._start = time.perf_counter()
        self._sample()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self.join()
        self.use = CpuUse(
            _busy_seconds() - self._busy,
            time.perf_counter() - self._start,
            psutil.cpu_count(logical=True) or 1,
            self.per_kind(),
        )

    def per_kind(self) -> dict[str, float]:
        """CPU seconds so far, by kind."""
        totals: dict[str, float] = {}
        for seen in self._seen.values():
            spent = max(seen.last_cpu - seen.first_cpu, 0.0)
            totals[seen.kind] = totals.get(seen.kind, 0.0) + spent
        return totals


def _busy_seconds() -> float:
    """CPU seconds the machine has spent running anything, since it started."""
    times = psutil.cpu_times()
    parts = ("user", "nice", "system", "irq", "softirq")  # guest time is inside user
    return sum(getattr(times, part, 0.0) for part in parts)


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


def measure(path: Path, repeat: int, template: Path, label: str, warm: bool = False) -> Row:
    """Run ``path`` ``repeat`` times, in fresh kernels unless ``warm``, and summarise."""
    times, peaks, ok, figures = [], [], True, []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
            figures_file = Path(tmp) / "figures.jsonl"
            result = runner.run_notebook(
                path, Path(tmp), template, env={FIGURES_ENV: str(figures_file)}, warm=warm
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


def render(rows: list[Row], overhead: tuple[Row, Row, Row], repeat: int) -> str:
    """Return the markdown of BENCHMARK.md."""
    bare, kit, warm = overhead
    cores = psutil.cpu_count(logical=True)
    memory = psutil.virtual_memory().total / 2**30
    lines = [
        "# Benchmark",
        "",
        "Written by `make benchmark` (`python -m tools.benchmark`); do not edit by hand.",
        "Each notebook runs alone with its own MLflow store, as in the tests, but in a fresh",
        "kernel, as JupyterLab starts one for a student (the tests fork warm kernels, whose",
        "libraries are already imported: `tools/warm_kernels.py`). Time is wall time from",
        f"kernel start to shutdown (median of {repeat} run{'s' if repeat > 1 else ''}); memory "
        "is the peak resident memory of",
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
        f"The same setup cell in a warm kernel, as the tests run it: {warm.median_s:.1f} s, "
        f"{warm.peak_mb:.0f} MiB.",
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
            f"{psutil.cpu_count(logical=True)} at a time, each in a kernel of its own (forked "
            f"warm) with its own store. Date: {time.strftime('%Y-%m-%d')}.",
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


@dataclass
class SuiteProfile:
    """What one run of the suite cost, from its JUnit report.

    Attributes:
        seconds: The suite's wall time (the JUnit ``time``, or measured around the run).
        per_file: Summed seconds of each test file's tests.
        tests_per_file: How many tests each file has.
        per_test: Seconds of each test, by node id.
        notebook_runs: How many tests execute one whole notebook.
        notebook_seconds: Their summed seconds.
        failures: Failed or erroring tests.
    """

    seconds: float
    per_file: dict[str, float]
    tests_per_file: dict[str, int]
    per_test: dict[str, float]
    notebook_runs: int
    notebook_seconds: float
    failures: int = 0

    @property
    def summed(self) -> float:
        return sum(self.per_file.values())


def node_id(classname: str, name: str, root: Path = ROOT) -> str:
    """Turn a JUnit ``classname`` and ``name`` back into a pytest node id.

    ``tests.test_x`` is ``tests/test_x.py``; ``tests.test_x.TestY`` is
    ``tests/test_x.py::TestY`` (the longest dotted prefix that is a file of ``root``, or of
    the ``test_*`` part when no such file exists).
    """
    parts = classname.split(".")
    cut = None
    for end in range(len(parts), 0, -1):
        if (root / Path(*parts[:end])).with_suffix(".py").is_file():
            cut = end
            break
    if cut is None:
        starts = [i for i, part in enumerate(parts) if part.startswith("test_")]
        cut = starts[0] + 1 if starts else len(parts)
    path = "/".join(parts[:cut]) + ".py"
    return "::".join([path, *parts[cut:], name])


def parse_junit(path: Path, root: Path = ROOT) -> SuiteProfile:
    """Read a pytest JUnit report into a :class:`SuiteProfile`."""
    tree = ET.parse(path)
    suites = [tree.getroot()] if tree.getroot().tag == "testsuite" else list(tree.getroot())
    seconds = sum(float(suite.get("time") or 0) for suite in suites)
    per_file: dict[str, float] = {}
    counts: dict[str, int] = {}
    per_test: dict[str, float] = {}
    runs, notebook_seconds, failures = 0, 0.0, 0
    for case in tree.iter("testcase"):
        test = node_id(case.get("classname") or "", case.get("name") or "", root)
        took = float(case.get("time") or 0)
        file = test.split("::", 1)[0]
        per_file[file] = per_file.get(file, 0.0) + took
        counts[file] = counts.get(file, 0) + 1
        per_test[test] = per_test.get(test, 0.0) + took
        if test.startswith(NOTEBOOK_TESTS):
            runs, notebook_seconds = runs + 1, notebook_seconds + took
        if case.find("failure") is not None or case.find("error") is not None:
            failures += 1
    return SuiteProfile(seconds, per_file, counts, per_test, runs, notebook_seconds, failures)


def run_suite(junit: Path, args: Sequence[str] = ()) -> float:
    """Run the whole suite as ``make test`` does, writing ``junit``; return its wall time."""
    command = [sys.executable, "-m", "pytest", "-n", "auto", "--dist", "worksteal", "-q",
               "-p", "no:cacheprovider", f"--junitxml={junit}", *args]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=False)
    return time.perf_counter() - start


def durations_json(profile: SuiteProfile, least: float = 0.05) -> str:
    """Return ``tests/durations.json``: every test that took ``least`` seconds or more."""
    kept = {test: round(t, 2) for test, t in sorted(profile.per_test.items()) if t >= least}
    return json.dumps(kept, indent=1, sort_keys=True) + "\n"


def measure_component(code: str, repeat: int, template: Path | None = None) -> float:
    """Run ``code`` in ``repeat`` fresh interpreters; return the median of what it prints.

    Each run has a store of its own (``KIT_STORE_DIR``), holding a copy of ``template``
    as ``mlflow.db`` when given.
    """
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="kit-bench-part-") as tmp:
            runner.prepare_store(Path(tmp), template)
            env = {**os.environ, "KIT_STORE_DIR": tmp, "MLFLOW_DISABLE_TELEMETRY": "true"}
            for var in runner.ISOLATE_VARS:
                env.pop(var, None)
            done = subprocess.run(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "")
            times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def render_profile(
    profile: SuiteProfile,
    components: Sequence[tuple[str, float | None]],
    fixed_cost: float,
    cores: int,
    source: str,
    cpu: CpuUse | None = None,
) -> str:
    """Return the markdown of the section "Where the suite's time goes".

    Args:
        profile: The suite's run.
        components: (what, median seconds or ``None`` when it could not be measured).
        fixed_cost: Seconds every notebook execution of the tests pays before its first
            own cell (a warm kernel plus the kit's setup cell).
        cores: The cores the suite ran on.
        source: Where the per-file figures come from, for the reader.
        cpu: Where the CPU time of that run went, when it was measured.
    """
    summed = profile.summed or 1.0
    floor = profile.notebook_runs * fixed_cost / max(cores, 1)
    lines = [
        PROFILE_HEADING,
        "",
        f"{source}: {sum(profile.tests_per_file.values())} tests, "
        f"{profile.failures} failed, {profile.seconds:.0f} s "
        f"({profile.seconds / 60:.1f} min) of wall time on {cores} cores, "
        f"{profile.summed:.0f} s of test time summed over the workers. "
        f"Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "| test file | tests | summed time (s) | share |",
        "|---|---:|---:|---:|",
    ]
    for file, seconds in sorted(profile.per_file.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(
            f"| {file} | {profile.tests_per_file[file]} | {seconds:.1f} | {seconds / summed:.1%} |"
        )
    lines += [
        "",
        f"Notebooks: {profile.notebook_runs} tests execute one whole notebook each (lessons, "
        f"lab solutions, lab student versions); together {profile.notebook_seconds:.0f} s, "
        f"{profile.notebook_seconds / summed:.1%} of the test time.",
        "",
        "### Component costs",
        "",
        "Each measured alone on this machine, in a fresh process, median of the runs.",
        "",
        "| component | median time (s) |",
        "|---|---:|",
    ]
    for what, seconds in components:
        shown = "not measured" if seconds is None else f"{seconds:.1f}"
        lines.append(f"| {what} | {shown} |")
    ratio = profile.seconds / floor if floor else float("nan")
    lines += [
        "",
        "### The suite against its floor",
        "",
        f"Floor: {profile.notebook_runs} notebook executions x {fixed_cost:.1f} s fixed cost "
        f"per notebook / {cores} cores = {floor:.0f} s. Measured suite: "
        f"{profile.seconds:.0f} s. Ratio: {ratio:.1f}x.",
        "",
    ]
    if cpu is not None:
        lines += render_cpu(cpu)
    return "\n".join(lines)


def render_cpu(cpu: CpuUse) -> list[str]:
    """Return the lines of the subsection "Where the CPU goes" for one suite run."""
    busy = cpu.busy_s or 1.0
    lines = [
        "### Where the CPU goes",
        "",
        f"During that run the machine spent {cpu.busy_s:.0f} s of CPU time in "
        f"{cpu.wall_s:.0f} s on {cpu.cores} cores: the cores were busy "
        f"{cpu.busy_s / (cpu.wall_s * cpu.cores):.0%} of the time. However the tests are "
        f"ordered, the suite cannot take less than that work spread over every core: "
        f"{cpu.busy_s / cpu.cores:.0f} s (its CPU floor). Under {SUITE_TARGET_S} s of test "
        f"time on {cpu.cores} cores leaves at most {SUITE_TARGET_S * cpu.cores} s of CPU.",
        "",
        "| processes | CPU time (s) | share |",
        "|---|---:|---:|",
    ]
    for kind, seconds in sorted(cpu.per_kind.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {kind} | {seconds:.0f} | {seconds / busy:.0%} |")
    lines += [
        f"| not attributed (processes shorter than a sample, interrupts, the sampling) "
        f"| {cpu.unattributed_s:.0f} | {cpu.unattributed_s / busy:.0%} |",
        "",
    ]
    return lines


def measure_profile(
    args: argparse.Namespace, template: Path, folder: Path, kit: Row | None = None,
    bare: Row | None = None, warm: Row | None = None,
) -> str:  # fmt: skip
    """Profile the suite and its components; return the section's markdown.

    Also writes ``args.durations`` (the per-test times) unless it is empty.
    """
    cores = psutil.cpu_count(logical=True) or 1
    cpu = None
    if args.suite_junit:
        profile = parse_junit(args.suite_junit)
        source = f"From {args.suite_junit.name}"
    else:
        runs = []
        for number in range(1, args.suite_runs + 1):
            print(f"the whole suite, as `make test` runs it ({number}/{args.suite_runs}):")
            junit = folder / f"suite-{number}.xml"
            with CpuSampler() as sampler:
                wall = run_suite(junit)
            run = parse_junit(junit)
            print(
                f"  {run.seconds:.0f} s of test time, {wall:.0f} s in all, "
                f"{sampler.use.busy_s:.0f} s of CPU",
                flush=True,
            )
            runs.append((run, sampler.use))
        runs.sort(key=lambda pair: pair[0].seconds)
        profile, cpu = runs[len(runs) // 2]
        times = ", ".join(f"{run.seconds:.0f}" for run, _ in runs)
        source = (
            f"The median of {len(runs)} runs of `make test` (test time as pytest reports it: "
            f"{times} s; target: under {SUITE_TARGET_S} s)"
        )
    if args.durations and profile.per_test:
        Path(args.durations).write_text(durations_json(profile), encoding="utf-8")
        print(f"wrote {args.durations}")
    print("component costs:", flush=True)
    empty = measure(tiny_notebook(folder, "empty", EMPTY), args.repeat, template, "empty kernel")
    bare = bare or measure(tiny_notebook(folder, "bare", BARE), args.repeat, template, "bare")
    kit = kit or measure(tiny_notebook(folder, "kit", KIT), args.repeat, template, "kit setup")
    warm = warm or measure_warm(folder, args.repeat, template)
    warm_empty = measure(
        tiny_notebook(folder, "empty", EMPTY), args.repeat, template, "empty warm kernel", True
    )
    components: list[tuple[str, float | None]] = [
        ("a fresh kernel (start, one empty cell, shut down)", empty.median_s),
        (f"`{BARE}` (in that kernel, beyond its start)", bare.median_s - empty.median_s),
        ("the kit's setup cell (in that kernel, beyond its start)", kit.median_s - empty.median_s),
        ("a warm kernel, as the tests fork it (start, one empty cell, shut down)",
         warm_empty.median_s),
        ("the kit's setup cell (in a warm kernel, beyond its start)",
         warm.median_s - warm_empty.median_s),
    ]  # fmt: skip
    for name, (what, code) in COMPONENTS.items():
        try:
            seconds: float | None = measure_component(code, args.repeat, template)
            print(f"  {name:<48} {seconds:6.1f} s", flush=True)
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
            print(f"  {name:<48} FAILED: {error}", flush=True)
            seconds = None
        components.append((what, seconds))
    return render_profile(profile, components, warm.median_s, cores, source, cpu)


def measure_warm(folder: Path, repeat: int, template: Path) -> Row:
    """Time the kit's setup cell in a warm kernel; the first, which starts the server, is
    left out."""
    measure(tiny_notebook(folder, "kit", KIT), 1, template, "warm-kernel server start", True)
    return measure(tiny_notebook(folder, "kit", KIT), repeat, template, "kit setup, warm", True)


def replace_section(text: str, heading: str, section: str) -> str:
    """Return ``text`` with the ``##`` section ``heading`` replaced by ``section`` (or added)."""
    start = text.find(heading)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(heading))
    if end < 0:
        return text[:start] + section
    return text[:start] + section.rstrip("\n") + "\n\n" + text[end + 1 :]


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
    parser.add_argument(
        "--suite-junit", type=Path, default=None,
        help="read the suite's per-test times from this JUnit file instead of running it",
    )  # fmt: skip
    parser.add_argument(
        "--skip-profile", action="store_true", help='skip "Where the suite\'s time goes"'
    )
    parser.add_argument(
        "--suite-runs", type=int, default=3, help="runs of the whole suite (median)"
    )
    parser.add_argument(
        "--only-profile", action="store_true", help="profile the suite alone; keep the rest"
    )
    parser.add_argument(
        "--durations", default=str(DURATIONS),
        help="where to write the per-test times ('' for nowhere)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.only_profile:
        with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
            folder = Path(tmp)
            template = runner.migrated_template(folder / "template")
            section = measure_profile(args, template, folder)
        old = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        args.output.write_text(replace_section(old, PROFILE_HEADING, section), encoding="utf-8")
        print(f"wrote {args.output}")
        return 0
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
        warm = measure_warm(folder, args.repeat, template)
        print("notebooks:")
        rows = [measure(p, args.repeat, template, p.relative_to(ROOT).as_posix()) for p in paths]
        profile = ""
        if not args.skip_profile:
            profile = measure_profile(args, template, folder, kit, bare, warm)
    text, load_ok = render(rows, (bare, kit, warm), args.repeat), True
    if profile:
        text = text.rstrip("\n") + "\n\n" + profile
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
