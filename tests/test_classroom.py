"""The class tracking server (utils.classroom) and its load test (tools.classroom_load)."""

from __future__ import annotations

import configparser
import dataclasses
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


def test_private_mode_gives_no_permission_on_what_a_student_did_not_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.server.auth.config import read_auth_config

    path = write(tmp_path / "private.ini", classroom.auth_config("sqlite:///a.db", private=True))
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_USERNAME", raising=False)
    config = read_auth_config()
    assert config.default_permission == "NO_PERMISSIONS" == classroom.PRIVATE_PERMISSION
    assert config.database_uri == "sqlite:///a.db" and config.admin_username == "admin"
    assert "Private mode" in path.read_text() and "READ" not in path.read_text()


def test_the_allowed_hosts_are_this_machine_the_address_and_the_given_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "[::1]", "[::1]:5000"]
    assert classroom.allowed_hosts_for("127.0.0.1", 5000) == local
    assert classroom.allowed_hosts_for("192.168.1.20", 5000) == [
        *local, "192.168.1.20", "192.168.1.20:5000",
    ]  # fmt: skip
    names = " Class.Example ,proxy.example:443,,fd00::7"
    assert classroom.allowed_hosts_for("::1", 5000, names) == [
        *local, "class.example", "class.example:5000", "proxy.example:443",
        "[fd00::7]", "[fd00::7]:5000",
    ]  # fmt: skip
    # On every interface, the address students are told to use.
    monkeypatch.setattr(classroom, "network_address", lambda: "10.1.2.3")
    assert classroom.allowed_hosts_for("0.0.0.0", 80, ["class.example"])[-4:] == [
        "10.1.2.3", "10.1.2.3:80", "class.example", "class.example:80",
    ]  # fmt: skip
    monkeypatch.setattr(classroom, "network_address", lambda: None)
    assert classroom.allowed_hosts_for("0.0.0.0", 80) == [h.replace("5000", "80") for h in local]
    with pytest.raises(ClassroomError, match="would accept any Host header"):
        classroom.allowed_hosts_for("0.0.0.0", 80, "class.example,*")


def test_a_version_with_known_issues_is_warned_about() -> None:
    issues = [
        classroom.KnownIssue("3.18.0", "a test issue (closed by the kit)"),
        classroom.KnownIssue("3.17.0", "an issue fixed earlier"),
        classroom.KnownIssue(None, "an issue no release fixes yet"),
    ]
    warning = classroom.version_warning("3.16.2", issues)
    assert warning is not None and warning.startswith("warning: MLflow 3.16.2 has known")
    assert "a test issue (closed by the kit) (fixed in MLflow 3.18.0)" in warning
    assert "an issue fixed earlier (fixed in MLflow 3.17.0)" in warning
    assert f"an issue no release fixes yet (no fix up to MLflow {classroom.CHECKED_MLFLOW})" in (
        warning
    )
    later = classroom.version_warning("3.18.1", issues[:2])
    assert later is None
    assert "fixed earlier" not in (classroom.version_warning("3.17.2", issues) or "")
    assert "not a version" in (classroom.version_warning("banana", issues) or "")
    # The real table against the installed MLflow: every entry must be well formed.
    for issue in classroom.KNOWN_ISSUES:
        assert issue.description and (issue.fixed_in is None or issue.fixed_in[0].isdigit())
    installed = classroom.installed_mlflow_version()
    assert classroom.version_warning(installed, []) is None


def test_the_warning_is_printed_when_the_class_server_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(classroom, "installed_mlflow_version", lambda: "3.0.0")
    fake = (classroom.KnownIssue("3.99.0", "a fake issue (closed by the kit)"),)
    monkeypatch.setattr(classroom, "KNOWN_ISSUES", fake)

    def no_database(*args: object, **kwargs: object) -> None:
        raise servers.ServerError("stopped here by the test")

    monkeypatch.setattr(servers, "postgres_server", no_database)
    with pytest.raises(servers.ServerError, match="stopped here"):
        with classroom.classroom_server(["ana"], tmp_path / "class"):
            pass
    err = capsys.readouterr().err
    assert "warning: MLflow 3.0.0 has known" in err
    assert "a fake issue (closed by the kit) (fixed in MLflow 3.99.0)" in err


