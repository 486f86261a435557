"""Grade a folder of submitted lab notebooks: ``make grade SUBMISSIONS=DIR LAB=NN``.

Each submission is re-executed from the top in a new kernel with a tracking store of
its own (the test runner's :func:`tools.runner.run_notebook`, whose kernels are forked from
one that has already imported the course's libraries), with a time limit per cell
and no way out to the network (every proxy variable points nowhere; the machine itself,
``127.0.0.1``, stays reachable for the servers a lab starts). What the notebook printed
when the student ran it counts for nothing:

- after each task's cell the grader runs a cell of its own that re-checks the task's
  answers with a fresh copy of the kit's checks (:func:`utils.grading.verify`), so a
  replaced or patched check, or an answer left by a deleted cell, earns nothing;
- the tasks that leave MLflow state are graded from the run's store by the lab's
  ``grade_state`` (runs, models, signatures, aliases), not from any variable.

The submissions folder holds ``<student>.ipynb`` files, or one folder per student (as
Moodle and Canvas downloads do) with the notebook inside; the student is the file's stem
or the folder's name. A file that is not a notebook, a notebook that crashes or one that
hangs gets its own row with the reason; the batch always goes on. The result is one CSV
row per student (``DIR/grades-labNN.csv`` unless ``--out`` says otherwise).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import secrets
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat

from tools import labs, runner

#: Seconds one cell of a submission may run.
CELL_TIMEOUT = 120
#: Where the network goes during grading: a port on this machine where nobody listens.
NO_NETWORK = "http://127.0.0.1:9"
OFFLINE_ENV: dict[str, str | None] = {
    "HTTP_PROXY": NO_NETWORK,
    "HTTPS_PROXY": NO_NETWORK,
    "http_proxy": NO_NETWORK,
    "https_proxy": NO_NETWORK,
    "ALL_PROXY": NO_NETWORK,
    "NO_PROXY": "127.0.0.1,localhost,::1",
    "no_proxy": "127.0.0.1,localhost,::1",
    "PIP_NO_INDEX": "1",
}
GRADER_TAG = "kit-grader"


class GradingError(ValueError):
    """The lab or the submissions folder cannot be graded (the message says why)."""


@dataclass(frozen=True)
class CheckCall:
    """One check call of a lab's solution: which task, and the answers it passes.

    Attributes:
        cell_id: The id of the solution cell that makes the call.
        check: The check's function name.
        task: The task's label.
        answers: The call's arguments as source, e.g. ``"(configurations,), {}"``.
    """

    cell_id: str
    check: str
    task: str
    answers: str


@dataclass
class Grade:
    """The grade of one submission.

    Attributes:
        student: Who submitted it.
        lab: The lab id.
        path: The submitted file.
        status: ``graded``, or what stopped it: ``not a notebook``, ``crashed``,
            ``timed out``.
        note: What went wrong, in one paragraph (empty when nothing did).
        tasks: ``{task label: result}`` (see ``Feedback.as_record``), in task order.
        seconds: How long grading it took.
    """

    student: str
    lab: str
    path: Path
    status: str = "graded"
    note: str = ""
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """The points earned."""
        return sum(int(result["score"]) for result in self.tasks.values())

    @property
    def possible(self) -> int:
        """The points the lab is worth."""
        return sum(int(result["points"]) for result in self.tasks.values())


def lab_id(lab: str) -> str:
    """Return ``"lab03"`` for ``"3"``, ``"03"`` or ``"lab03"``; refuse an unknown lab."""
    digits = lab.lower().removeprefix("lab")
    known = sorted(solution.parent.name.split("_")[0] for solution in labs.solution_notebooks())
    if digits.isdigit() and f"lab{int(digits):02d}" in known:
        return f"lab{int(digits):02d}"
    raise GradingError(f"there is no lab {lab!r}: choose one of {', '.join(known)} (e.g. LAB=03)")


def solution_of(lab: str) -> Path:
    """Return the solution notebook of a lab."""
    return next(path for path in labs.solution_notebooks() if path.name.startswith(f"{lab}_"))


def task_order(lab: str) -> list[str]:
    """Return a lab's task labels in order, with their points loaded."""
    import importlib

    from utils import checks

    importlib.import_module(f"utils.labs.{lab}")
    return list(checks.TASKS[lab])


def check_calls(lab: str) -> list[CheckCall]:
    """Find every check call in a lab's solution notebook, with the answers it passes."""
    import importlib

    module = importlib.import_module(f"utils.labs.{lab}")
    checks = {
        name: value.task
        for name, value in vars(module).items()
        if callable(value) and getattr(value, "lab", None) == lab
    }
    calls = []
    for cell in nbformat.read(solution_of(lab), as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in checks
            ):
                args = "".join(f"{ast.unparse(arg)}, " for arg in node.args)
                named = ", ".join(f"{k.arg!r}: {ast.unparse(k.value)}" for k in node.keywords)
                answers = f"({args}), {{{named}}}"
                calls.append(CheckCall(cell.id, node.func.id, checks[node.func.id], answers))
    return calls


