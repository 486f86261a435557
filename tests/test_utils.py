"""The shared helpers: paths, notebook setup, lab feedback, environment check, servers."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import psutil
import pytest

from utils import checks, environment, notebook, paths, servers
from utils.checks import Feedback, task_check

# --- paths --------------------------------------------------------------------------


def test_store_and_tracking_uri_follow_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIT_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert paths.store_dir() == (tmp_path / "store").resolve()
    assert paths.tracking_uri() == f"sqlite:///{(tmp_path / 'store').resolve()}/mlflow.db"
    assert paths.work_dir("02_x") == (tmp_path / "store" / "work" / "02_x").resolve()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://class-server:5000")
    assert paths.tracking_uri() == "http://class-server:5000"


def test_default_store_is_inside_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIT_STORE_DIR", raising=False)
    assert paths.store_dir() == paths.repo_root() / "mlflow_store"
    assert (paths.repo_root() / "utils" / "paths.py").exists()


# --- setup_notebook ----------------------------------------------------------------------


def test_setup_notebook_selects_an_experiment_in_the_store(isolated_store: Path) -> None:
    import mlflow

    kit = notebook.setup_notebook("99_sample")
    assert kit.experiment_name == "99_sample"
    assert mlflow.get_tracking_uri() == kit.tracking_uri
    with mlflow.start_run() as run:
        mlflow.log_dict({"a": 1}, "a.json")
    assert run.info.experiment_id == kit.experiment_id
    artifact = Path(run.info.artifact_uri.removeprefix("file://")) / "a.json"
    assert artifact.is_file() and artifact.is_relative_to(isolated_store)
    again = notebook.setup_notebook("99_sample")
    assert again.experiment_id == kit.experiment_id
    assert kit.rng.integers(1000) == again.rng.integers(1000)


def test_class_server_user_gets_their_own_experiments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    assert notebook.experiment_name_for("07_mlflow_tracking") == "ada/07_mlflow_tracking"
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    assert notebook.experiment_name_for("07_mlflow_tracking") == "07_mlflow_tracking"


def test_strict_mode_marks_mlflow_deprecations_only(
    isolated_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    saved = warnings.showwarning
    try:
        with warnings.catch_warnings():
            notebook.fail_on_mlflow_deprecations()
            with pytest.raises(MlflowException):  # no such model; the warning came first
                MlflowClient().get_latest_versions("no-such-model")
            warnings.warn("a library of someone else's", DeprecationWarning, stacklevel=1)
    finally:
        warnings.showwarning = saved
    err = capsys.readouterr().err
    marked = [line for line in err.splitlines() if notebook.DEPRECATION_MARKER in line]
    assert len(marked) == 1 and "get_latest_versions" in marked[0]


# --- lab feedback ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_results_in_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the feedback; saving it in MLflow is tested in test_results.py."""
    from utils import results

    monkeypatch.setenv(results.OFF_ENV, "off")


@task_check("lab99", "Task 1 · Share", points=2, hint="A share lies between 0 and 1.")
def check_share(fb: Feedback, share: float) -> None:
    if fb.expect_type(share, float, "the share"):
        fb.expect(0 <= share <= 1, "the share lies in [0, 1]", f"{share} is not in [0, 1]")


@task_check("lab99", "Task 2 · Table", points=1)
def check_table(fb: Feedback, table: object) -> None:
    fb.expect(len(table.columns) == 2, "two columns", "needs two columns")  # type: ignore[attr-defined]


def test_check_reports_unfinished_failed_and_passed() -> None:
    assert check_share(...).status == "unfinished"
    wrong = check_share(1.5)
    assert wrong.status == "failed" and "1.5 is not in [0, 1]" in str(wrong)
    assert "Hint: A share lies between 0 and 1." in str(wrong)
    assert check_share(0.25).passed
    assert "✅" in str(check_share(0.25))


def test_check_names_a_wrong_type_and_rejects_bools() -> None:
    assert "should be a float, not a str" in check_share("25%").problems[0]
    assert "not a bool" in check_share(True).problems[0]


def test_check_turns_a_crash_into_a_message() -> None:
    feedback = check_table([1, 2])
    assert feedback.status == "failed"
    assert "AttributeError" in feedback.problems[0] and "type and shape" in feedback.problems[0]


def test_checks_are_recorded_for_the_harness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report.jsonl"
    monkeypatch.setenv(checks.REPORT_ENV, str(report))
    check_share(...)
    check_share(0.5)
    entries = [json.loads(line) for line in report.read_text().splitlines()]
    assert [e["status"] for e in entries] == ["unfinished", "passed"]
    assert entries[0]["lab"] == "lab99"
    assert [(e["points"], e["score"]) for e in entries] == [(2, 0), (2, 2)]
    assert entries[0]["message"].startswith("unfinished") and entries[1]["time"] > 0


def test_a_task_is_worth_whole_points() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="points must be a whole number"):
            task_check("lab99", "Task 9 · Bad", points=bad)  # type: ignore[arg-type]
    assert checks.POINTS["lab99"] == {"Task 1 · Share": 2, "Task 2 · Table": 1}
    assert "(2/2 points)" in str(check_share(0.25)) and "(0/2 points)" in str(check_share(2.0))


