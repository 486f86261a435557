"""Execute one notebook the way the tests and the benchmark do.

Each run gets a kernel of its own, its own MLflow store in a temporary folder, strict
deprecation checks, and a tag in its environment. Every process the notebook starts
inherits the tag, so after the run any process still carrying it has leaked. The kernel is
forked from a warm-kernel server that has already imported the course's libraries
(:mod:`tools.warm_kernels`; a fork shows the server's environment, which carries a tag of
its own), unless ``KIT_KERNELS=fresh`` or ``warm=False`` asks for a newly started one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tools import warm_kernels
from utils.environ import patched_environ
from utils.notebook import DEPRECATION_MARKER, QUIET_MLFLOW_ENV, STRICT_ENV, THREAD_VARS

ROOT = Path(__file__).resolve().parent.parent
KERNEL_NAME = "mlflow-kit"
TAG_VAR = "KIT_RUN_TAG"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Variables that would make a run track somewhere other than its own store.
ISOLATE_VARS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
)


class NotebookFailure(AssertionError):
    """A notebook failed: a cell raised, a deprecation was shown, or a process leaked."""


@dataclass
class RunResult:
    """What one execution of a notebook produced.

    Attributes:
        path: The notebook that ran.
        executed: The executed copy, with outputs.
        seconds: Wall time from kernel start to shutdown.
        peak_rss_mb: Peak resident memory of the kernel and its children, in MiB.
        error: The failure, or ``None`` when the notebook ran cleanly.
        store: The MLflow store the run used (kept for inspection).
        tag: The value of ``KIT_RUN_TAG`` that marked the run's processes.
        deprecations: MLflow deprecation warnings the notebook showed, by cell.
        leaked: Processes that outlived the notebook (they have been killed).
        tags: Every ``KIT_RUN_TAG`` value that marks the run's processes: ``tag``, and
            with a warm kernel the warm-kernel server's own.
        skip: Processes carrying one of ``tags`` that are not the run's (the server).
    """

    path: Path
    executed: Path
    seconds: float
    peak_rss_mb: float
    store: Path
    tag: str
    error: str | None = None
    deprecations: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    skip: list[int] = field(default_factory=list)


def carries_tag(proc: psutil.Process, tags: Collection[str], skip: Collection[int] = ()) -> bool:
    """Tell whether ``proc`` is live, not this process nor in ``skip``, and has one of
    ``tags`` in its environment."""
    try:
        return (
            proc.pid != os.getpid()
            and proc.pid not in skip
            and proc.environ().get(TAG_VAR) in tags
            and proc.status() != psutil.STATUS_ZOMBIE
        )
    except (psutil.Error, OSError):
        return False


def tagged_processes(tags: Collection[str], skip: Collection[int] = ()) -> list[psutil.Process]:
    """Return the running processes (but ``skip``) whose environment carries one of ``tags``."""
    return [proc for proc in psutil.process_iter(["pid"]) if carries_tag(proc, tags, skip)]


def wait_until_gone(
    tags: Collection[str], seconds: float, skip: Collection[int] = ()
) -> list[psutil.Process]:
    """Wait up to ``seconds`` for the tagged processes to end; return those still running."""
    deadline = time.monotonic() + seconds
    left = tagged_processes(tags, skip)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = tagged_processes(tags, skip)
    return left


def reap_leaks(tags: Collection[str], grace: float = 5.0, skip: Collection[int] = ()) -> list[str]:
    """Wait ``grace`` seconds for tagged processes to end, kill what is left, list them."""
    described = []
    for proc in wait_until_gone(tags, grace, skip):
        try:
            described.append(f"pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()
        except psutil.Error:
            continue
    # A kill takes effect asynchronously: nothing tagged runs any more on return.
    wait_until_gone(tags, 10, skip)
    return described


#: Seconds within which a new process may still be a copy of its parent that has not yet
#: replaced itself (exec) with its own program: samplers look at it again until it is older.
EXEC_GRACE_S = 2.0


class _MemorySampler(threading.Thread):
    """Samples the summed RSS of the tagged processes until stopped."""

    def __init__(
        self, tags: Collection[str], skip: Collection[int] = (), interval: float = 0.25
    ) -> None:
        super().__init__(daemon=True)
        self.tags, self.skip, self.interval, self.peak = tags, skip, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        # Reading every process's environment four times a second cost the test worker
        # more CPU than some notebooks, so a verdict is kept per process. Not for a young
        # process without the tag: it may not have replaced itself (exec) with the program
        # that carries it yet.
        verdicts: dict[tuple[int, float], bool] = {}
        while not self._halt.is_set():
            total = 0
            for proc in psutil.process_iter(["create_time"]):
                key = (proc.pid, proc.info["create_time"])
                tagged = verdicts.get(key)
                if tagged is None:
                    tagged = carries_tag(proc, self.tags, self.skip)
                    if tagged or time.time() - proc.info["create_time"] > EXEC_GRACE_S:
                        verdicts[key] = tagged
                if tagged:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        continue
            self.peak = max(self.peak, total)
            self._halt.wait(self.interval)

    def stop(self) -> float:
        self._halt.set()
        self.join()
        return self.peak / 2**20


def warm_server_environment() -> dict[str, str]:
    """The environment the warm-kernel server starts (and imports its libraries) with.

    This process's, without what is set per run, with the settings the kit gives MLflow
    before importing it and one thread per math library (as ``setup_notebook`` sets).
    """
    env = {k: v for k, v in os.environ.items() if k not in (*ISOLATE_VARS, TAG_VAR, STRICT_ENV)}
    env.update(QUIET_MLFLOW_ENV)
    for variable in THREAD_VARS:
        env.setdefault(variable, "1")
    return env


def mlflow_warnings(warnings: list[str]) -> list[str]:
    """Return the deprecation and future warnings among ``warnings`` that MLflow raised."""
    return [
        w
        for w in warnings
        if w.startswith(("DeprecationWarning", "FutureWarning")) and "mlflow" in w.lower()
    ]


def prepare_store(store: Path, template_db: Path | None = None) -> None:
    """Create an empty MLflow store, copying an already migrated database if given."""
    store.mkdir(parents=True, exist_ok=True)
    if template_db is not None and template_db.exists():
        shutil.copy(template_db, store / "mlflow.db")


def migrated_template(folder: Path) -> Path:
    """Create an empty, fully migrated SQLite tracking database and return its path.

    Copying it saves every notebook run the 1.5-2 s of schema migrations. It holds no
    experiment: MLflow creates the Default experiment when a store opens without one, so
    each copy gets its own when first opened, as a student's new store does, rather than
    one made here, with this folder in its artifact location and this moment as its date.
    """
    db = folder / "template.db"
    if not db.exists():
        import mlflow

        folder.mkdir(parents=True, exist_ok=True)
        building = folder / "template.db.partial"
        building.unlink(missing_ok=True)
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{building}").search_experiments()
        with contextlib.closing(sqlite3.connect(building)) as connection, connection:
            connection.execute("DELETE FROM experiments")
        building.replace(db)
    return db


def output_text(executed: dict) -> str:
    """Return every stream and plain-text output of an executed notebook, joined."""
    parts = []
    for cell in executed.get("cells", []):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


def find_deprecations(executed: dict) -> list[str]:
    """Return ``"cell N: message"`` for every MLflow deprecation marker in the outputs."""
    found = []
    for index, cell in enumerate(executed.get("cells", [])):
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            for line in text.splitlines():
                if DEPRECATION_MARKER in line:
                    found.append(f"cell {index}: {line.split(':', 1)[1].strip()}")
    return found


def label(path: Path) -> str:
    """Return a notebook's path relative to the kit when it lies inside it."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def describe_cell_error(error: Exception, path: Path) -> str:
    """Turn papermill's execution error into one readable paragraph."""
    cell = getattr(error, "cell_index", None)
    source = getattr(error, "source", "") or ""
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", str(error))
    trace = ANSI.sub("", "\n".join(getattr(error, "traceback", []) or []))
    first = source.strip().splitlines()[0] if source.strip() else ""
    where = f"cell {cell} (starts `{first}`)" if cell is not None else "the notebook"
    return f"{label(path)}: {where} raised {ename}: {evalue}\n{trace[-3000:]}"


