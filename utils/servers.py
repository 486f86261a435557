"""Start and stop real servers from a notebook: an MLflow tracking server, a model server.

Each helper is a context manager. It starts the server as its own process group on a free
port, waits until the server answers its health check, and on leaving the ``with`` block
stops the whole group, so that no worker or child process is left behind. When a server
does not come up, the error shows the end of its log. Introduced in notebook 08.

Example:
    >>> with tracking_server() as server:          # doctest: +SKIP
    ...     mlflow.set_tracking_uri(server.url)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from utils import paths
from utils.i18n import _

HOST = "127.0.0.1"
MLFLOW_CLI = [sys.executable, "-m", "mlflow"]

# Fast start on a small machine: one worker, no background job runner (MLFLOW3_NOTES).
FAST_SERVER_ENV: dict[str, str] = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


# ``mlflow server`` and ``mlflow models serve`` start uvicorn as a second Python process
# and then only wait for it, keeping a whole MLflow import (about 250 MiB) in memory to do
# so, while the second process imports MLflow again (seconds of CPU). This launcher runs
# the same MLflow command, but where MLflow would start uvicorn and wait, it runs uvicorn
# in its own process: the same server, with the same options and environment, one process
# and one import of MLflow instead of two. With several workers it replaces itself with
# uvicorn instead (``exec``, as a shell's ``exec`` does), so that uvicorn's supervisor stays
# a small process beside the workers rather than one holding all of MLflow. ``mlflow
# server`` keeps its waiting process when its background job runner is on, since that
# process runs the jobs; ``mlflow models serve`` keeps it unless the model runs in the
# current environment (``--env-manager local``, as :func:`model_server` asks).
EXEC_LAUNCHER = """\
import os
import shlex
import sys


def run_in_place(command, env):
    command = [str(part) for part in command]
    if command[:2] == ["bash", "-c"] and command[2].startswith("exec "):
        command = shlex.split(command[2])[1:]
    one_worker = "--workers" not in command or command[command.index("--workers") + 1] == "1"
    uvicorn = command[:1] == ["uvicorn"] or command[:3] == [sys.executable, "-m", "uvicorn"]
    if uvicorn and one_worker:
        os.environ.clear()
        os.environ.update(env)
        from uvicorn.main import main

        main.main(args=command[1 if command[0] == "uvicorn" else 3 :], prog_name="uvicorn")
    os.execvpe(command[0], command, env)


def exec_cmd(cmd, *, extra_env=None, env=None, **_):
    run_in_place(cmd, {**(env or os.environ), **(extra_env or {})})


class InPlacePopen:
    def __init__(self, args, env=None, **_):
        run_in_place(args, env or dict(os.environ))


def option(name):
    return args[args.index(name) + 1] if name in args[:-1] else None


args = sys.argv[1:]
if args[:1] == ["server"]:
    from mlflow.environment_variables import MLFLOW_SERVER_ENABLE_JOB_EXECUTION

    if not MLFLOW_SERVER_ENABLE_JOB_EXECUTION.get():
        import mlflow.server

        mlflow.server._exec_cmd = exec_cmd
elif args[:2] == ["models", "serve"] and option("--env-manager") == "local":
    import subprocess
    import types

    import mlflow.pyfunc.backend as backend

    backend.subprocess = types.SimpleNamespace(**{**vars(subprocess), "Popen": InPlacePopen})

from mlflow.cli import cli