def grader_cell(lab: str, call: CheckCall, secret: str, number: int) -> nbformat.NotebookNode:
    """Return the cell the grader runs after a task: a fresh re-check of its answers."""
    source = (
        f"# Added by the grader: re-checks {call.task} with the kit's own checks.\n"
        f'__import__("utils.grading", fromlist=["verify"]).verify(\n'
        f"    {lab!r}, {call.check!r}, {secret!r}, lambda: ({call.answers})\n"
        ")"
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.id = f"{GRADER_TAG}-{number}"
    cell.metadata["tags"] = [GRADER_TAG]
    return cell


def _calls_in(cell: nbformat.NotebookNode) -> set[str]:
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return set()
    return {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def graded_notebook(
    submission: nbformat.NotebookNode, lab: str, secret: str
) -> nbformat.NotebookNode:
    """Return the submission with its outputs dropped and a grader cell after each task.

    A task's cell is found by the id it has in the solution (JupyterLab keeps cell ids),
    else as the first cell that calls the task's check. A task whose cell is gone is
    re-checked at the end of the notebook.
    """
    cells = [cell for cell in submission.cells if GRADER_TAG not in cell.metadata.get("tags", [])]
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    after: dict[int, list[CheckCall]] = {}
    for call in check_calls(lab):
        index = next((i for i, cell in enumerate(cells) if cell.get("id") == call.cell_id), None)
        if index is None:
            index = next(
                (i for i, cell in enumerate(cells) if call.check in _calls_in(cell)), len(cells)
            )
        after.setdefault(index, []).append(call)
    graded, number = [], 0
    for index in range(len(cells) + 1):
        if index < len(cells):
            graded.append(cells[index])
        for call in after.get(index, []):
            number += 1
            graded.append(grader_cell(lab, call, secret, number))
    notebook = nbformat.v4.new_notebook(metadata=submission.metadata)
    notebook.cells = graded
    return notebook


def read_submission(path: Path) -> nbformat.NotebookNode:
    """Read a submitted notebook, or raise :class:`GradingError` saying why it is not one."""
    if path.suffix != ".ipynb":
        raise GradingError(f"{path.name} is not a notebook (.ipynb): ask for the .ipynb file")
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError):
        raise GradingError(
            f"{path.name} is not notebook JSON: the file is damaged or was saved by another "
            "program; ask for the .ipynb file that JupyterLab saves"
        ) from None
    except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise GradingError(f"{path.name} is not a valid notebook: {first}") from None
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        raise GradingError(f"{path.name} holds no code cell: it is not a lab notebook")
    return notebook


def _failure(result: runner.RunResult) -> tuple[str, str]:
    """Return (status, note) for a run whose notebook raised or hung."""
    if not result.error:
        return "graded", ""
    text = result.error
    if "CellTimeoutError" in text or "timed out" in text.lower():
        return "timed out", text.split("\n")[0][:500]
    first = text.split("\n")[0]
    return "graded, with errors", first[:500]


def grade_submission(
    student: str,
    path: Path,
    lab: str,
    workdir: Path,
    template_db: Path | None = None,
    cell_timeout: int = CELL_TIMEOUT,
    env: dict[str, str | None] | None = None,
) -> tuple[Grade, runner.RunResult | None]:
    """Grade one submission in ``workdir``; never raises for what the submission holds.

    Returns:
        The :class:`Grade`, and the run (``None`` when the file was not a notebook).
    """
    from utils import grading

    start = time.perf_counter()
    grade = Grade(student, lab, path)
    order = task_order(lab)
    try:
        submission = read_submission(path)
    except GradingError as error:
        grade.status, grade.note = "not a notebook", str(error)
        grade.tasks = {task: _missing(lab, task, "no notebook to grade") for task in order}
        grade.seconds = time.perf_counter() - start
        return grade, None
    secret = secrets.token_hex(16)
    workdir.mkdir(parents=True, exist_ok=True)
    graded = workdir / f"{lab}_graded.ipynb"
    nbformat.write(graded_notebook(submission, lab, secret), graded)
    result = runner.run_notebook(
        graded,
        workdir,
        template_db,
        env={**OFFLINE_ENV, **(env or {})},
        cell_timeout=cell_timeout,
        cwd=solution_of(lab).parent,
        allow_errors=True,
    )
    grade.status, grade.note = _failure(result)
    verdicts = {}
    if result.executed.exists():
        text = runner.output_text(json.loads(result.executed.read_text()))
        verdicts = {v["task"]: v for v in grading.read_verdicts(text, secret)}
    reason = f"the notebook stopped before this task ({grade.note or 'no output'})"
    grade.tasks = {task: verdicts.get(task) or _missing(lab, task, reason) for task in order}
    state = grading.state_tasks(lab)
    if state:
        for feedback in _state_grades(lab, result.store):
            grade.tasks[feedback.task] = {**feedback.as_record(), "graded_from": "MLflow state"}
    if grade.status == "timed out" and all(r["score"] == 0 for r in grade.tasks.values()):
        grade.note = grade.note or f"a cell ran longer than {cell_timeout} s"
    grade.seconds = time.perf_counter() - start
    return grade, result


def _missing(lab: str, task: str, reason: str) -> dict[str, Any]:
    from utils import checks

    feedback = checks.new_feedback(lab, task)
    feedback.problems.append(reason)
    return feedback.as_record()


def lab_experiment(client: Any, lab: str, user: str | None = None) -> Any | None:
    """Return the student's experiment of a lab (student version first), or ``None``."""
    prefix = f"{user}/" if user else ""
    for suffix in ("student", "solution"):
        experiment = client.get_experiment_by_name(f"{prefix}{lab}_{suffix}")
        if experiment is not None:
            return experiment
    return None


def _state_grades(lab: str, store: Path) -> list[Any]:
    """Grade a finished run's store from its MLflow state."""
    import mlflow

    from utils import checks, grading

    uri = f"sqlite:///{store / 'mlflow.db'}"
    experiment = lab_experiment(mlflow.MlflowClient(tracking_uri=uri), lab)
    if experiment is None:
        found = []
        for task in grading.state_tasks(lab):
            feedback = checks.new_feedback(lab, task)
            feedback.problems.append(f"the store holds no experiment '{lab}_student'")
            found.append(feedback)
        return found
    with grading.graded_experiment(uri, experiment.experiment_id):
        return grading.grade_state(lab, experiment.experiment_id)


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """Return ``(student, file)`` for every submission in ``folder``, sorted by student.

    Raises:
        GradingError: The folder does not exist or holds nothing to grade.
    """
    if not folder.is_dir():
        raise GradingError(f"{folder} is not a folder: give the folder of submissions")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "grades-")) or entry.name.endswith(".csv"):
            continue
        if entry.is_dir():
            notebooks = sorted(
                p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
            )
            files = notebooks or sorted(p for p in entry.rglob("*") if p.is_file())
            if files:
                found.append((entry.name, files[0]))
        else:
            found.append((entry.stem, entry))
    if not found:
        raise GradingError(f"{folder} holds no submission: put <student>.ipynb files in it")
    return found