def run_notebook(
    path: Path,
    workdir: Path,
    template_db: Path | None = None,
    env: Mapping[str, str | None] | None = None,
    cell_timeout: int = 300,
    cwd: Path | None = None,
    allow_errors: bool = False,
    leak_grace: float = 5.0,
    warm: bool | None = None,
) -> RunResult:
    """Execute ``path`` in a kernel and store of its own; never raises for cell errors.

    Args:
        path: The notebook.
        workdir: An empty folder for this run: the store and the executed copy go there.
        template_db: A migrated empty tracking database to start from (faster).
        env: More environment variables for the kernel (``None`` removes one).
        cell_timeout: Seconds one cell may take.
        cwd: The folder the kernel starts in; by default the notebook's own.
        allow_errors: Run every cell even after one raised (the first error is still
            reported); the grader uses it so one broken task does not hide the others.
        leak_grace: Seconds the notebook's processes get to end after the kernel has shut
            down (a server may still be stopping) before they count as leaked and are killed.
        warm: Fork the kernel from this process's warm-kernel server
            (:mod:`tools.warm_kernels`) instead of starting a new one; by default warm
            unless ``KIT_KERNELS=fresh``.

    Returns:
        A :class:`RunResult`; its ``error``, ``deprecations`` and ``leaked`` say what
        went wrong, if anything.
    """
    import papermill

    tag = uuid.uuid4().hex
    tags, skip, engine, deprecations = [tag], [], {}, []
    if warm is None:
        warm = os.environ.get(warm_kernels.MODE_ENV) != "fresh"
    if warm:
        server = warm_kernels.use(warm_server_environment())
        tags.append(server.tag)
        skip.append(server.pid)
        engine["kernel_manager_class"] = warm_kernels.WarmKernelManager
        deprecations = [
            f"preloaded by the warm kernels: {w}" for w in mlflow_warnings(server.warnings)
        ]
    store = workdir / "store"
    prepare_store(store, template_db)
    executed = workdir / f"{path.stem}.executed.ipynb"
    values: dict[str, str | None] = {var: None for var in ISOLATE_VARS}
    values.update(
        {
            "KIT_STORE_DIR": str(store),
            STRICT_ENV: "1",
            TAG_VAR: tag,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        }
    )
    values.update(env or {})
    error = None
    sampler = _MemorySampler(tags, skip)
    start = time.perf_counter()
    with patched_environ(values):
        sampler.start()
        try:
            papermill.execute_notebook(
                str(path),
                str(executed),
                kernel_name=KERNEL_NAME,
                cwd=str(cwd or path.parent),
                progress_bar=False,
                log_output=False,
                execution_timeout=cell_timeout,
                allow_errors=allow_errors,
                # Papermill would otherwise rewrite (copy, validate, serialize) the whole
                # executed notebook after every cell: seconds of CPU per notebook. It is
                # written once, at the end or when a cell fails.
                request_save_on_cell_execute=False,
                **engine,
            )
        except Exception as exc:  # noqa: BLE001 - any failure becomes the test's message
            error = describe_cell_error(exc, path)
        finally:
            seconds = time.perf_counter() - start
            peak = sampler.stop()
            leaked = reap_leaks(tags, leak_grace, skip)
    if executed.exists():
        deprecations += find_deprecations(json.loads(executed.read_text()))
    return RunResult(
        path, executed, seconds, peak, store, tag, error, deprecations, leaked, tags, skip
    )


def check_result(result: RunResult) -> None:
    """Raise :class:`NotebookFailure` describing everything wrong with a run."""
    name = label(result.path)
    problems = []
    if result.error:
        problems.append(result.error)
    if result.deprecations:
        problems.append(
            f"{name}: MLflow deprecation warnings:\n  " + "\n  ".join(result.deprecations)
        )
    if result.leaked:
        problems.append(
            f"{name}: processes outlived the notebook (now killed):\n  "
            + "\n  ".join(result.leaked)
        )
    if problems:
        raise NotebookFailure("\n\n".join(problems) + f"\n(executed copy: {result.executed})")