cli(args, prog_name="mlflow")
"""
#: Runs ``mlflow <args>`` like :data:`MLFLOW_CLI`, with the server inside the launcher's process.
MLFLOW_SERVER_CLI = [sys.executable, "-c", EXEC_LAUNCHER]


class ServerError(RuntimeError):
    """A server did not start, or stopped unexpectedly; the message holds its log."""


@dataclass(frozen=True)
class Server:
    """A running server started by one of the context managers below.

    Attributes:
        name: A short label, e.g. ``"mlflow-server"``.
        url: The base URL, e.g. ``"http://127.0.0.1:5123"``.
        port: The TCP port it listens on.
        pid: The process id of its main process (also its process-group id).
        log_path: The file that receives its standard output and error.
    """

    name: str
    url: str
    port: int
    pid: int
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        """Return the last ``lines`` lines of the server's log."""
        return log_tail(self.log_path, lines)

    def is_running(self) -> bool:
        """Tell whether any process of the server's process group is still running."""
        return _group_alive(self.pid)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a log file (empty if it does not exist)."""
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def kit_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for a server: this one, ``extra``, and the kit's ``bin`` first.

    Servers start helper programs by name (``mlflow models serve`` runs ``uvicorn``), so
    the folder of this Python goes first on ``PATH``, as activating ``.venv`` would do.
    """
    environment = {**os.environ, **(extra or {})}
    bin_dir = str(Path(sys.executable).parent)
    environment["PATH"] = os.pathsep.join([bin_dir, environment.get("PATH", "")])
    return environment


def logs_dir() -> Path:
    """Return the folder that keeps the servers' logs (inside the kit's store)."""
    path = paths.store_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """Tell whether ``url`` answers HTTP 200 within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def stop_process_group(
    process: subprocess.Popen,
    timeout: float = 10.0,
    stop_signal: int = signal.SIGTERM,
) -> None:
    """Stop a process started with ``start_new_session=True`` and all its children.

    Sends ``stop_signal`` to the whole process group, waits up to ``timeout`` seconds for
    every member to exit, then sends SIGKILL to whatever is left.

    Args:
        process: The group leader.
        timeout: Seconds to wait after ``stop_signal``.
        stop_signal: The polite signal, SIGTERM unless the server wants another one
            (PostgreSQL shuts down fast and cleanly on SIGINT).
    """
    pgid = process.pid
    for sig in (stop_signal, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        if _wait_for_group_exit(process, pgid, timeout):
            break
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_group_exit(process: subprocess.Popen, pgid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for group ``pgid`` to end; tell whether it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()  # reaps the leader, so it does not linger as a zombie
        if not _group_alive(pgid):
            return True
        time.sleep(0.05)
    return False


def _group_alive(pgid: int) -> bool:
    """Tell whether any process of group ``pgid`` is still running (zombies excluded)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        import psutil
    except ImportError:
        return True
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.info["pid"]) == pgid and proc.info["status"] != "zombie":
                return True
        except (ProcessLookupError, psutil.Error, OSError):
            continue
    return False


@contextmanager
def managed_process(
    name: str,
    command: Sequence[str],
    port: int,
    health_path: str = "/health",
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    cwd: Path | None = None,
    ready: Callable[[], bool] | None = None,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[Server]:
    """Run ``command`` as a server until the ``with`` block ends.

    Args:
        name: A short label used in messages and the log's file name.
        command: The command line that starts the server.
        port: The port the server listens on (on 127.0.0.1).
        health_path: A path that answers HTTP 200 once the server is ready.
        env: Extra environment variables for the server.
        timeout: Seconds to wait for the health check before giving up.
        cwd: The server's working directory.
        ready: A check that returns True once the server is ready, for servers that do
            not speak HTTP; it replaces the HTTP health check.
        user: Run the server as this system user (only when the kit runs as root).
        stop_signal: The signal that asks the server to stop (SIGKILL follows if needed).

    Yields:
        The running :class:`Server`.

    Raises:
        ServerError: The server exited or did not become healthy in time; the message
            holds the end of its log.
    """
    log_path = logs_dir() / f"{name}-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=kit_environment(env),
            cwd=cwd,
            start_new_session=True,
            **_run_as(user),
        )
    server = Server(name, f"http://{HOST}:{port}", port, process.pid, log_path)
    try:
        url = server.url + health_path
        _wait_until_ready(server, process, ready or (lambda: is_healthy(url)), url, timeout)
        yield server
    finally:
        stop_process_group(process, stop_signal=stop_signal)


