"""Lab results in MLflow (utils.results): every check attempt lands in the student's
lab-results run, and a tracking server that does not answer never breaks a check."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from utils import checks, results, servers
from utils.checks import Feedback, task_check


@task_check("lab98", "Task 1 · Share", points=3, hint="Between 0 and 1.")
def check_share(fb: Feedback, share: float) -> None:
    if fb.expect_type(share, float, "the share"):
        fb.expect(0 <= share <= 1, "the share lies in [0, 1]", f"{share} is not in [0, 1]")


@task_check("lab98", "Task 2 · Name", points=1)
def check_name(fb: Feedback, name: str) -> None:
    fb.expect_type(name, str, "the name")


@pytest.fixture
def store(isolated_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(results.OFF_ENV, raising=False)
    monkeypatch.setattr(results, "_runs", {})
    return isolated_store


def test_task_keys_come_from_the_task_number() -> None:
    assert results.task_key("Task 2 · Nested, tracked search") == "task_2"
    assert results.task_key("task 12: more") == "task_12"
    assert results.task_key("Bonus · Plot it!") == "bonus_plot_it"


def test_every_attempt_is_recorded_in_the_lab_results_run(store: Path) -> None:
    import mlflow

    check_share(...)
    check_share(1.5)
    check_share(0.25)
    check_name(7)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("lab-results")
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "lab98" and run.data.tags[results.LAB_TAG] == "lab98"
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "task_1.score")
    assert [m.value for m in history] == [0.0, 0.0, 3.0]
    assert run.data.tags["task_1.status"] == "passed" and run.data.tags["task_1.points"] == "3"
    assert run.data.tags["task_2.status"] == "failed"
    assert "should be a str, not an int" in run.data.tags["task_2.message"]
    files = [f.path for f in client.list_artifacts(run.info.run_id, "attempts")]
    assert len(files) == 4
    first = json.loads(Path(client.download_artifacts(run.info.run_id, files[0])).read_text())
    assert first["status"] == "unfinished" and first["points"] == 3 and first["score"] == 0

    found = results.read_results(client)["lab98"]
    assert found["task_1"].best_score == 3 and found["task_1"].attempts == 3
    assert found["task_2"].status == "failed" and found["task_2"].best_score == 0
    assert found["task_1"].last_attempt == pytest.approx(time.time(), abs=120)
    assert found["task_1"].task == "Task 1 · Share"


def test_the_notebook_experiment_stays_selected(store: Path) -> None:
    from utils import setup_notebook

    kit = setup_notebook("lab98_student")
    check_share(0.5)
    import mlflow

    assert mlflow.get_experiment_by_name("lab-results") is not None
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == kit.experiment_id


def test_a_server_that_does_not_answer_never_breaks_a_check(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{servers.free_port()}")
    start = time.perf_counter()
    feedback = check_share(0.5)
    assert time.perf_counter() - start < 30
    assert feedback.passed and feedback.score == 3
    note = capsys.readouterr().out
    assert "not saved in MLflow" in note and "run the check again" in note


def test_results_can_be_turned_off(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.setenv(results.OFF_ENV, "off")
    assert results.save_attempt(checks.new_feedback("lab98", "Task 1 · Share")) is None
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    assert client.get_experiment_by_name("lab-results") is None


def test_on_a_class_server_results_are_per_student(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    assert results.experiment_name() == "ana/lab-results"
    assert results.experiment_name("bo") == "bo/lab-results"
    assert results.last_attempt_text(0) == ""
    assert results.last_attempt_text(86400) == "1970-01-02 00:00 UTC"
