"""Every lab runs twice: its solution passes every check, its student version runs to the
end with every task reported unfinished. Student notebooks match their solutions."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from tools import labs, runner
from utils import checks


def lab_id(solution: Path) -> str:
    return solution.name.split("_")[0]


def declared_tasks(solution: Path) -> list[str]:
    """The tasks the lab's checks module declares (``utils/labs/labNN.py``)."""
    importlib.import_module(f"utils.labs.{lab_id(solution)}")
    return checks.TASKS.get(lab_id(solution), [])


def run_lab(path: Path, tmp_path: Path, template_db: Path) -> list[dict]:
    report = tmp_path / "checks.jsonl"
    result = runner.run_notebook(path, tmp_path, template_db, env={checks.REPORT_ENV: str(report)})
    runner.check_result(result)
    assert report.exists(), f"{path.name} called no check"
    return [json.loads(line) for line in report.read_text().splitlines()]


SOLUTIONS = labs.solution_notebooks()


def test_student_notebooks_match_their_solutions() -> None:
    stale = [p.relative_to(runner.ROOT).as_posix() for p in labs.planned_changes()]
    assert not stale, f"out of date, run `make labs`: {stale}"


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.parent.name + "-solution")
def test_lab_solution_passes_every_check(solution: Path, tmp_path: Path, template_db: Path) -> None:
    entries = run_lab(solution, tmp_path, template_db)
    not_passed = [
        f"{e['task']}: {e['status']} {e['problems']}" for e in entries if e["status"] != "passed"
    ]
    assert not not_passed, "\n".join(not_passed)
    assert {e["task"] for e in entries} == set(declared_tasks(solution))


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.parent.name + "-student")
def test_lab_student_version_runs_with_every_task_unfinished(
    solution: Path, tmp_path: Path, template_db: Path
) -> None:
    entries = run_lab(labs.student_path(solution), tmp_path, template_db)
    done = [f"{e['task']}: {e['status']}" for e in entries if e["status"] != "unfinished"]
    assert not done, "tasks not reported unfinished in the student version:\n" + "\n".join(done)
    assert {e["task"] for e in entries} == set(declared_tasks(solution))


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