def _wait_until_ready(
    server: Server,
    process: subprocess.Popen,
    ready: Callable[[], bool],
    what: str,
    timeout: float,
) -> None:
    """Poll ``ready`` until it holds, the process exits, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                _(
                    "{name} exited with code {code} before it was ready.\n"
                    "Its log ({log}) ends with:\n{tail}"
                ).format(
                    name=server.name,
                    code=process.returncode,
                    log=server.log_path,
                    tail=server.log_tail(),
                )
            )
        if ready():
            return
        # A refused connection costs next to nothing; a long pause would add to every start.
        time.sleep(0.05)
    raise ServerError(
        _(
            "{name} did not answer {what} within {seconds} s.\nIts log ({log}) ends with:\n{tail}"
        ).format(
            name=server.name,
            what=what,
            seconds=f"{timeout:.0f}",
            log=server.log_path,
            tail=server.log_tail(),
        )
    )


@contextmanager
def tracking_server(
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Server]:
    """Run ``mlflow server`` with one worker until the ``with`` block ends.

    Args:
        backend_store_uri: Where runs and models are recorded; defaults to a fresh
            SQLite database in the kit's store (``server.db``).
        artifacts_destination: Where the server keeps artifacts it proxies; defaults to
            ``<store>/server-artifacts``.
        port: The port; a free one when omitted.
        extra_args: More ``mlflow server`` options, e.g. ``["--app-name", "basic-auth"]``.
        env: Extra environment variables for the server.
        timeout: Seconds to wait for ``/health``.

    Yields:
        The running :class:`Server`; point MLflow at ``server.url``.
    """
    port = port or free_port()
    store = paths.store_dir()
    backend_store_uri = backend_store_uri or f"sqlite:///{store / 'server.db'}"
    artifacts_destination = artifacts_destination or str(store / "server-artifacts")
    command = [
        *MLFLOW_SERVER_CLI, "server",
        "--host", HOST,
        "--port", str(port),
        "--workers", "1",
        "--backend-store-uri", backend_store_uri,
        "--artifacts-destination", artifacts_destination,
        *extra_args,
    ]  # fmt: skip
    with managed_process(
        "mlflow-server",
        command,
        port,
        "/health",
        env={**FAST_SERVER_ENV, **(env or {})},
        timeout=timeout,
    ) as server:
        yield server


@contextmanager
def model_server(
    model_uri: str,
    port: int | None = None,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Server]:
    """Serve an MLflow model over REST (``mlflow models serve``) until the block ends.

    The model runs in the kit's own environment (``--env-manager local``), so nothing
    is downloaded.

    Args:
        model_uri: The model, e.g. ``"models:/churn@champion"`` or ``"runs:/<id>/model"``.
        port: The port; a free one when omitted.
        workers: How many worker processes answer requests.
        env: Extra environment variables; ``MLFLOW_TRACKING_URI`` is passed on so that
            ``models:/`` URIs resolve against the same registry as the notebook.
        timeout: Seconds to wait for ``/ping``.

    Yields:
        The running :class:`Server`; send requests to ``server.url + "/invocations"``.
    """
    port = port or free_port()
    command = [
        *MLFLOW_SERVER_CLI, "models", "serve",
        "--model-uri", model_uri,
        "--host", HOST,
        "--port", str(port),
        "--workers", str(workers),
        "--env-manager", "local",
    ]  # fmt: skip
    server_env = {"MLFLOW_TRACKING_URI": paths.tracking_uri(), **FAST_SERVER_ENV, **(env or {})}
    with managed_process(
        "model-server",
        command,
        port,
        "/ping",
        env=server_env,
        timeout=timeout,
    ) as server:
        yield server


class PostgresNotInstalled(ServerError):
    """PostgreSQL's server programs are not on this machine."""


def postgres_bin_dir() -> Path:
    """Return the folder holding PostgreSQL's ``initdb`` and ``postgres`` programs.

    Raises:
        PostgresNotInstalled: Neither is on the PATH nor in ``/usr/lib/postgresql``.
    """
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if candidates:
        return candidates[-1].parent
    raise PostgresNotInstalled(
        _(
            "PostgreSQL's server programs (initdb, postgres) are not installed. Install them "
            "(Debian/Ubuntu: `sudo apt-get install postgresql`; macOS: `brew install "
            "postgresql@15`) and restart the kernel, or use SQLite, which needs no server."
        )
    )


