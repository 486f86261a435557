"""The class tracking server (utils.classroom) and its load test (tools.classroom_load)."""

from __future__ import annotations

import configparser
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tools import classroom_load
from utils import classroom, servers
from utils.classroom import ClassroomError, RosterError

# --- roster --------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_plain_roster_has_one_name_per_line(tmp_path: Path) -> None:
    roster = write(tmp_path / "roster.txt", "# class of 2025\nana.garcia\n\n  bo-2  \nli\n")
    assert classroom.read_roster(roster) == ["ana.garcia", "bo-2", "li"]


def test_a_csv_roster_reads_its_username_column(tmp_path: Path) -> None:
    text = "\ufefffull name, username ,email\nAna García,ana.garcia,a@x.org\n,,\nBo,bo,b@x.org\n"
    assert classroom.read_roster(write(tmp_path / "class.csv", text)) == ["ana.garcia", "bo"]


def test_bad_roster_lines_are_each_named(tmp_path: Path) -> None:
    roster = write(tmp_path / "roster.txt", "ana\nAna.Garcia\nbo smith\nadmin\n-x\nana\nli_2\n")
    with pytest.raises(RosterError) as error:
        classroom.read_roster(roster)
    message = str(error.value)
    assert "6 bad lines" in message and str(roster) in message
    assert "line 2: 'Ana.Garcia': use lowercase letters: 'ana.garcia'" in message
    assert "line 3: 'bo smith'" in message and "(found ' ')" in message
    assert "line 4: 'admin'" in message and "instructor's account" in message
    assert "line 5: '-x': a name starts with a letter or a digit" in message
    assert "line 6: 'ana' repeats line 1" in message
    assert "line 7: 'li_2'" in message and "(found '_')" in message
    assert "line 1:" not in message


def test_a_csv_roster_without_a_username_column_says_so(tmp_path: Path) -> None:
    roster = write(tmp_path / "class.csv", "name,email\nAna,a@x.org\n")
    with pytest.raises(RosterError, match="needs a 'username' column; its header is 'name'"):
        classroom.read_roster(roster)
    bad = write(tmp_path / "bad.csv", "username\nana\nBO\n")
    with pytest.raises(RosterError, match="line 3: 'BO': use lowercase letters: 'bo'"):
        classroom.read_roster(bad)


def test_a_missing_or_empty_roster_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="not found: write one name per line"):
        classroom.read_roster(tmp_path / "nope.txt")
    with pytest.raises(RosterError, match="holds no user names"):
        classroom.read_roster(write(tmp_path / "empty.txt", "# nobody yet\n\n"))
    with pytest.raises(RosterError, match="entry 2: 'B'"):
        classroom.check_names(["a", "B"])


# --- credentials ---------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_credentials_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "credentials.csv"
    classroom.write_credentials(path, {"admin": "a" * 16, "ana": "b" * 16})
    assert mode(path) == 0o600
    assert classroom.read_credentials(path) == {"admin": "a" * 16, "ana": "b" * 16}
    with pytest.raises(ClassroomError, match="already holds a password for ana; not overwritten"):
        classroom.write_credentials(path, {"ana": "c" * 16, "bo": "d" * 16})
    path.chmod(0o644)
    classroom.write_credentials(path, {"bo": "d" * 16})
    assert mode(path) == 0o600
    assert path.read_text().splitlines() == [
        "username,password",
        f"admin,{'a' * 16}",
        f"ana,{'b' * 16}",
        f"bo,{'d' * 16}",
    ]


def test_generated_passwords_are_long_and_different() -> None:
    passwords = {classroom.new_password() for _ in range(50)}
    assert len(passwords) == 50 and min(map(len, passwords)) >= 12


def test_a_database_without_its_credentials_is_refused(tmp_path: Path) -> None:
    (tmp_path / "postgres" / "db").mkdir(parents=True)
    (tmp_path / "postgres" / "db" / "PG_VERSION").write_text("15\n")
    with pytest.raises(ClassroomError, match="no credentials.csv: the admin password"):
        classroom._check_state(tmp_path)
    write(tmp_path / "credentials.csv", "user;password\n")
    with pytest.raises(ClassroomError, match="not a credentials file"):
        classroom._check_state(tmp_path)


def test_mlflow_reads_the_auth_config_as_intended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.server.auth.config import read_auth_config

    path = write(tmp_path / "basic_auth.ini", classroom.auth_config("sqlite:///auth.db"))
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_USERNAME", raising=False)
    config = read_auth_config()
    assert config.default_permission == "READ"
    assert config.database_uri == "sqlite:///auth.db"
    assert config.admin_username == "admin" and config.admin_password is None
    assert config.auth_cache_ttl_seconds == classroom.AUTH_CACHE_SECONDS
    parsed = configparser.ConfigParser()
    parsed.read(path)
    assert "admin_password" not in parsed["mlflow"]