def test_the_command_line_passes_private_mode_and_allowed_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[dict] = []

    def fake_server(*args: object, **kwargs: object) -> None:
        seen.append(kwargs)
        raise ClassroomError("stopped here by the test")

    monkeypatch.setattr(classroom, "classroom_server", fake_server)
    roster = write(tmp_path / "roster.txt", "ana\n")
    base = ["start", "--roster", str(roster), "--dir", str(tmp_path / "c")]
    assert classroom.main(base) == 2
    assert classroom.main([*base, "--private", "--allowed-hosts", "class.example"]) == 2
    assert [(k["private"], k["allowed_hosts"]) for k in seen] == [
        (False, None),
        (True, "class.example"),
    ]
    assert "stopped here" in capsys.readouterr().err


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
    assert "Shared mode" in text and "--private" in text
    private = dataclasses.replace(room, private=True, allowed_hosts=("localhost", "a.example"))
    text = classroom.instructions(private, "0.0.0.0", 5000)
    assert "Private mode" in text and "accepted in the URL: localhost, a.example" in text


def test_a_port_in_use_is_reported_before_anything_starts() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ClassroomError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            classroom._check_port_free("127.0.0.1", port)


# --- load test bookkeeping -----------------------------------------------------------------


def counted(status: int, matched: int, tried: int) -> classroom_load.Check:
    check = classroom_load.Check(status)
    for number in range(tried):
        check.add(status if number < matched else 200)
    return check


def test_the_load_test_counts_lost_records_and_unrefused_writes() -> None:
    result = classroom_load.LoadResult(students=2, runs=1, params=1, metrics=2, finished=True)
    result.acknowledged = {"a": Counter(runs=1, params=1, metrics=2), "b": Counter(runs=1)}
    result.stored = {"a": Counter(runs=1, params=1, metrics=1), "b": Counter(runs=1)}
    result.checks = {
        label: counted(classroom_load.expected_status(label, False), 2, 2)
        for label in classroom_load.CHECKS
    }
    result.checks[classroom_load.OTHERS_EXPERIMENT] = counted(403, 3, 4)
    result.checks[classroom_load.BAD_HOST] = counted(403, 0, 0)
    result.leftovers = 1
    assert result.records_lost() == 1 and not result.ok
    problems = "\n".join(result.problems())
    assert "a: acknowledged" in problems and "holds 4 records of 8 expected" in problems
    assert "only 3 of 4 writes into another student's experiment were refused (403)" in problems
    assert "only 0 of 0 requests with a Host header not allowed were refused (403)" in problems
    assert "refused writes left 1 intruder records or files behind" in problems
    assert "wrong password" not in problems and "reads of another" not in problems
    summary = result.summary()
    assert "result: FAILED" in summary and "mode: shared" in summary
    assert "reads of another student's experiment allowed (200): 2 of 2" in summary


