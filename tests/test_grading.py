"""The grader (tools.grade, utils.grading): re-checks in a fresh kernel, cheats earn
nothing, and every broken submission gets a row of its own."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from tools import grade, labs
from utils import checks, grading

LAB01 = grade.solution_of("lab01")


@pytest.mark.parametrize("solution", labs.solution_notebooks(), ids=lambda p: p.parent.name)
def test_every_task_of_every_lab_is_rechecked(solution: Path) -> None:
    lab = solution.name.split("_")[0]
    calls = grade.check_calls(lab)
    assert {call.task for call in calls} == set(grade.task_order(lab))
    student = nbformat.read(labs.student_path(solution), as_version=4)
    graded = grade.graded_notebook(student, lab, "s3cret")
    added = [
        i for i, c in enumerate(graded.cells) if grade.GRADER_TAG in c.metadata.get("tags", [])
    ]
    assert len(added) == len(calls)
    for index in added:  # each re-check follows the cell where the student calls the check
        before = graded.cells[index - 1]
        assert grade.GRADER_TAG in before.metadata.get("tags", []) or "check_" in before.source
    assert all(not c.get("outputs") for c in graded.cells if c.cell_type == "code")


def test_a_task_whose_cell_is_gone_is_rechecked_at_the_end() -> None:
    student = nbformat.read(labs.student_path(LAB01), as_version=4)
    student.cells = [c for c in student.cells if "check_column_report(" not in c.source]
    graded = grade.graded_notebook(student, "lab01", "s3cret")
    assert "'check_column_report'" in graded.cells[-1].source


def test_verdicts_need_the_secret() -> None:
    text = (
        'KIT-GRADE s3cret {"task": "Task 1", "score": 2}\n'
        'KIT-GRADE guessed {"task": "Task 2", "score": 2}\n'
        'print KIT-GRADE s3cret {"task": "Task 3"}\n'
    )
    assert grading.read_verdicts(text, "s3cret") == [{"task": "Task 1", "score": 2}]


def test_a_fresh_copy_ignores_a_patched_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from utils.labs import lab01

    monkeypatch.setattr(lab01, "check_break_even", lambda *a: "fooled")
    monkeypatch.setattr(checks.Feedback, "passed", property(lambda self: True))
    module, fresh = grading.fresh_lab_module("lab01")
    assert module is not lab01 and fresh is not checks
    feedback = module.check_break_even.unrecorded(0.9)
    assert feedback.status == "failed" and feedback.score == 0
    import utils.labs

    assert utils.labs.lab01 is lab01 and lab01.check_break_even(0.9) == "fooled"


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "mlflow-kit", "display_name": "Python (MLflow kit)"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


def cheating_lab01(folder: Path) -> Path:
    """Lab 01's solution up to Task 2, with Task 1 answered wrongly behind a replaced
    check and Task 2 left unfinished behind a patched ``Feedback``."""
    nb = nbformat.read(LAB01, as_version=4)
    cut = next(i for i, c in enumerate(nb.cells) if "check_profit_curve(" in c.source)
    nb.cells = nb.cells[: cut + 1]
    task1 = next(c for c in nb.cells if "check_break_even(" in c.source)
    task1.source = (
        "break_even = 0.9\n"
        "def check_break_even(answer):\n"
        "    print('✅ Task 1 · Break-even threshold: passed (2/2 points)')\n"
        "check_break_even(break_even)"
    )
    task2 = nb.cells[cut]
    task2.source = (
        "import utils.checks\n"
        "utils.checks.Feedback.status = property(lambda self: 'passed')\n"
        "curve = ...\n"
        "print(check_profit_curve(curve, y_true, scores))"
    )
    path = folder / "cheat.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.notebook
@pytest.mark.timeout(600)
def test_a_replaced_check_and_a_patched_feedback_earn_nothing(
    tmp_path: Path, template_db: Path
) -> None:
    graded, result = grade.grade_submission(
        "mallory", cheating_lab01(tmp_path), "lab01", tmp_path / "run", template_db
    )
    shown = result.executed.read_text()
    assert shown.count(": passed (2/2 points)") >= 2  # the notebook claims both tasks
    tasks = list(graded.tasks.values())
    assert tasks[0]["status"] == "failed" and tasks[0]["score"] == 0
    assert tasks[1]["status"] == "unfinished" and tasks[1]["score"] == 0
    assert "0.9" in tasks[0]["message"]  # the kit's own check judged the hand-set answer
    assert all(r["score"] == 0 for r in tasks[2:])
    assert "no longer defines" in tasks[3]["message"]  # Task 4's cell is not in the notebook
    assert graded.total == 0 and graded.status == "graded"


@pytest.mark.notebook
@pytest.mark.timeout(600)
def test_broken_submissions_each_get_a_row(tmp_path: Path, template_db: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(notebook("raise RuntimeError('my code is broken')"), folder / "crash.ipynb")
    nbformat.write(notebook("import time\ntime.sleep(600)"), folder / "hang.ipynb")
    (folder / "damaged.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "essay.pdf").write_bytes(b"%PDF-1.4")
    (folder / "li").mkdir()  # a Moodle-style folder per student
    nbformat.write(notebook("x = 1"), folder / "li" / "lab01_student.ipynb")
    grades = {g.student: g for g in grade.grade_folder(folder, "lab01", jobs=2, cell_timeout=5)}
    assert sorted(grades) == ["crash", "damaged", "essay", "hang", "li"]
    assert grades["crash"].status == "graded, with errors"
    assert "my code is broken" in grades["crash"].note
    assert grades["hang"].status == "timed out"
    assert grades["damaged"].status == "not a notebook" and "JSON" in grades["damaged"].note
    assert grades["essay"].status == "not a notebook" and ".ipynb" in grades["essay"].note
    assert grades["li"].status == "graded"
    for g in grades.values():
        assert g.total == 0 and g.possible == sum(checks.POINTS["lab01"].values())
        assert list(g.tasks) == grade.task_order("lab01")
    out = grade.write_csv(list(grades.values()), "lab01", tmp_path / "grades.csv")
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [row["username"] for row in rows] == list(grades)
    assert rows[0]["total"] == "0" and rows[0]["possible"] == "10"
    assert "Task 1 · Break-even threshold (2)" in rows[0]


def test_bad_arguments_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert grade.main([str(tmp_path), "99"]) == 2
    assert "there is no lab '99'" in capsys.readouterr().err
    assert grade.main([str(tmp_path / "nope"), "01"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert grade.main([str(tmp_path), "1"]) == 2
    assert "holds no submission" in capsys.readouterr().err


def test_a_search_faked_on_the_parent_scores_nothing_from_state(
    isolated_store: Path, tracking_to
) -> None:  # noqa: ANN001
    """Lab 03: top-level runs instead of nested ones, and a summary tagged by hand."""
    import mlflow

    from utils.labs import lab03

    uri = f"sqlite:///{isolated_store / 'mlflow.db'}"
    with tracking_to(uri):
        experiment = mlflow.set_experiment("lab03_student").experiment_id
        ids = []
        for depth in (3, 6, 9, 12):
            with mlflow.start_run() as run:
                mlflow.log_params({"max_depth": depth, "min_samples_leaf": 10})
                mlflow.log_metric("val_auc", 0.7)
                ids.append(run.info.run_id)
        with mlflow.start_run(run_name="tree-search"):
            mlflow.set_tag("best_run_id", ids[0])
            mlflow.log_metric("best_val_auc", 0.7)
        with grading.graded_experiment(uri, experiment):
            graded = grading.grade_state("lab03", experiment)
    assert [f.task for f in graded] == list(lab03.STATE_TASKS)
    assert all(f.score == 0 for f in graded)
    assert "no parent run with nested child runs" in graded[1].problems[0]