def _run_as(user: str | None) -> dict[str, object]:
    """Return the ``subprocess`` options that run a program as ``user`` (root only).

    The program itself switches user, with no wrapper such as ``runuser`` in between:
    ``runuser`` waits two seconds after forwarding a stop signal, which made every stop
    two seconds slower.
    """
    if user is None or os.geteuid() != 0:
        return {}
    return {"user": user, "group": user, "extra_groups": []}


def _postgres_user() -> str | None:
    """PostgreSQL refuses to run as root: name the user to run it as, if needed."""
    return "postgres" if os.geteuid() == 0 else None


def _accepts_connections(uri: str) -> bool:
    """Tell whether PostgreSQL at ``uri`` accepts a connection."""
    import psycopg

    try:
        with psycopg.connect(uri, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def postgres_server(
    database: str = "mlflow",
    port: int | None = None,
    data_dir: Path | None = None,
) -> Iterator[Server]:
    """Run a PostgreSQL server until the block ends, throw-away or on a folder that persists.

    The server listens on 127.0.0.1 only and trusts local connections (no password).
    Without ``data_dir`` it lives in a temporary folder and is deleted with its data when
    the block ends. With ``data_dir`` the folder is initialised the first time, reused on
    every later call and never deleted, so the data outlives the block (a class server
    that runs for weeks, see :mod:`utils.classroom`). Introduced in notebook 08.

    Args:
        database: The database to create for MLflow (kept when it already exists).
        port: The port; a free one when omitted.
        data_dir: A folder that keeps the data between calls; created if needed. As
            root, PostgreSQL runs as the ``postgres`` user, which must be able to reach it.

    Yields:
        The running :class:`Server`; its ``url`` is a SQLAlchemy URI for MLflow, e.g.
        ``postgresql+psycopg://postgres@127.0.0.1:5433/mlflow``.

    Raises:
        PostgresNotInstalled: PostgreSQL's server programs are missing.
        ServerError: The server did not start; the message holds its log.
    """
    bin_dir = postgres_bin_dir()
    port = port or free_port()
    keep = data_dir is not None
    if data_dir is None:
        data = Path(tempfile.mkdtemp(prefix="kit-postgres-"))
    else:
        data = Path(data_dir).expanduser().resolve()
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Data that must last is written safely; a throw-away database skips the disk syncs.
    no_sync = [] if keep else ["--no-sync"]
    fsync_off = [] if keep else ["-c", "fsync=off"]
    try:
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        if not (data / "db" / "PG_VERSION").exists():
            init_log = logs_dir() / f"postgres-initdb-{port}.log"
            with open(init_log, "wb") as log:
                done = subprocess.run(
                    [str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", *no_sync],
                    stdout=log, stderr=subprocess.STDOUT, check=False,
                    **_run_as(_postgres_user()),
                )  # fmt: skip
            if done.returncode != 0:
                hint = ""
                if keep and os.geteuid() == 0:
                    hint = (
                        "\nPostgreSQL runs as the user postgres here: every folder above "
                        f"{data} must let that user through (chmod o+x), or choose another."
                    )
                raise ServerError(f"initdb failed; its log ends with:\n{log_tail(init_log)}{hint}")
        admin_uri = f"postgresql://postgres@{HOST}:{port}/postgres"
        command = [
            str(bin_dir / "postgres"), "-D", str(data / "db"), "-p", str(port),
            "-h", HOST, "-k", str(data), *fsync_off,
        ]  # fmt: skip
        with managed_process(
            "postgres",
            command,
            port,
            ready=lambda: _accepts_connections(admin_uri),
            user=_postgres_user(),
            # SIGINT is PostgreSQL's "fast shutdown": it ends open sessions (whose
            # processes live in their own groups) and stops cleanly. SIGTERM would wait
            # for every client to disconnect.
            stop_signal=signal.SIGINT,
        ) as server:
            import psycopg

            with psycopg.connect(admin_uri, autocommit=True) as connection:
                exists = connection.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
                ).fetchone()
                if not exists:
                    connection.execute(f'CREATE DATABASE "{database}"')
            yield Server(
                "postgres",
                f"postgresql+psycopg://postgres@{HOST}:{port}/{database}",
                port,
                server.pid,
                server.log_path,
            )
    finally:
        if not keep:
            shutil.rmtree(data, ignore_errors=True)