# --- environment check ---------------------------------------------------------------------


def test_environment_check_reads_the_pins() -> None:
    pins = environment.pinned_requirements()
    assert pins["mlflow"] == "3.17.2"
    assert "pandas" in pins and "scikit-learn" in pins


def test_environment_problems_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        environment, "pinned_requirements", lambda: {"pandas": "0.0.1", "no-such-pkg": "1.0"}
    )
    problems = environment.environment_problems(environment.check_environment())
    assert len(problems) == 2
    assert all("make setup" in p for p in problems)
    assert any("no-such-pkg: needs 1.0, found missing" in p for p in problems)


# --- servers -------------------------------------------------------------------------------


def group_alive(pid: int) -> bool:
    return servers._group_alive(pid)


@pytest.mark.slow
def test_tracking_server_starts_answers_and_leaves_nothing(isolated_store: Path) -> None:
    import requests

    with servers.tracking_server() as server:
        assert requests.get(server.url + "/health", timeout=5).text == "OK"
        body = {"name": "from-the-test"}
        created = requests.post(
            server.url + "/api/2.0/mlflow/experiments/create", json=body, timeout=10
        )
        assert created.status_code == 200, created.text
        pid = server.pid
        assert group_alive(pid)
        # uvicorn answers from inside the launcher: one process, no idle MLflow beside it.
        assert created.headers.get("server") == "uvicorn", created.headers
        main = psutil.Process(pid)
        assert not main.children(recursive=True), "an idle launcher process is still there"
    assert not group_alive(pid), "a process of the server's group survived"


def test_a_server_that_cannot_start_shows_its_log(isolated_store: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('bad config: no such store'); sys.exit(3)"]
    with pytest.raises(servers.ServerError) as error:
        with servers.managed_process("broken", command, servers.free_port(), timeout=10):
            pass
    message = str(error.value)
    assert "exited with code 3" in message and "bad config: no such store" in message


def test_a_server_that_never_answers_times_out_and_is_stopped(isolated_store: Path) -> None:
    command = [sys.executable, "-c", "import time; print('starting'); time.sleep(60)"]
    with pytest.raises(servers.ServerError) as error:
        with servers.managed_process("silent", command, servers.free_port(), timeout=1.5):
            pass
    assert "did not answer" in str(error.value) and "starting" in str(error.value)
    assert "silent" in str(error.value)


def test_stopping_kills_children_that_ignore_their_parent(isolated_store: Path) -> None:
    # A parent that starts a child and then serves; the child must die with the group.
    script = (
        "import http.server, subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'OK')\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
    )
    port = servers.free_port()
    with servers.managed_process(
        "family", [sys.executable, "-c", script, str(port)], port, timeout=15
    ) as server:
        pid = server.pid
        assert servers.is_healthy(server.url + "/health")
    assert not group_alive(pid)


@pytest.mark.usefixtures("require_postgres")
@pytest.mark.slow
def test_postgres_server_runs_a_real_database_and_leaves_nothing(isolated_store: Path) -> None:
    import psycopg

    with servers.postgres_server(database="kit") as pg:
        assert pg.url.startswith("postgresql+psycopg://") and pg.url.endswith("/kit")
        with psycopg.connect(pg.url.replace("+psycopg", "")) as connection:
            connection.execute("CREATE TABLE t (x int)")
            connection.execute("INSERT INTO t VALUES (41), (1)")
            assert connection.execute("SELECT sum(x) FROM t").fetchone()[0] == 42
        pid = pg.pid
    assert not group_alive(pid)


def test_missing_postgres_is_reported_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(servers.Path, "glob", lambda self, pattern: iter(()))
    with pytest.raises(servers.PostgresNotInstalled, match="apt-get install postgresql"):
        servers.postgres_bin_dir()


def test_figures_reach_the_benchmark_only_when_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(notebook.FIGURES_ENV, raising=False)
    notebook.report_figure("ignored", 1.0, "ms")
    target = tmp_path / "figures.jsonl"
    monkeypatch.setenv(notebook.FIGURES_ENV, str(target))
    notebook.report_figure("p95 latency", 12.5, "ms")
    assert json.loads(target.read_text()) == {"name": "p95 latency", "value": 12.5, "unit": "ms"}


@pytest.mark.usefixtures("require_postgres")
@pytest.mark.slow
def test_postgres_stops_fast_even_with_a_client_still_connected(isolated_store: Path) -> None:
    import time

    import psycopg

    with servers.postgres_server() as pg:
        connection = psycopg.connect(pg.url.replace("+psycopg", ""))  # left open on purpose
        assert pg.is_running()
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    connection.close()
    assert not pg.is_running()
    assert took < 5, f"stopping PostgreSQL took {took:.1f} s (SIGTERM waits for clients)"


def test_the_kernel_python_comes_first_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin")
    notebook.use_kernel_python_first()
    notebook.use_kernel_python_first()
    parts = os.environ["PATH"].split(os.pathsep)
    assert parts == [str(Path(sys.executable).parent), "/usr/bin"]