def test_in_private_mode_the_load_test_expects_reads_of_others_refused() -> None:
    assert classroom_load.expected_status(classroom_load.OTHERS_READ, True) == 403
    assert classroom_load.expected_status(classroom_load.OTHERS_READ, False) == 200
    result = classroom_load.LoadResult(2, 1, 1, 1, private=True)
    check = classroom_load.Check(classroom_load.expected_status(classroom_load.OTHERS_READ, True))
    for _ in range(4):
        check.add(200)  # what a shared server answers
    result.checks[classroom_load.OTHERS_READ] = check
    problems = "\n".join(result.problems())
    assert "only 0 of 4 reads of another student's experiment were refused (403)" in problems
    assert "| server mode | private |" in result.markdown()


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
        # One worker, one process: uvicorn answers from inside the launcher.
        assert anonymous.headers.get("server") == "uvicorn"
        assert not psutil.Process(room.server.pid).children(recursive=True)
        first = room
    assert not first.server.is_running() and not first.database.is_running()

    # A restart with a longer roster keeps the runs and passwords, and adds Cy only; in
    # private mode, each still uses their own work, and no longer reads the others'.
    write(roster, "ana\nbo\ncy\n")
    with classroom.classroom_server(roster, class_dir, private=True) as room:
        assert room.new_students == ("cy",) and room.private
        assert room.passwords["ana"] == credentials["ana"]
        act_as(monkeypatch, room, "ana")
        client = MlflowClient(tracking_uri=room.url)
        assert client.get_run(run.info.run_id).data.metrics == {"auc": 0.81}
        client.log_metric(run.info.run_id, "auc", 0.82, step=1)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", classroom.ADMIN)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", room.admin_password)
        assert MlflowClient(tracking_uri=room.url).get_experiment(own).name.startswith("bo/")
        cy = ("cy", room.passwords["cy"])
        answer = requests.get(f"{room.local_url}/api/2.0/mlflow/experiments/get",
                              params={"experiment_id": own}, auth=cy, timeout=60)  # fmt: skip
        assert (answer.status_code, answer.text) == (403, "Permission denied")
        lines = room.credentials_path.read_text().splitlines()
        assert (
            len(lines) == 5 and lines[4].startswith("cy,") and mode(room.credentials_path) == 0o600
        )
        second = room
    assert not second.server.is_running() and not second.database.is_running()
    assert processes_mentioning(str(class_dir)) == []
    assert (class_dir / "postgres" / "db" / "PG_VERSION").exists(), "the data must persist"

    # Between semesters: back up, then upgrade the stopped class's store; nothing is lost.
    done = classroom.upgrade_class_store(class_dir)
    assert [b.name for b in done.backups] == ["mlflow.sql", "mlflow_auth.sql"]
    assert "CREATE TABLE public.runs" in done.backups[0].read_text()
    assert done.revision_after is not None and done.runs[0] == done.runs[1] >= 1
    assert processes_mentioning(str(class_dir)) == []


def test_upgrading_a_folder_without_a_class_says_which_folder(tmp_path: Path) -> None:
    with pytest.raises(classroom.ClassroomError, match="holds no class database"):
        classroom.upgrade_class_store(tmp_path)
    assert classroom.main(["upgrade", "--dir", str(tmp_path)]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("private", [False, True], ids=["shared", "private"])
def test_the_load_test_finds_every_record_and_every_refusal(class_dir: Path, private: bool) -> None:
    result = classroom_load.run_load_test(
        students=3, runs=2, params=2, metrics=4, time_limit=180, private=private
    )
    assert result.ok, result.summary()
    assert result.records_lost() == 0 and result.records_stored() == 3 * 2 * (1 + 2 + 4)
    counts = {
        label: (check.status, check.matched, check.tried) for label, check in result.checks.items()
    }
    assert counts == {
        classroom_load.OTHERS_EXPERIMENT: (403, 3, 3),
        classroom_load.OTHERS_RUN: (403, 3, 3),
        classroom_load.OTHERS_ARTIFACTS: (403, 3, 3),
        classroom_load.ANONYMOUS: (401, 6, 6),
        classroom_load.WRONG_PASSWORD: (401, 6, 6),
        classroom_load.BAD_HOST: (403, 6, 6),
        classroom_load.OTHERS_READ: (403 if private else 200, 6, 6),
    }
    assert result.leftovers == 0 and result.private is private
    assert result.requests == 3 * (1 + 2 * (2 + 2 + 4)) and result.percentile_ms(95) > 0
    markdown = result.markdown()
    assert "| records lost (runs, params, metric values) | 0 |" in markdown
    assert "| artifact uploads into another student's run refused (403) | 3 of 3 |" in markdown
    assert "| things left behind by refused writes | 0 |" in markdown
    # This run's servers only: the other parameter may be running on another worker.
    assert result.folder and processes_mentioning(result.folder) == []
