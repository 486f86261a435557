"""The gradebook against a real class server: three students with different progress,
read back as the instructor into one CSV per lab and an offline HTML page."""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tools import gradebook
from utils import classroom, results
from utils.checks import new_feedback
from utils.labs import lab01, lab03

STUDENTS = ["ana", "bo", "cy"]


@pytest.fixture
def room(
    require_postgres: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[classroom.Classroom]:
    """A class server for three students, in a folder PostgreSQL can reach as root too."""
    monkeypatch.setenv("KIT_STORE_DIR", str(tmp_path / "store"))  # the servers' logs
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    folder = Path(tempfile.mkdtemp(prefix="kit-gradebook-"))
    try:
        with classroom.classroom_server(STUDENTS, folder) as running:
            yield running
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def as_student(room: classroom.Classroom, user: str, tracking_to) -> Iterator[None]:  # noqa: ANN001
    """Work as ``user`` on the class server, the way a student's notebook does."""
    import mlflow

    env = {
        "MLFLOW_TRACKING_URI": room.local_url,
        "MLFLOW_TRACKING_USERNAME": user,
        "MLFLOW_TRACKING_PASSWORD": room.passwords[user],
    }
    with pytest.MonkeyPatch.context() as patch, tracking_to(room.local_url):
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv(results.OFF_ENV, raising=False)
        patch.setattr(results, "_runs", {})
        experiment = mlflow.set_experiment(f"{user}/lab03_student")
        patch.setenv("MLFLOW_EXPERIMENT_ID", experiment.experiment_id)
        yield


def break_even() -> float:
    costs = lab01.LAB_COSTS
    return costs.offer_cost / (costs.save_rate * costs.customer_value)


def full_search() -> None:
    """Lab 03 done right: a nested search, the best run found, the summary on the parent."""
    import mlflow

    configurations = [
        {"max_depth": d, "min_samples_leaf": leaf} for d in (3, 6) for leaf in (1, 50)
    ]
    assert lab03.check_search_space(configurations).passed
    with mlflow.start_run(run_name="tree-search") as parent:
        for number, config in enumerate(configurations):
            with mlflow.start_run(nested=True):
                mlflow.log_params(config)
                mlflow.log_metric("val_auc", 0.70 + number / 100)
    run_id = parent.info.run_id
    assert lab03.check_nested_search(run_id, configurations).passed
    ranked = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'", order_by=["metrics.val_auc DESC"]
    )
    best = ranked.iloc[0]
    assert lab03.check_best_run(ranked, best["run_id"], run_id).passed
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("best_val_auc", float(best["metrics.val_auc"]))
        mlflow.set_tag("best_run_id", best["run_id"])
    assert lab03.check_parent_summary(run_id, float(best["metrics.val_auc"])).passed


@pytest.mark.timeout(600)
def test_the_gradebook_shows_what_each_student_did(
    room: classroom.Classroom,
    tracking_to,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    with as_student(room, "ana", tracking_to):
        assert lab01.check_break_even(0.5).status == "failed"
        assert lab01.check_break_even(break_even()).passed
        full_search()
    with as_student(room, "bo", tracking_to):
        assert lab01.check_break_even(0.5).status == "failed"
        assert lab03.check_search_space([{"max_depth": 3}]).status == "failed"
        # bo forges a passing Task 2 in his results run, with no search behind it
        forged = new_feedback("lab03", "Task 2 · Nested, tracked search")
        assert forged.passed and results.save_attempt(forged) is None
    book = gradebook.collect(room.local_url, room.admin_password, STUDENTS)
    page = gradebook.write_gradebook(book, tmp_path / "book")

    rows = {r["username"]: r for r in csv.DictReader((tmp_path / "book/lab01.csv").open())}
    assert list(rows) == STUDENTS
    task1 = "Task 1 · Break-even threshold"
    assert (rows["ana"][task1], rows["bo"][task1], rows["cy"][task1]) == ("2", "0", "0")
    assert rows["ana"]["total"] == "2" and rows["ana"]["possible"] == "10"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rows["ana"]["last_attempt"])
    assert rows["bo"]["last_attempt"] and rows["cy"]["last_attempt"] == ""

    lab3 = {r["username"]: r for r in csv.DictReader((tmp_path / "book/lab03.csv").open())}
    assert lab3["ana"]["total"] == lab3["ana"]["possible"] == "10"
    assert lab3["bo"]["Task 2 · Nested, tracked search"] == "0"  # state, not the forged record
    assert lab3["bo"]["total"] == "0" and lab3["cy"]["total"] == "0"

    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and not re.search(r'(src|href)="https?:', text)
    assert "ana</td>" in text and ">2/10<" in text and ">10/10<" in text
    counts = re.findall(r'class="count">(\d+/\d+)<', text)
    assert counts[:5] == ["1/3", "0/3", "0/3", "0/3", "0/3"]  # lab 01: only ana passed Task 1
    assert counts[5:10] == ["0/3"] * 5  # lab 02: nobody started
    assert counts[10:14] == ["1/3"] * 4  # lab 03: ana passed everything


def test_the_gradebook_names_a_missing_class_folder_or_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gradebook.main(["--dir", str(tmp_path)]) == 2
    assert "credentials.csv not found" in capsys.readouterr().err
    classroom.write_credentials(tmp_path / classroom.CREDENTIALS_FILE, {"admin": "pw", "ana": "x"})
    from utils import servers

    port = servers.free_port()
    assert gradebook.main(["--dir", str(tmp_path), "--port", str(port)]) == 2
    assert "does not answer" in capsys.readouterr().err
