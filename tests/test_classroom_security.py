"""The class server's security matrix, against a real server (utils.classroom).

One class server per mode for the whole module: shared (students read each other's work)
and private (``--private``: they do not). Two students, ``ana`` and ``bo``, each own an
experiment with a run (a metric, a parameter, an artifact), a logged model, and a
registered model with a version and the alias ``champion``. ``bo`` then tries every
request below on ``ana``'s objects. Each refused case checks the exact status and, for a
write, that nothing changed on the server (read back as the admin, and on disk for
artifacts). Each case has its positive control: ``bo`` doing the same on his own objects
succeeds, and in shared mode he reads ``ana``'s work, so no case can pass by refusing
everything.

Search endpoints are not refused: MLflow answers 200 and filters out what the caller
may not read, so those cases check that nothing of ``ana``'s comes back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from utils import classroom

pytestmark = pytest.mark.slow

STUDENTS = ["ana", "bo"]
INVALID_HOST = "Invalid Host header"


# --- the servers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Objects:
    """What one student created: the targets of the matrix."""

    user: str
    experiment_id: str
    experiment_name: str
    run_id: str
    artifact_uri: str
    model: str
    logged_model_id: str


@dataclass
class Room:
    """A running class server, a session per user, and ana's and bo's objects."""

    classroom: classroom.Classroom
    sessions: dict[str, requests.Session]
    ana: Objects
    bo: Objects

    @property
    def base(self) -> str:
        return self.classroom.local_url

    @property
    def api(self) -> str:
        return f"{self.base}/api/2.0/mlflow"

    def call(self, user: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request as ``user`` to ``path`` (under /api/2.0/mlflow unless absolute)."""
        url = path if path.startswith("http") else f"{self.api}/{path}"
        return self.sessions[user].request(method, url, timeout=60, **kwargs)

    def ok(self, user: str, method: str, path: str, **kwargs: Any) -> dict:
        answer = self.call(user, method, path, **kwargs)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        return answer.json() if answer.content else {}

    def read(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Read as the admin: ``(status, answer)``, whatever the status."""
        method = "POST" if "json" in kwargs else "GET"
        answer = self.call(classroom.ADMIN, method, path, **kwargs)
        return answer.status_code, answer.json() if answer.content else {}


def _session(user: str, password: str) -> requests.Session:
    session = requests.Session()
    session.auth = (user, password)
    return session


def create_objects(room: Room, user: str, tag: str, full: bool = True) -> Objects:
    """Create, as ``user``, an experiment, run, artifact, logged model and registered model.

    Without ``full``, the run gets no metric or parameter and there is no logged model
    (what a write needs, in fewer requests).
    """
    name = f"{user}/{tag}"
    experiment_id = room.ok(user, "POST", "experiments/create", json={"name": name})[
        "experiment_id"
    ]
    now = int(time.time() * 1000)
    body = {"experiment_id": experiment_id, "start_time": now}
    info = room.ok(user, "POST", "runs/create", json=body)["run"]["info"]
    run_id, artifact_uri = info["run_id"], info["artifact_uri"]
    if full:
        metric = {"run_id": run_id, "key": "auc", "value": 0.8, "timestamp": now, "step": 0}
        room.ok(user, "POST", "runs/log-metric", json=metric)
        param = {"run_id": run_id, "key": "alpha", "value": "1"}
        room.ok(user, "POST", "runs/log-parameter", json=param)
    notes = f"{room.base}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts"
    room.ok(user, "PUT", f"{notes}/notes.txt", data=f"{user}'s notes".encode())
    logged = ""
    if full:
        body = {"experiment_id": experiment_id, "name": "classifier", "source_run_id": run_id}
        logged = room.ok(user, "POST", "logged-models", json=body)["model"]["info"]["model_id"]
    model = f"{user}.{tag}"
    room.ok(user, "POST", "registered-models/create", json={"name": model})
    version = {"name": model, "source": f"{artifact_uri}/model", "run_id": run_id}
    room.ok(user, "POST", "model-versions/create", json=version)
    alias = {"name": model, "alias": "champion", "version": "1"}
    room.ok(user, "POST", "registered-models/alias", json=alias)
    return Objects(user, experiment_id, name, run_id, artifact_uri, model, logged)


@pytest.fixture(scope="module")
def class_env(require_postgres: None) -> Iterator[None]:
    """No MLflow settings of the caller's; the servers' logs in a folder of the module's."""
    store = Path(tempfile.mkdtemp(prefix="kit-classroom-security-store-"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_STORE_DIR", str(store))
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            patch.delenv(name, raising=False)
        yield
    shutil.rmtree(store, ignore_errors=True)


class _Server:
    """One mode's class server, started and stopped from a worker thread."""

    def __init__(self, private: bool) -> None:
        self.private = private
        # A folder PostgreSQL can reach when the tests run as root (not under pytest's tmp).
        self.folder = Path(tempfile.mkdtemp(prefix="kit-classroom-security-"))
        self.manager: AbstractContextManager[classroom.Classroom] | None = None
        self.room: Room | None = None

    def start(self) -> Room:
        self.manager = classroom.classroom_server(STUDENTS, self.folder, private=self.private)
        running = self.manager.__enter__()
        sessions = {user: _session(user, password) for user, password in running.passwords.items()}
        sessions[classroom.ADMIN] = _session(classroom.ADMIN, running.admin_password)
        self.room = Room(running, sessions, ana=None, bo=None)  # type: ignore[arg-type]
        self.room.ana = create_objects(self.room, "ana", "matrix")
        self.room.bo = create_objects(self.room, "bo", "matrix")
        return self.room

    def stop(self) -> None:
        try:
            if self.room is not None:
                for session in self.room.sessions.values():
                    session.close()
            if self.manager is not None:
                self.manager.__exit__(None, None, None)
                if self.room is not None:
                    running = self.room.classroom
                    assert not running.server.is_running() and not running.database.is_running()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def rooms(class_env: None) -> Iterator[dict[str, Room]]:
    """Both modes' servers for the whole module, started and stopped side by side."""
    started = {"shared": _Server(private=False), "private": _Server(private=True)}
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {mode: pool.submit(server.start) for mode, server in started.items()}
            running = {mode: future.result() for mode, future in futures.items()}
        yield running
    finally:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(_Server.stop, started.values()))


@pytest.fixture
def shared_room(rooms: dict[str, Room]) -> Room:
    return rooms["shared"]


@pytest.fixture
def private_room(rooms: dict[str, Room]) -> Room:
    return rooms["private"]


@pytest.fixture(params=["shared", "private"])
def room(request: pytest.FixtureRequest, rooms: dict[str, Room]) -> Room:
    """Each mode's server in turn."""
    return rooms[request.param]


# --- what the server holds -----------------------------------------------------------------


def snapshot(room: Room, target: Objects) -> dict[str, Any]:
    """Everything a write into ``target`` could change, read as the admin and from disk."""
    body = {"experiment_ids": [target.experiment_id], "run_view_type": "ALL", "max_results": 100}
    runs = room.read("runs/search", json=body)
    experiments = room.read("experiments/search", json={"max_results": 1000, "view_type": "ALL"})
    models = room.read("registered-models/search", params={"max_results": 1000})
    versions = room.read("model-versions/search", params={"max_results": 1000})
    logged = room.read("logged-models/search", json={"experiment_ids": [target.experiment_id]})
    folder = room.classroom.directory / classroom.ARTIFACTS_DIR / target.experiment_id
    files = sorted(
        (str(path.relative_to(folder)), path.read_bytes())
        for path in folder.rglob("*")
        if path.is_file()
    )
    return {
        "experiments (names, tags, lifecycle)": experiments,
        "runs of its experiment": runs,
        "registered models (descriptions, aliases)": models,
        "model versions": versions,
        "logged models of its experiment": logged,
        "artifact files of its experiment": files,
    }


# --- writes into another student's objects -------------------------------------------------


Request = tuple[str, str, dict[str, Any]]


def _artifacts(room: Room, target: Objects, kind: str = "artifacts") -> str:
    return (
        f"{room.base}/api/2.0/mlflow-artifacts/{kind}/{target.experiment_id}/{target.run_id}"
        "/artifacts"
    )


def _now() -> int:
    return int(time.time() * 1000)


#: name -> (request that writes into ``target``, built with the writer's own objects
#: ``mine``; status when the writer owns ``target``). MLflow answers 501 to a multipart
#: upload on a local artifact store: past the permission check, so not a refusal.
WRITES: dict[str, tuple[Callable[[Room, Objects, Objects], Request], int]] = {
    "experiment: log a run in it": (
        lambda room, target, mine: ("POST", "runs/create",
                                    {"json": {"experiment_id": target.experiment_id}}), 200),
    "experiment: rename it": (
        lambda room, target, mine: ("POST", "experiments/update",
                                    {"json": {"experiment_id": target.experiment_id,
                                              "new_name": f"{mine.experiment_name}-renamed"}}),
        200),
    "experiment: delete it": (
        lambda room, target, mine: ("POST", "experiments/delete",
                                    {"json": {"experiment_id": target.experiment_id}}), 200),
    "experiment: set a tag": (
        lambda room, target, mine: ("POST", "experiments/set-experiment-tag",
                                    {"json": {"experiment_id": target.experiment_id,
                                              "key": "owner", "value": mine.user}}), 200),
    "run: update it": (
        lambda room, target, mine: ("POST", "runs/update",
                                    {"json": {"run_id": target.run_id, "status": "FAILED",
                                              "end_time": _now()}}), 200),
    "run: delete it": (
        lambda room, target, mine: ("POST", "runs/delete", {"json": {"run_id": target.run_id}}),
        200),
    "run: log a metric to it": (
        lambda room, target, mine: ("POST", "runs/log-metric",
                                    {"json": {"run_id": target.run_id, "key": "auc",
                                              "value": 0.0, "timestamp": _now(), "step": 1}}),
        200),
    "run: log a batch to it": (
        lambda room, target, mine: ("POST", "runs/log-batch",
                                    {"json": {"run_id": target.run_id,
                                              "params": [{"key": "beta", "value": "2"}],
                                              "tags": [{"key": "t", "value": "x"}]}}), 200),
    "registered model: rename it": (
        lambda room, target, mine: ("POST", "registered-models/rename",
                                    {"json": {"name": target.model,
                                              "new_name": f"{mine.model}-renamed"}}), 200),
    "registered model: delete it": (
        lambda room, target, mine: ("DELETE", "registered-models/delete",
                                    {"json": {"name": target.model}}), 200),
    "registered model: create a version under it": (
        lambda room, target, mine: ("POST", "model-versions/create",
                                    {"json": {"name": target.model,
                                              "source": f"{mine.artifact_uri}/model",
                                              "run_id": mine.run_id}}), 200),
    "registered model: update its description": (
        lambda room, target, mine: ("PATCH", "registered-models/update",
                                    {"json": {"name": target.model,
                                              "description": f"changed by {mine.user}"}}), 200),
    "model version: update its description": (
        lambda room, target, mine: ("PATCH", "model-versions/update",
                                    {"json": {"name": target.model, "version": "1",
                                              "description": f"changed by {mine.user}"}}), 200),
    "alias: set one on it": (
        lambda room, target, mine: ("POST", "registered-models/alias",
                                    {"json": {"name": target.model, "alias": "challenger",
                                              "version": "1"}}), 200),
    "alias: delete its champion": (
        lambda room, target, mine: ("DELETE", "registered-models/alias",
                                    {"json": {"name": target.model, "alias": "champion"}}), 200),
    "artifact: upload into its run (PUT)": (
        lambda room, target, mine: ("PUT", f"{_artifacts(room, target)}/intruder.txt",
                                    {"data": b"not yours"}), 200),
    "artifact: overwrite a file of its run (PUT)": (
        lambda room, target, mine: ("PUT", f"{_artifacts(room, target)}/notes.txt",
                                    {"data": b"overwritten"}), 200),
    "artifact: multipart upload create": (
        lambda room, target, mine: ("POST", f"{_artifacts(room, target, 'mpu/create')}/big.bin",
                                    {"json": {"path": "big.bin", "num_parts": 1}}), 501),
    "artifact: multipart upload complete": (
        lambda room, target, mine: ("POST",
                                    f"{_artifacts(room, target, 'mpu/complete')}/big.bin",
                                    {"json": {"path": "big.bin", "upload_id": "u1",
                                              "parts": [{"part_number": 1, "etag": "e"}]}}),
        501),
    "artifact: multipart upload abort": (
        lambda room, target, mine: ("POST", f"{_artifacts(room, target, 'mpu/abort')}/big.bin",
                                    {"json": {"path": "big.bin", "upload_id": "u1"}}), 501),
}  # fmt: skip


@pytest.mark.parametrize("case", list(WRITES))
def test_a_write_into_another_students_objects_is_refused(room: Room, case: str) -> None:
    build, _ = WRITES[case]
    before = snapshot(room, room.ana)
    method, path, kwargs = build(room, room.ana, room.bo)
    answer = room.call("bo", method, path, **kwargs)
    assert (answer.status_code, answer.text) == (403, "Permission denied"), case
    assert snapshot(room, room.ana) == before, f"{case}: the server changed"


@pytest.mark.parametrize("case", list(WRITES))
def test_the_same_write_into_ones_own_objects_goes_through(room: Room, case: str) -> None:
    build, status = WRITES[case]
    own = create_objects(room, "bo", f"own-{uuid.uuid4().hex[:8]}", full=False)
    before = snapshot(room, own)
    method, path, kwargs = build(room, own, own)
    answer = room.call("bo", method, path, **kwargs)
    assert answer.status_code == status, (case, answer.status_code, answer.text[:300])
    if status == 200:
        assert snapshot(room, own) != before, f"{case}: nothing changed"
    else:
        assert "Multipart upload is not supported" in answer.text


# --- reads of another student's objects ----------------------------------------------------


def _ids(answer: dict, key: str, field: str) -> set[str]:
    return {str(item.get("info", item).get(field)) for item in answer.get(key, [])}


#: name -> (request that reads ``target``; whether the answer shows ``target``'s data;
#: status when the reader may not read it: 403, or 200 for a search that filters).
READS: dict[str, tuple[Callable[[Room, Objects], Request], Callable[[dict, Objects], bool],
                       int]] = {
    "experiment: get by id": (
        lambda room, t: ("GET", "experiments/get", {"params": {"experiment_id": t.experiment_id}}),
        lambda answer, t: answer["experiment"]["name"] == t.experiment_name, 403),
    "experiment: get by name": (
        lambda room, t: ("GET", "experiments/get-by-name",
                         {"params": {"experiment_name": t.experiment_name}}),
        lambda answer, t: answer["experiment"]["experiment_id"] == t.experiment_id, 403),
    "experiments: search": (
        lambda room, t: ("POST", "experiments/search", {"json": {"max_results": 1000}}),
        lambda answer, t: t.experiment_id in _ids(answer, "experiments", "experiment_id"), 200),
    "runs: search its experiment": (
        lambda room, t: ("POST", "runs/search", {"json": {"experiment_ids": [t.experiment_id]}}),
        lambda answer, t: t.run_id in _ids(answer, "runs", "run_id"), 200),
    "run: get": (
        lambda room, t: ("GET", "runs/get", {"params": {"run_id": t.run_id}}),
        lambda answer, t: answer["run"]["data"]["params"] == [{"key": "alpha", "value": "1"}],
        403),
    "run: metric history": (
        lambda room, t: ("GET", "metrics/get-history",
                         {"params": {"run_id": t.run_id, "metric_key": "auc"}}),
        lambda answer, t: [m["value"] for m in answer["metrics"]] == [0.8], 403),
    "artifact: download": (
        lambda room, t: ("GET", f"{_artifacts(room, t)}/notes.txt", {}),
        lambda answer, t: answer["text"] == f"{t.user}'s notes", 403),
    "registered models: search": (
        lambda room, t: ("GET", "registered-models/search", {"params": {"max_results": 1000}}),
        lambda answer, t: t.model in {m["name"] for m in answer.get("registered_models", [])},
        200),
    "registered models: search by its name": (
        lambda room, t: ("GET", "registered-models/search",
                         {"params": {"filter": f"name = '{t.model}'"}}),
        lambda answer, t: t.model in {m["name"] for m in answer.get("registered_models", [])},
        200),
    "registered model: get": (
        lambda room, t: ("GET", "registered-models/get", {"params": {"name": t.model}}),
        lambda answer, t: answer["registered_model"]["name"] == t.model, 403),
    "model versions: search": (
        lambda room, t: ("GET", "model-versions/search", {"params": {"max_results": 1000}}),
        lambda answer, t: t.model in {v["name"] for v in answer.get("model_versions", [])}, 200),
    "model versions: search by its run": (
        lambda room, t: ("GET", "model-versions/search",
                         {"params": {"filter": f"run_id = '{t.run_id}'"}}),
        lambda answer, t: t.model in {v["name"] for v in answer.get("model_versions", [])}, 200),
    "model version: get by alias": (
        lambda room, t: ("GET", "registered-models/alias",
                         {"params": {"name": t.model, "alias": "champion"}}),
        lambda answer, t: answer["model_version"]["run_id"] == t.run_id, 403),
    "logged models: search its experiment": (
        lambda room, t: ("POST", "logged-models/search",
                         {"json": {"experiment_ids": [t.experiment_id]}}),
        lambda answer, t: t.logged_model_id in _ids(answer, "models", "model_id"), 200),
    "logged model: get": (
        lambda room, t: ("GET", f"logged-models/{t.logged_model_id}", {}),
        lambda answer, t: answer["model"]["info"]["model_id"] == t.logged_model_id, 403),
}  # fmt: skip


def _read(room: Room, reader: str, case: str, target: Objects) -> tuple[int, bool, str]:
    build, shows, _ = READS[case]
    method, path, kwargs = build(room, target)
    answer = room.call(reader, method, path, **kwargs)
    if answer.status_code != 200:
        return answer.status_code, False, answer.text
    content = {"text": answer.text} if "mlflow-artifacts" in path else answer.json()
    return 200, shows(content, target), answer.text


@pytest.mark.parametrize("case", list(READS))
def test_in_private_mode_a_student_cannot_read_anothers_work(private_room: Room, case: str) -> None:
    refused = READS[case][2]
    status, shown, text = _read(private_room, "bo", case, private_room.ana)
    assert status == refused, (case, status, text[:300])
    assert not shown, f"{case}: ana's data came back"
    if refused == 403:
        assert text == "Permission denied"


@pytest.mark.parametrize("reader", ["owner", "admin"])
@pytest.mark.parametrize("case", list(READS))
def test_in_private_mode_the_owner_and_the_admin_read_it(
    private_room: Room, case: str, reader: str
) -> None:
    user = "ana" if reader == "owner" else classroom.ADMIN
    status, shown, text = _read(private_room, user, case, private_room.ana)
    assert (status, shown) == (200, True), (case, status, text[:300])


@pytest.mark.parametrize("case", list(READS))
def test_in_shared_mode_a_student_reads_anothers_work(shared_room: Room, case: str) -> None:
    status, shown, text = _read(shared_room, "bo", case, shared_room.ana)
    assert (status, shown) == (200, True), (case, status, text[:300])


def test_in_private_mode_searches_still_find_ones_own_work(private_room: Room) -> None:
    """A search across the class returns the caller's objects and no one else's."""
    found = private_room.ok("bo", "POST", "experiments/search", json={"max_results": 1000})
    names = {e["name"] for e in found["experiments"]}
    assert private_room.bo.experiment_name in names
    assert not any(name.startswith("ana/") for name in names)
    models = private_room.ok("bo", "GET", "registered-models/search", params={"max_results": 1000})
    assert {m["name"].split(".")[0] for m in models["registered_models"]} == {"bo"}
    body = {"experiment_ids": [private_room.ana.experiment_id, private_room.bo.experiment_id]}
    runs = private_room.ok("bo", "POST", "runs/search", json=body)["runs"]
    assert {run["info"]["experiment_id"] for run in runs} == {private_room.bo.experiment_id}


# --- who may talk to the server at all -----------------------------------------------------


def _experiment_exists(room: Room, name: str) -> bool:
    answer = room.call(
        classroom.ADMIN, "GET", "experiments/get-by-name", params={"experiment_name": name}
    )
    assert answer.status_code in (200, 404), answer.text
    return answer.status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [None, ("ana", "not-the-password-at-all"), ("nobody", "not-the-password-at-all")],
    ids=["anonymous", "wrong password", "unknown user"],
)
def test_requests_without_valid_credentials_get_401(
    room: Room, credentials: tuple[str, str] | None
) -> None:
    read = requests.get(
        f"{room.api}/experiments/get",
        params={"experiment_id": room.ana.experiment_id},
        auth=credentials,
        timeout=60,
    )
    name = f"ana/intruder-{uuid.uuid4().hex[:8]}"
    write = requests.post(
        f"{room.api}/experiments/create", json={"name": name}, auth=credentials, timeout=60
    )
    for answer in (read, write):
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="mlflow"'
        assert "ana/" not in answer.text
    assert not _experiment_exists(room, name)


def _with_host(room: Room, host: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request whose Host header says ``host`` (what a browser sends after DNS rebinding)."""
    auth = ("ana", room.classroom.passwords["ana"])
    url = f"{room.api}/{path}"
    return requests.request(method, url, headers={"Host": host}, auth=auth, timeout=60, **kwargs)


DISALLOWED_HOSTS = ["evil.example", "evil.example:{port}", "192.168.1.10:{port}", "10.0.0.5"]
ALLOWED_HOSTS = ["localhost:{port}", "127.0.0.1:{port}", "localhost", "[::1]:{port}"]


@pytest.mark.parametrize("host", DISALLOWED_HOSTS)
def test_a_host_header_not_allowed_is_refused(room: Room, host: str) -> None:
    host = host.format(port=room.classroom.server.port)
    read = _with_host(room, host, "GET", "experiments/get",
                      params={"experiment_id": room.ana.experiment_id})  # fmt: skip
    name = f"ana/rebound-{uuid.uuid4().hex[:8]}"
    write = _with_host(room, host, "POST", "experiments/create", json={"name": name})
    for answer in (read, write):
        assert answer.status_code == 403 and INVALID_HOST in answer.text, answer.text
    assert not _experiment_exists(room, name)


@pytest.mark.parametrize("host", ALLOWED_HOSTS)
def test_this_machines_host_names_are_allowed(shared_room: Room, host: str) -> None:
    host = host.format(port=shared_room.classroom.server.port)
    answer = _with_host(shared_room, host, "GET", "experiments/get",
                        params={"experiment_id": shared_room.ana.experiment_id})  # fmt: skip
    assert answer.status_code == 200, answer.text


def _server_processes(room: Room) -> list[psutil.Process]:
    group = room.classroom.server.pid
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == group:
                found.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def test_the_server_runs_with_explicit_hosts_and_without_jobs(room: Room) -> None:
    processes = _server_processes(room)
    leader = next(p for p in processes if p.pid == room.classroom.server.pid)
    command = leader.cmdline()
    hosts = command[command.index("--allowed-hosts") + 1].split(",")
    port = room.classroom.server.port
    assert hosts == list(room.classroom.allowed_hosts)
    assert {"localhost", f"localhost:{port}", "127.0.0.1", f"127.0.0.1:{port}"} <= set(hosts)
    assert not any("*" in host for host in hosts)
    # No job runner next to the web server, and the job API says so.
    assert leader.environ()["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    every = " ".join(" ".join(p.cmdline()) for p in processes)
    assert "huey" not in every and "mlflow.server.jobs" not in every, every
    job = {"job_name": "optimize_prompts", "params": {}}
    for user in ("bo", classroom.ADMIN):
        answer = room.call(user, "POST", f"{room.base}/ajax-api/3.0/jobs/", json=job)
        assert answer.status_code >= 400 and "job execution feature is not enabled" in answer.text


def test_the_auth_config_matches_the_mode(room: Room) -> None:
    text = (room.classroom.directory / classroom.AUTH_CONFIG_FILE).read_text()
    expected = "NO_PERMISSIONS" if room.classroom.private else "READ"
    assert f"default_permission = {expected}\n" in text