def _grade_one(args: tuple[str, Path, str, Path, Path | None, int]) -> Grade:
    student, path, lab, workdir, template_db, timeout = args
    try:
        return grade_submission(student, path, lab, workdir, template_db, timeout)[0]
    except Exception as error:  # noqa: BLE001 - one submission never stops the batch
        grade = Grade(student, lab, path, status="not graded")
        grade.note = f"the grader failed on this file: {type(error).__name__}: {error}"[:500]
        grade.tasks = {task: _missing(lab, task, grade.note) for task in task_order(lab)}
        return grade


def grade_folder(
    folder: Path, lab: str, jobs: int = 2, cell_timeout: int = CELL_TIMEOUT
) -> list[Grade]:
    """Grade every submission of ``folder``, ``jobs`` at a time, in student order."""
    submissions = find_submissions(folder)
    work = Path(tempfile.mkdtemp(prefix=f"kit-grade-{lab}-"))
    template = runner.migrated_template(work / "template")
    tasks = [
        (student, path, lab, work / f"{number:03d}", template, cell_timeout)
        for number, (student, path) in enumerate(submissions)
    ]
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context("spawn")) as pool:
        return list(pool.map(_grade_one, tasks))


def write_csv(grades: list[Grade], lab: str, path: Path) -> Path:
    """Write one row per student: points per task, total, status and note."""
    order = task_order(lab)
    from utils import checks

    header = [
        "username",
        *[f"{task} ({checks.POINTS[lab][task]})" for task in order],
        "total",
        "possible",
        "status",
        "note",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for grade in grades:
            possible = sum(checks.POINTS[lab].values())
            scores = [grade.tasks.get(task, {}).get("score", 0) for task in order]
            writer.writerow(
                [grade.student, *scores, grade.total, possible, grade.status, grade.note]
            )
    return path


def main(argv: list[str] | None = None) -> int:
    """Grade a folder of submissions and write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("submissions", type=Path, help="the folder of submitted notebooks")
    parser.add_argument("lab", help="the lab, e.g. 03")
    parser.add_argument("--out", type=Path, help="the CSV (default: in the folder)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)
    try:
        lab = lab_id(args.lab)
        start = time.perf_counter()
        grades = grade_folder(args.submissions, lab, args.jobs, args.timeout)
    except GradingError as error:
        print(f"make grade: {error}", file=sys.stderr)
        return 2
    out = write_csv(grades, lab, args.out or args.submissions / f"grades-{lab}.csv")
    width = max(len(grade.student) for grade in grades)
    for grade in grades:
        line = f"{grade.student:<{width}}  {grade.total:>3}/{grade.possible:<3} {grade.status}"
        print(line + (f": {grade.note[:100]}" if grade.note else ""))
    seconds = time.perf_counter() - start
    print(f"{len(grades)} submissions of {lab} graded in {seconds:.0f} s; grades in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