def test_the_command_line_reports_a_bad_roster_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = write(tmp_path / "roster.txt", "ana\nBob\n")
    code = classroom.main(["start", "--roster", str(roster), "--dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "line 2: 'Bob'" in err
    assert "Traceback" not in err and not (tmp_path / "c").exists()


def test_the_instructions_name_every_setting_a_student_changes() -> None:
    fake = servers.Server("x", "http://127.0.0.1:5000", 5000, 1, Path("x.log"))
    room = classroom.Classroom(
        url="http://0.0.0.0:5000",
        local_url="http://127.0.0.1:5000",
        directory=Path("/srv/class"),
        credentials_path=Path("/srv/class/credentials.csv"),
        students=("ana", "bo"),
        new_students=("bo",),
        server=fake,
        database=fake,
        admin_password="secret-admin-pw",
        passwords={"ana": "secret-ana-pw", "bo": "secret-bo-pw"},
    )
    text = classroom.instructions(room, "0.0.0.0", 5000)
    for needed in (
        "MLFLOW_TRACKING_URI=http://",
        "MLFLOW_TRACKING_USERNAME=",
        "MLFLOW_TRACKING_PASSWORD=",
        "~/.mlflow/credentials",
        "mlflow_tracking_password",
        "/srv/class/credentials.csv",
        "2 students (1 new)",
        "Ctrl+C",
    ):
        assert needed in text, needed
    assert "secret" not in text and "secret" not in repr(room)
    assert "--host 0.0.0.0" in classroom.instructions(room, "127.0.0.1", 5000)


def test_a_port_in_use_is_reported_before_anything_starts() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ClassroomError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            classroom._check_port_free("127.0.0.1", port)


# --- load test bookkeeping -----------------------------------------------------------------


def test_the_load_test_counts_lost_records_and_unrefused_writes() -> None:
    result = classroom_load.LoadResult(students=2, runs=1, params=1, metrics=2, finished=True)
    result.acknowledged = {"a": Counter(runs=1, params=1, metrics=2), "b": Counter(runs=1)}
    result.stored = {"a": Counter(runs=1, params=1, metrics=1), "b": Counter(runs=1)}
    result.forbidden, result.unauthenticated = (3, 4), (3, 3)
    assert result.records_lost() == 1 and not result.ok
    problems = "\n".join(result.problems())
    assert "a: acknowledged" in problems and "holds 4 records of 8 expected" in problems
    assert "only 3 of 4 writes into another student's experiment were refused" in problems
    assert "result: FAILED" in result.summary()


def test_the_load_test_refuses_sizes_it_cannot_check() -> None:
    with pytest.raises(ValueError, match="from 2 to 200"):
        classroom_load.run_load_test(students=1)
    with pytest.raises(ValueError, match="the limit is 20000"):
        classroom_load.run_load_test(students=200, runs=100)


# --- a real class server -------------------------------------------------------------------


@pytest.fixture
def class_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, require_postgres: None
) -> Iterator[Path]:
    """A class folder PostgreSQL can reach even when the tests run as root."""
    monkeypatch.setenv("KIT_STORE_DIR", str(tmp_path / "store"))  # the servers' logs
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    folder = Path(tempfile.mkdtemp(prefix="kit-classroom-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def processes_mentioning(text: str) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if text in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(cmdline[:200])
    return found


@pytest.mark.slow
def test_postgres_keeps_a_data_dir_across_restarts(class_dir: Path) -> None:
    import psycopg

    class_dir.chmod(0o711)  # as root, PostgreSQL runs as user postgres: it must get through
    data_dir = class_dir / "pg"
    with servers.postgres_server("kit", data_dir=data_dir) as pg:
        with psycopg.connect(pg.url.replace("+psycopg", "")) as connection:
            connection.execute("CREATE TABLE t (x int)")
            connection.execute("INSERT INTO t VALUES (42)")
    assert not pg.is_running() and (data_dir / "db" / "PG_VERSION").exists()
    with servers.postgres_server("kit", data_dir=data_dir) as pg:  # reused, not re-created
        with psycopg.connect(pg.url.replace("+psycopg", "")) as connection:
            assert connection.execute("SELECT x FROM t").fetchone() == (42,)
    assert not pg.is_running() and data_dir.is_dir()


def act_as(monkeypatch: pytest.MonkeyPatch, room: classroom.Classroom, user: str) -> None:
    """Set what a student sets: the three MLFLOW_TRACKING_* variables."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", room.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", room.passwords[user])


@pytest.mark.slow
def test_a_class_server_keeps_students_apart_and_its_data_across_restarts(
    class_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow import MlflowClient

    from utils.notebook import experiment_name_for

    roster = write(tmp_path / "roster.txt", "ana\nbo\n")
    with classroom.classroom_server(roster, class_dir) as room:
        api = f"{room.local_url}/api/2.0/mlflow"
        credentials = classroom.read_credentials(room.credentials_path)
        assert mode(room.credentials_path) == 0o600
        assert sorted(credentials) == ["admin", "ana", "bo"] and len(set(credentials.values())) == 3
        assert room.new_students == ("ana", "bo") and room.passwords["ana"] == credentials["ana"]

        # Ana logs a run into her own experiment, with the MLflow client, as a notebook does.
        act_as(monkeypatch, room, "ana")
        name = experiment_name_for("07_mlflow_tracking")
        assert name == "ana/07_mlflow_tracking"
        client = MlflowClient(tracking_uri=room.url)
        experiment_id = client.create_experiment(name)
        run = client.create_run(experiment_id)
        client.log_param(run.info.run_id, "alpha", "0.1")
        client.log_metric(run.info.run_id, "auc", 0.81)
        client.log_text(run.info.run_id, "proxied artifact", "notes.txt")
        client.set_terminated(run.info.run_id)

        # Bo reads it ...
        act_as(monkeypatch, room, "bo")
        client = MlflowClient(tracking_uri=room.url)
        assert client.get_experiment(experiment_id).name == name
        seen = client.get_run(run.info.run_id)
        assert seen.data.params == {"alpha": "0.1"} and seen.data.metrics == {"auc": 0.81}
        text = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes.txt")
        assert text == "proxied artifact"
        # ... but cannot write into it: MLflow answers 403.
        bo = ("bo", room.passwords["bo"])
        for path, body in (
            ("runs/create", {"experiment_id": experiment_id}),
            ("runs/log-metric", {"run_id": run.info.run_id, "key": "auc", "value": 0.0,
                                 "timestamp": 0, "step": 1}),
            ("experiments/update", {"experiment_id": experiment_id, "new_name": "bo/taken"}),
        ):  # fmt: skip
            answer = requests.post(f"{api}/{path}", json=body, auth=bo, timeout=60)
            assert answer.status_code == 403, (path, answer.status_code, answer.text)
        assert client.get_run(run.info.run_id).data.metrics == {"auc": 0.81}
        # Bo's own experiment is his to write.
        own = client.create_experiment(experiment_name_for("07_mlflow_tracking"))
        client.log_metric(client.create_run(own).info.run_id, "auc", 0.7)

        # Without credentials, or with a wrong password: 401.
        anonymous = requests.get(f"{api}/experiments/get", params={"experiment_id": "0"})
        wrong = requests.get(
            f"{api}/experiments/get", params={"experiment_id": "0"}, auth=("ana", "x" * 20)
        )
        assert (anonymous.status_code, wrong.status_code) == (401, 401)
        first = room
    assert not first.server.is_running() and not first.database.is_running()

    # A restart with a longer roster keeps the runs and passwords, and adds Cy only.
    write(roster, "ana\nbo\ncy\n")
    with classroom.classroom_server(roster, class_dir) as room:
        assert room.new_students == ("cy",)
        assert room.passwords["ana"] == credentials["ana"]
        act_as(monkeypatch, room, "ana")
        client = MlflowClient(tracking_uri=room.url)
        assert client.get_run(run.info.run_id).data.metrics == {"auc": 0.81}
        act_as(monkeypatch, room, "cy")
        assert MlflowClient(tracking_uri=room.url).get_experiment(own).name.startswith("bo/")
        lines = room.credentials_path.read_text().splitlines()
        assert (
            len(lines) == 5 and lines[4].startswith("cy,") and mode(room.credentials_path) == 0o600
        )
        second = room
    assert not second.server.is_running() and not second.database.is_running()
    assert processes_mentioning(str(class_dir)) == []
    assert (class_dir / "postgres" / "db" / "PG_VERSION").exists(), "the data must persist"


@pytest.mark.slow
def test_the_load_test_finds_every_record_and_every_refusal(class_dir: Path) -> None:
    result = classroom_load.run_load_test(students=3, runs=2, params=2, metrics=4, time_limit=180)
    assert result.ok, result.summary()
    assert result.records_lost() == 0 and result.records_stored() == 3 * 2 * (1 + 2 + 4)
    assert result.forbidden == (6, 6) and result.unauthenticated == (3, 3)
    assert result.requests == 3 * (1 + 2 * (2 + 2 + 4)) and result.percentile_ms(95) > 0
    assert "| records lost (runs, params, metric values) | 0 |" in result.markdown()
    assert processes_mentioning("kit-classroom-load-") == []
