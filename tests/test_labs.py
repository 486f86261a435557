"""Every lab runs twice, through the grader: its solution passes every check and scores
every point; its student version runs to the end with every task unfinished and scores
nothing, even when the saved notebook shows passing checks. Student notebooks match their
solutions."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import nbformat
import pytest

from tools import grade, labs, runner
from utils import checks


def lab_id(solution: Path) -> str:
    return solution.name.split("_")[0]


def declared_tasks(solution: Path) -> list[str]:
    """The tasks the lab's checks module declares (``utils/labs/labNN.py``)."""
    importlib.import_module(f"utils.labs.{lab_id(solution)}")
    return checks.TASKS.get(lab_id(solution), [])


def run_lab(path: Path, tmp_path: Path, template_db: Path) -> tuple[grade.Grade, list[dict]]:
    """Grade ``path`` as ``make grade`` does; return the grade and what its own checks said."""
    report = tmp_path / "checks.jsonl"
    graded, result = grade.grade_submission(
        "test",
        path,
        lab_id(path),
        tmp_path / "run",
        template_db,
        env={checks.REPORT_ENV: str(report)},
    )
    assert result is not None
    runner.check_result(result)
    assert report.exists(), f"{path.name} called no check"
    return graded, [json.loads(line) for line in report.read_text().splitlines()]


SOLUTIONS = labs.solution_notebooks()


def test_student_notebooks_match_their_solutions() -> None:
    stale = [p.relative_to(runner.ROOT).as_posix() for p in labs.planned_changes()]
    assert not stale, f"out of date, run `make labs`: {stale}"


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.parent.name + "-solution")
def test_lab_solution_passes_every_check(solution: Path, tmp_path: Path, template_db: Path) -> None:
    graded, entries = run_lab(solution, tmp_path, template_db)
    not_passed = [
        f"{e['task']}: {e['status']} {e['problems']}" for e in entries if e["status"] != "passed"
    ]
    assert not not_passed, "\n".join(not_passed)
    assert {e["task"] for e in entries} == set(declared_tasks(solution))
    lost = {task: r["message"] for task, r in graded.tasks.items() if r["score"] != r["points"]}
    assert not lost, f"the grader took points from the solution: {lost}"
    assert graded.total == sum(checks.POINTS[lab_id(solution)].values()) > 0
    assert list(graded.tasks) == declared_tasks(solution)


def with_passing_outputs(student: Path, folder: Path) -> Path:
    """The student notebook as saved after faking every check: each shows a pass."""
    notebook = nbformat.read(student, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "check_" in cell.source and "import" not in cell.source:
            text = "✅ Task: passed (2/2 points)\n"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    path = folder / student.name
    nbformat.write(notebook, path)
    return path


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.parent.name + "-student")
def test_lab_student_version_runs_with_every_task_unfinished(
    solution: Path, tmp_path: Path, template_db: Path
) -> None:
    faked = with_passing_outputs(labs.student_path(solution), tmp_path)
    graded, entries = run_lab(faked, tmp_path, template_db)
    done = [f"{e['task']}: {e['status']}" for e in entries if e["status"] != "unfinished"]
    assert not done, "tasks not reported unfinished in the student version:\n" + "\n".join(done)
    assert {e["task"] for e in entries} == set(declared_tasks(solution))
    assert graded.total == 0, {task: r["score"] for task, r in graded.tasks.items()}
    in_kernel = [r for r in graded.tasks.values() if "graded_from" not in r]
    assert in_kernel and all(r["status"] == "unfinished" for r in in_kernel)
    assert list(graded.tasks) == declared_tasks(solution)


def test_solution_markers_are_removed_for_students() -> None:
    code = (
        "# STUDENT: threshold = ...\n"
        "# BEGIN SOLUTION\n"
        "threshold = 0.3\n"
        "# END SOLUTION\n"
        "check_threshold(threshold)"
    )
    assert labs.student_code(code) == "threshold = ...\ncheck_threshold(threshold)"
    text = "Task 1.\n<!-- BEGIN SOLUTION -->\nThe answer is 0.3.\n<!-- END SOLUTION -->\nGo on."
    assert labs.student_markdown(text) == "Task 1.\nGo on."


def test_unpaired_markers_are_refused() -> None:
    with pytest.raises(labs.LabSourceError):
        labs.student_code("# BEGIN SOLUTION\nx = 1\n")
