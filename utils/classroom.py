"""One shared MLflow tracking server for a whole class: ``python -m utils.classroom start``.

An instructor runs it on one machine for the length of a course. It starts:

- PostgreSQL (:func:`utils.servers.postgres_server`) on a folder that persists, holding
  both the runs and the user accounts;
- ``mlflow server --app-name basic-auth``: MLflow's basic authentication, with proxied
  artifacts in a folder next to the database;
- one account per student from a roster file, with generated passwords written to a
  credentials file that only the instructor can read.

Permissions come from MLflow's auth configuration (``MLFLOW_AUTH_CONFIG_PATH``), in one
of two modes; MLflow gives the creator of an experiment or registered model ``MANAGE``
on it, so in both each student writes only their own experiments (``<user>/<notebook>``,
see :func:`utils.notebook.experiment_name_for`) and models (``<user>.<model>``):

- shared (the default): ``default_permission = READ``, every student reads the whole
  class's experiments, runs, artifacts and models;
- private (``--private``, ``classroom_server(..., private=True)``):
  ``default_permission = NO_PERMISSIONS``, a student sees only their own work. Getting
  another's experiment, run, model or artifact answers 403, and searches (experiments,
  runs, registered models, model versions, logged models) leave it out. The admin
  reads everything.

Hardening, in both modes:

- the server accepts only the Host headers of :func:`allowed_hosts_for` (this machine's
  names, the address it listens on or tells students to use, and the names given with
  ``--allowed-hosts``, each with and without the port), and answers 403 to any other,
  private network addresses included (DNS rebinding);
- MLflow's job runner is off (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``): no process
  runs jobs on the server on a user's behalf;
- at start, :func:`version_warning` compares the installed MLflow with
  :data:`KNOWN_ISSUES`, the basic-auth and host-validation issues this kit knows of,
  and prints a warning for each one the installed release still has.

``tests/test_classroom_security.py`` checks all of it against a real server, in both
modes: requests without valid credentials (401), a disallowed Host header (403),
another student's experiment (log a run in it, rename, delete, tag), run (update,
delete, log to it), registered model (rename, delete, add a version, change a
description), aliases (set, delete) and artifacts (upload, multipart upload) are
refused (403) and leave the server unchanged, while the same requests on one's own
objects go through; in private mode reads and searches of another's work return
nothing of it; in shared mode they do. MLflow 3.17.2 refuses every one of those cases
on its own, so the kit adds no authorization code of its own and ``KNOWN_ISSUES`` is
empty; a case that a later MLflow lets through goes into that table.
Not used by a lesson: lesson 08 explains the tracking server it runs.

Example:
    >>> with classroom_server("roster.txt", "~/class-mlflow") as room:  # doctest: +SKIP
    ...     print(room.url, sorted(room.passwords))
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from utils import servers

#: The instructor's account; a roster may not use this name.
ADMIN = "admin"
#: What a user name may hold: lowercase letters, digits, dots and dashes.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
#: Files and folders inside the class folder.
CREDENTIALS_FILE = "credentials.csv"
AUTH_CONFIG_FILE = "basic_auth.ini"
DATABASE_DIR = "postgres"
ARTIFACTS_DIR = "artifacts"
#: The PostgreSQL databases of the runs and of the accounts.
TRACKING_DATABASE = "mlflow"
AUTH_DATABASE = "mlflow_auth"
#: The default address: this machine only. ``0.0.0.0`` opens it to the network.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
#: Seconds a checked password is remembered (see ``auth_cache_ttl_seconds`` below).
AUTH_CACHE_SECONDS = 300
#: MLflow's default permission on what a student did not create, in each mode.
SHARED_PERMISSION = "READ"
PRIVATE_PERMISSION = "NO_PERMISSIONS"
#: Host names every class server accepts (with and without its port): this machine.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
#: The server's environment: no background job runner on a class server (jobs run code
#: on the server on a user's behalf; none of the course needs them), no telemetry.
SERVER_ENV: dict[str, str] = {
    **servers.FAST_SERVER_ENV,
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
_CREDENTIALS_HEADER = ["username", "password"]


class RosterError(ValueError):
    """The roster file is missing or holds a line that is not a valid user name."""


class ClassroomError(RuntimeError):
    """The class folder, its credentials or the server are not in a state to start."""


# --- roster ----------------------------------------------------------------------------


def name_problem(name: str) -> str | None:
    """Say what is wrong with a user name, or return None when it is valid.

    Args:
        name: A user name from a roster.

    Returns:
        A short explanation, or ``None``.
    """
    if not name:
        return "the name is empty"
    if name == ADMIN:
        return f"'{ADMIN}' is the instructor's account; choose another name"
    if NAME_PATTERN.fullmatch(name):
        return None
    if NAME_PATTERN.fullmatch(name.lower()):
        return f"use lowercase letters: '{name.lower()}'"
    if len(name) > 64:
        return "a name has at most 64 characters"
    if not name[0].isalnum():
        return "a name starts with a letter or a digit"
    bad = sorted({char for char in name if not re.fullmatch(r"[a-z0-9.-]", char.lower())})
    shown = ", ".join(repr(char) for char in bad)
    return f"only lowercase letters, digits, dots and dashes are allowed (found {shown})"


def check_names(names: Sequence[str], source: str = "the roster") -> list[str]:
    """Validate user names and return them; every problem is reported at once.

    Args:
        names: The names, in roster order.
        source: How to name where they came from in messages.

    Returns:
        The names, unchanged.

    Raises:
        RosterError: A name is invalid or repeated, or there is none; the message names
            each bad entry by its position.
    """
    return _check_numbered([(i, n) for i, n in enumerate(names, start=1)], source, "entry")


def read_roster(path: Path | str) -> list[str]:
    """Read student user names from a roster file.

    Two formats: plain text with one name per line (blank lines and lines starting with
    ``#`` are skipped), or CSV with a ``username`` column (other columns are ignored).
    A file ending in ``.csv``, or whose first line holds a comma, is read as CSV.

    Args:
        path: The roster file.

    Returns:
        The user names, in file order.

    Raises:
        RosterError: The file is missing, has no ``username`` column (CSV), or holds a
            name that is invalid or repeated; the message names each bad line.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise RosterError(
            f"roster file {path} not found: write one name per line (e.g. 'ana.garcia'), "
            "or a CSV file with a 'username' column"
        )
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if path.suffix.lower() == ".csv" or "," in first:
        reader = csv.DictReader(io.StringIO(text))
        columns = [c.strip() for c in reader.fieldnames or []]
        if "username" not in columns:
            raise RosterError(
                f"{path}: a CSV roster needs a 'username' column; its header is "
                f"{', '.join(repr(c) for c in columns) or 'empty'}"
            )
        reader.fieldnames = columns
        numbered = [
            (reader.line_num, (row.get("username") or "").strip())
            for row in reader
            if any((value or "").strip() for value in row.values() if isinstance(value, str))
        ]
    else:
        numbered = [
            (number, line.strip())
            for number, line in enumerate(lines, start=1)
            if line.strip() and not line.strip().startswith("#")
        ]
    return _check_numbered(numbered, str(path), "line")


def _check_numbered(numbered: list[tuple[int, str]], source: str, unit: str) -> list[str]:
    """Validate ``(position, name)`` pairs; raise one error that lists every problem."""
    problems, seen = [], {}
    for number, name in numbered:
        problem = name_problem(name)
        if problem:
            problems.append(f"  {unit} {number}: {name!r}: {problem}")
        elif name in seen:
            problems.append(f"  {unit} {number}: {name!r} repeats {unit} {seen[name]}")
        else:
            seen[name] = number
    if problems:
        plural = "s" if len(problems) > 1 else ""
        rule = "user names are lowercase letters, digits, dots and dashes"
        raise RosterError(
            f"{source} has {len(problems)} bad {unit}{plural} ({rule}):\n" + "\n".join(problems)
        )
    if not numbered:
        raise RosterError(f"{source} holds no user names: write one name per line")
    return [name for _, name in numbered]


# --- credentials -------------------------------------------------------------------------


def new_password() -> str:
    """Return a new random password (32 URL-safe characters; MLflow needs at least 12)."""
    return secrets.token_urlsafe(24)


def read_credentials(path: Path) -> dict[str, str]:
    """Read a credentials file written by :func:`write_credentials`.

    Args:
        path: The file.

    Returns:
        ``{username: password}``, the admin included.

    Raises:
        ClassroomError: The file is not a ``username,password`` CSV file.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or rows[0] != _CREDENTIALS_HEADER or any(len(row) != 2 for row in rows[1:]):
        raise ClassroomError(
            f"{path} is not a credentials file written by utils.classroom (a CSV file "
            "with the columns username,password); restore it from your backup"
        )
    return {user: password for user, password in rows[1:]}


def write_credentials(path: Path, entries: dict[str, str]) -> None:
    """Add accounts to the credentials file, creating it readable by its owner only.

    A new file is created with mode 0600 (never over an existing file). An existing file
    only gets new rows appended, never rewritten; its mode is tightened to 0600 if needed.

    Args:
        path: The file.
        entries: ``{username: password}`` to add.

    Raises:
        ClassroomError: A user in ``entries`` is already in the file.
    """
    rows = list(entries.items())
    if path.exists():
        taken = sorted(set(read_credentials(path)) & set(entries))
        if taken:
            names = ", ".join(taken)
            raise ClassroomError(f"{path} already holds a password for {names}; not overwritten")
        _tighten(path)
        flags, header = os.O_WRONLY | os.O_APPEND, []
    else:
        flags, header = os.O_WRONLY | os.O_CREAT | os.O_EXCL, [_CREDENTIALS_HEADER]
    descriptor = os.open(path, flags, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(header + [list(row) for row in rows])
        handle.flush()
        os.fsync(handle.fileno())


def _tighten(path: Path) -> None:
    """Make ``path`` readable by its owner only, saying so when it was not."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != 0o600:
        path.chmod(0o600)
        print(f"note: {path} was readable by others (mode {mode:o}); it is now 0600")


# --- known issues of the installed MLflow -----------------------------------------------------


@dataclass(frozen=True)
class KnownIssue:
    """A basic-auth or host-validation issue of MLflow that matters to a class server.

    Attributes:
        fixed_in: The first MLflow release without it; ``None`` while no release checked
            here fixes it.
        description: One line: what goes wrong, and whether the kit closes it.
    """

    fixed_in: str | None
    description: str


#: Issues seen on a real class server (``tests/test_classroom_security.py``): each is a
#: case of the security matrix that MLflow let through on its own, described as
#: ``"<what> (closed by the kit)"`` when the kit closes it. MLflow 3.17.2 let none
#: through, so the table is empty; :func:`version_warning` is tested with a fake one.
KNOWN_ISSUES: tuple[KnownIssue, ...] = ()
#: The newest MLflow release whose behaviour the table above was checked against.
CHECKED_MLFLOW = "3.17.2"


def installed_mlflow_version() -> str:
    """Return the installed MLflow's version, without importing MLflow."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlflow")
    except PackageNotFoundError:
        return version("mlflow-skinny")


def version_warning(
    installed: str | None = None, issues: Sequence[KnownIssue] | None = None
) -> str | None:
    """Return the warning printed at start when the installed MLflow has known issues.

    Args:
        installed: The MLflow version; the installed one when omitted.
        issues: The table to compare with; :data:`KNOWN_ISSUES` when omitted.

    Returns:
        The warning, one line per issue that affects ``installed``, or ``None``.
    """
    from packaging.version import InvalidVersion, Version

    installed = installed or installed_mlflow_version()
    issues = KNOWN_ISSUES if issues is None else issues
    try:
        current = Version(installed)
    except InvalidVersion:
        return f"warning: MLflow version {installed!r} is not a version the kit can compare"
    found = []
    for issue in issues:
        if issue.fixed_in is None:
            found.append(f"  - {issue.description} (no fix up to MLflow {CHECKED_MLFLOW})")
        elif current < Version(issue.fixed_in):
            found.append(f"  - {issue.description} (fixed in MLflow {issue.fixed_in})")
    if not found:
        return None
    return (
        f"warning: MLflow {installed} has known authentication or host-validation issues:\n"
        + "\n".join(found)
        + "\nUpgrade MLflow where a fix exists; the class server closes each issue marked "
        "'closed by the kit' itself."
    )


# --- the server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Classroom:
    """A running class server, yielded by :func:`classroom_server`.

    Attributes:
        url: The address students use (``http://<host>:<port>``).
        local_url: The address on this machine (``http://127.0.0.1:<port>``).
        directory: The class folder (database, artifacts, credentials).
        credentials_path: The credentials file (mode 0600).
        students: Every student in the roster.
        new_students: The students whose accounts this start created.
        server: The MLflow server.
        database: The PostgreSQL server.
        admin_password: The instructor's password (user ``admin``).
        passwords: ``{student: password}``.
        private: Whether students see only their own work (``--private``).
        allowed_hosts: The Host headers the server accepts (see :func:`allowed_hosts_for`).
    """

    url: str
    local_url: str
    directory: Path
    credentials_path: Path
    students: tuple[str, ...]
    new_students: tuple[str, ...]
    server: servers.Server
    database: servers.Server
    admin_password: str = field(repr=False)
    passwords: dict[str, str] = field(repr=False)
    private: bool = False
    allowed_hosts: tuple[str, ...] = ()

    def is_running(self) -> bool:
        """Tell whether both the MLflow server and PostgreSQL are still running."""
        return self.server.is_running() and self.database.is_running()


def auth_config(database_uri: str, private: bool = False) -> str:
    """Return the text of MLflow's basic-auth configuration for a class server.

    Args:
        database_uri: Where MLflow keeps the accounts and permissions.
        private: Students see only their own work (``NO_PERMISSIONS`` by default)
            instead of reading the whole class's (``READ``).

    Returns:
        The content of ``basic_auth.ini`` (no secret in it).
    """
    if private:
        mode = f"""\
# Private mode: a user has no permission on what they did not create, so students
# neither read nor write each other's experiments, runs and models. MLflow gives the
# creator of an experiment (or registered model) MANAGE on it.
default_permission = {PRIVATE_PERMISSION}"""
    else:
        mode = f"""\
# Every user may read every experiment and model. MLflow gives the creator of an
# experiment (or registered model) MANAGE on it, so students write only their own.
default_permission = {SHARED_PERMISSION}"""
    return f"""\
# Written by `python -m utils.classroom` at every start: edits here are overwritten.
# MLflow's basic-auth settings, read through MLFLOW_AUTH_CONFIG_PATH; every option is
# described in mlflow/server/auth/basic_auth.ini.
[mlflow]
{mode}
database_uri = {database_uri}
admin_username = {ADMIN}
# The admin password is not kept here: the server reads it from MLFLOW_AUTH_ADMIN_PASSWORD
# the first time it starts (it is in credentials.csv).
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# Checking a password costs about 0.2 s of CPU (scrypt), on every request. Remembering a
# checked password for a few minutes lets one server keep up with a whole class. With
# several workers, a changed password may still work on the others for that long.
auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}
"""


def _prepare_directory(directory: Path) -> Path:
    """Create the class folder (owner only); as root, let PostgreSQL's user pass through."""
    directory = directory.expanduser().resolve()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.geteuid() == 0:  # PostgreSQL runs as user postgres: it must reach postgres/
        directory.chmod(stat.S_IMODE(directory.stat().st_mode) | stat.S_IXOTH)
    return directory


def _check_state(directory: Path) -> dict[str, str]:
    """Return the passwords already on file, refusing a database whose admin is unknown.

    The credentials file is the source of truth: it is written before the database is
    created, and the server is then made to match it (a start that failed half-way is
    simply repeated). A database without the file cannot be used: its admin password
    is lost.
    """
    credentials = directory / CREDENTIALS_FILE
    has_database = (directory / DATABASE_DIR / "db" / "PG_VERSION").exists()
    if has_database and not credentials.exists():
        raise ClassroomError(
            f"{directory} holds a class database but no {CREDENTIALS_FILE}: the admin "
            "password was only there. Restore the file from your backup, or choose an empty "
            "folder to start a new class."
        )
    return read_credentials(credentials) if credentials.exists() else {}


def _check_port_free(host: str, port: int) -> None:
    """Raise a clear error when ``host:port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            raise ClassroomError(
                f"cannot listen on {host}:{port} ({error.strerror}); choose another port "
                "with --port, or another address with --host"
            ) from None


def _probe_host(host: str) -> str:
    """The address to check the server's health at, from this machine."""
    return {"0.0.0.0": servers.HOST, "::": "::1", "": servers.HOST}.get(host, host)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _host_form(name: str) -> str:
    """An IPv6 address in brackets, as it appears in a Host header; other names as they are."""
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def allowed_hosts_for(host: str, port: int, names: str | Sequence[str] | None = None) -> list[str]:
    """Return the Host headers the class server accepts (MLflow's ``--allowed-hosts``).

    MLflow compares the whole Host header a client sends (``name`` or ``name:port``) with
    this list, and answers 403 to any other. The list holds this machine's names
    (:data:`LOCAL_HOSTS`), the address the server listens on (or, for ``0.0.0.0``, the
    address students are told to use), and the names the instructor gives; each name
    without a port, and with the server's port.

    Args:
        host: The address the server listens on (``--host``).
        port: Its port.
        names: More host names students type in their URL (comma-separated, or a list),
            e.g. the machine's DNS name or a reverse proxy's; a name with a port
            (``name:443``) is kept as it is.

    Returns:
        The Host headers, without duplicates, in a stable order.
    """
    if isinstance(names, str):
        names = names.split(",")
    given = [name.strip().lower() for name in names or () if name.strip()]
    if "*" in given:
        raise ClassroomError(
            "--allowed-hosts '*' would accept any Host header; name the hosts students use"
        )
    candidates = list(LOCAL_HOSTS)
    if host in ("0.0.0.0", "::", ""):
        address = network_address()
        candidates += [address] if address else []
    else:
        candidates.append(host.lower())
    hosts: list[str] = []
    for name in [*candidates, *given]:
        has_port = re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]+):\d+", name) is not None
        forms = [name] if has_port else [_host_form(name), f"{_host_form(name)}:{port}"]
        hosts += [form for form in forms if form not in hosts]
    return hosts


def _create_database(database: servers.Server, name: str) -> str:
    """Create database ``name`` on ``database``'s server if needed; return its URI."""
    import psycopg

    admin_uri = f"postgresql://postgres@{servers.HOST}:{database.port}/postgres"
    with psycopg.connect(admin_uri, autocommit=True) as connection:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not connection.execute(query, (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    return database.url.rsplit("/", 1)[0] + f"/{name}"


def _ensure_accounts(url: str, admin_password: str, passwords: dict[str, str]) -> None:
    """Create the accounts that do not exist yet, as the admin, over MLflow's REST API.

    The same call as ``mlflow.server.get_app_client("basic-auth", url).create_user``,
    made with explicit credentials so the instructor's own MLflow settings do not matter.
    """
    import requests

    with requests.Session() as session:
        session.auth = (ADMIN, admin_password)
        answer = session.get(f"{url}/api/2.0/mlflow/users/get", params={"username": ADMIN})
        if answer.status_code == 401:
            raise ClassroomError(
                f"the admin password in {CREDENTIALS_FILE} does not match the server's admin "
                "account; restore the credentials file that belongs to this database"
            )
        answer.raise_for_status()
        for user, password in passwords.items():
            answer = session.post(
                f"{url}/api/2.0/mlflow/users/create",
                json={"username": user, "password": password},
                timeout=60,
            )
            if answer.status_code != 200 and "RESOURCE_ALREADY_EXISTS" not in answer.text:
                raise ClassroomError(
                    f"creating the account {user!r} failed: HTTP {answer.status_code} "
                    f"{answer.text[:300]}"
                )


@contextmanager
def classroom_server(
    roster: Path | str | Sequence[str],
    directory: Path | str,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    allowed_hosts: str | Sequence[str] | None = None,
    workers: int = 1,
    timeout: float = 240.0,
    private: bool = False,
) -> Iterator[Classroom]:
    """Run the class's tracking server until the ``with`` block ends.

    The first start in an empty folder initialises the database and writes
    ``credentials.csv`` (mode 0600) with the admin's and every student's password.
    Later starts reuse the database and the passwords, and add accounts only for names
    new to the roster (appended to the file). Nothing is ever deleted.

    Args:
        roster: A roster file (see :func:`read_roster`) or the user names themselves.
        directory: The class folder: ``postgres/`` (runs and accounts), ``artifacts/``,
            ``credentials.csv`` and ``basic_auth.ini``. Back it up.
        host: The address to listen on: ``127.0.0.1`` (this machine only) or
            ``0.0.0.0`` (every network interface: a classroom network).
        port: The port; a free one when omitted.
        allowed_hosts: More host names students type in their URL (comma-separated or a
            list), e.g. the machine's DNS name; the server accepts those, this machine's
            names and ``host`` (see :func:`allowed_hosts_for`), and refuses any other
            Host header with 403.
        workers: MLflow server worker processes.
        timeout: Seconds to wait for the server (the first start creates the tables).
        private: Students neither read nor write each other's experiments, runs and
            models (default permission ``NO_PERMISSIONS``); by default they read the
            whole class's work (``READ``) and write only their own.

    Yields:
        The running :class:`Classroom`.

    Raises:
        RosterError: The roster is missing or invalid.
        ClassroomError: The folder's credentials and database do not match, or the
            address is taken.
        servers.ServerError: PostgreSQL or MLflow did not start; the message holds its log.
    """
    if isinstance(roster, str | Path):
        students = read_roster(roster)
    else:
        students = check_names(list(roster))
    directory = _prepare_directory(Path(directory))
    known = _check_state(directory)
    port = port or servers.free_port()
    _check_port_free(host, port)
    hosts = allowed_hosts_for(host, port, allowed_hosts)
    warning = version_warning()
    if warning:
        print(warning, file=sys.stderr, flush=True)
    credentials = directory / CREDENTIALS_FILE
    if ADMIN not in known:  # a new class: the admin's password is on disk before anything
        write_credentials(credentials, {ADMIN: new_password()})
        known = read_credentials(credentials)
    new = {name: new_password() for name in students if name not in known}
    if new:
        write_credentials(credentials, new)
    passwords = {name: (known | new)[name] for name in students}

    artifacts = directory / ARTIFACTS_DIR
    artifacts.mkdir(mode=0o700, exist_ok=True)
    with servers.postgres_server(TRACKING_DATABASE, data_dir=directory / DATABASE_DIR) as db:
        config = directory / AUTH_CONFIG_FILE
        auth_database = _create_database(db, AUTH_DATABASE)
        config.write_text(auth_config(auth_database, private=private), encoding="utf-8")
        command = [
            *servers.MLFLOW_SERVER_CLI, "server",
            "--app-name", "basic-auth",
            "--host", host,
            "--port", str(port),
            "--workers", str(workers),
            "--backend-store-uri", db.url,
            "--artifacts-destination", str(artifacts),
            "--allowed-hosts", ",".join(hosts),
        ]  # fmt: skip
        env = {
            **SERVER_ENV,
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,  # would override the file's if set here
            "MLFLOW_AUTH_ADMIN_PASSWORD": known[ADMIN],
            # Protects the account forms of the UI (CSRF); a new one at every start.
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(32),
        }
        local_url = _url(_probe_host(host), port)
        with servers.managed_process(
            "classroom-mlflow",
            command,
            port,
            env=env,
            timeout=timeout,
            ready=lambda: servers.is_healthy(local_url + "/health"),
        ) as server:
            _ensure_accounts(local_url, known[ADMIN], passwords)
            yield Classroom(
                url=_url(host, port),
                local_url=local_url,
                directory=directory,
                credentials_path=credentials,
                students=tuple(students),
                new_students=tuple(name for name in students if name in new),
                server=server,
                database=db,
                admin_password=known[ADMIN],
                passwords=passwords,
                private=private,
                allowed_hosts=tuple(hosts),
            )


@dataclass
class StoreUpgrade:
    """What :func:`upgrade_class_store` did.

    Attributes:
        backups: The ``pg_dump`` files written before anything changed.
        revision_before: The runs' database schema revision before the upgrade.
        revision_after: The revision after it: this MLflow's newest.
        runs: The number of runs before and after (the same when nothing was lost).
    """

    backups: list[Path]
    revision_before: str | None
    revision_after: str | None
    runs: tuple[int, int]


def _store_facts(url: str) -> tuple[str | None, int]:
    """Return the schema revision and the run count of the runs' database."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}  # fmt: skip
        if "alembic_version" not in tables:
            return None, 0
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        runs = (
            connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0] if "runs" in tables else 0
        )
    return (revision[0] if revision else None), int(runs)


def upgrade_class_store(directory: Path | str, timeout: float = 600.0) -> StoreUpgrade:
    """Back up a stopped class's databases, then upgrade its runs' database to this MLflow.

    For the start of a semester, after the kit (and so MLflow) was updated: it starts the
    class folder's PostgreSQL alone, writes ``backups/<time>/mlflow.sql`` and
    ``mlflow_auth.sql`` with ``pg_dump``, runs ``mlflow db upgrade`` on the runs'
    database and stops. The accounts' database upgrades itself when the server starts.
    Restore a backup with ``psql -d mlflow -f mlflow.sql`` on an empty database.

    Raises:
        ClassroomError: The folder holds no class, or the upgrade failed (the backups
            stay, and the message holds MLflow's output).
        servers.ServerError: PostgreSQL did not start.
    """
    directory = Path(directory).expanduser().resolve()
    if not (directory / DATABASE_DIR).is_dir():
        raise ClassroomError(
            f"{directory} holds no class database ({DATABASE_DIR}/): give the folder that "
            "`make classroom ... DIR=...` uses"
        )
    _check_state(directory)
    backups = directory / "backups" / time.strftime("%Y%m%d-%H%M%S")
    backups.mkdir(mode=0o700, parents=True)
    pg_dump = servers.postgres_bin_dir() / "pg_dump"
    with servers.postgres_server(TRACKING_DATABASE, data_dir=directory / DATABASE_DIR) as db:
        written = []
        for name in (TRACKING_DATABASE, AUTH_DATABASE):
            url = db.url.replace("+psycopg", "").rsplit("/", 1)[0] + f"/{name}"
            target = backups / f"{name}.sql"
            dump = subprocess.run(
                [str(pg_dump), f"--dbname={url}", f"--file={target}", "--no-owner"],
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
            if dump.returncode == 0:
                written.append(target)
            elif name == TRACKING_DATABASE:
                raise ClassroomError(f"pg_dump of {name} failed, nothing changed:\n{dump.stderr}")
        revision_before, runs_before = _store_facts(db.url)
        upgrade = subprocess.run(
            [*servers.MLFLOW_CLI, "db", "upgrade", db.url],
            capture_output=True, text=True, timeout=timeout, env={**os.environ, **SERVER_ENV},
        )  # fmt: skip
        if upgrade.returncode != 0:
            raise ClassroomError(
                f"mlflow db upgrade failed; the backups are in {backups}:\n{upgrade.stderr[-3000:]}"
            )
        revision_after, runs_after = _store_facts(db.url)
    return StoreUpgrade(written, revision_before, revision_after, (runs_before, runs_after))


# --- command line ------------------------------------------------------------------------


def network_address() -> str | None:
    """Guess this machine's address on the local network (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.254.254.254", 1))
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def instructions(room: Classroom, host: str, port: int) -> str:
    """Return what the instructor reads once the server is up.

    Args:
        room: The running class server.
        host: The address it listens on.
        port: Its port.

    Returns:
        The URL, where the passwords are, and the settings each student changes.
    """
    if host in ("0.0.0.0", "::"):
        student_url = _url(network_address() or "<this machine's address>", port)
        reach = "Students reach it over the network (open the port in the firewall)."
    else:
        student_url = room.url
        local = host.startswith("127.") or host in ("localhost", "::1")
        reach = (
            "Only this machine can reach it: for a classroom network, use --host 0.0.0.0."
            if local
            else "Students reach it at this address."
        )
    added = f" ({len(room.new_students)} new)" if room.new_students else ""
    if room.private:
        mode = "Private mode: each student sees only their own experiments, runs and models."
    else:
        mode = (
            "Shared mode: students read the whole class's work and write only their own\n"
            "  (--private: each sees only their own)."
        )
    hosts = ", ".join(room.allowed_hosts) or "MLflow's defaults"
    return f"""
Class tracking server: {room.url}   (data in {room.directory})
{reach}
{mode}
Host names accepted in the URL: {hosts}
  (others get 403; add names with --allowed-hosts)
Accounts: {len(room.students)} students{added}. Passwords, the admin's included, are in
  {room.credentials_path}   (only you can read it; user '{ADMIN}' is yours)

Each student sets, before starting JupyterLab (Windows PowerShell: $env:NAME = "value"):
  export MLFLOW_TRACKING_URI={student_url}
  export MLFLOW_TRACKING_USERNAME=<their user name>
  export MLFLOW_TRACKING_PASSWORD=<their password>
or keeps the password out of the shell in ~/.mlflow/credentials (chmod 600), which MLflow
reads when MLFLOW_TRACKING_PASSWORD is not set:
  [mlflow]
  mlflow_tracking_password = <their password>

Press Ctrl+C to stop the server.
"""


def serve_until_stopped(room: Classroom, poll_seconds: float = 2.0) -> int:
    """Wait until Ctrl+C (or SIGTERM), or until a server stops on its own.

    Args:
        room: The running class server.
        poll_seconds: How often to check that the servers still run.

    Returns:
        0 after Ctrl+C or SIGTERM, 1 when a server stopped by itself.
    """

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while room.is_running():
            time.sleep(poll_seconds)
        print(
            "error: the class server stopped on its own. The end of its log "
            f"({room.server.log_path}):\n{room.server.log_tail()}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("\nStopping the class server (the data stays in the class folder) ...")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m utils.classroom start --roster FILE --dir FOLDER``."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.classroom",
        description="Run one shared MLflow tracking server for a class.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the class server and wait for Ctrl+C")
    start.add_argument("--roster", required=True, type=Path, help="one user name per line, "
                       "or a CSV file with a 'username' column")  # fmt: skip
    start.add_argument("--dir", required=True, type=Path, dest="directory",
                       help="the class folder: database, artifacts, credentials")  # fmt: skip
    start.add_argument("--host", default=DEFAULT_HOST,
                       help="address to listen on; 0.0.0.0 for a classroom network")  # fmt: skip
    start.add_argument("--port", type=int, default=DEFAULT_PORT)
    start.add_argument("--allowed-hosts", default=None,
                       help="more host names students type in the URL, comma-separated "
                       "(this machine's names and --host are always accepted)")  # fmt: skip
    start.add_argument("--private", action="store_true",
                       help="students see only their own experiments, runs and models "
                       "(default: everyone reads the whole class's work)")  # fmt: skip
    start.add_argument("--workers", type=int, default=1, help="MLflow server processes")
    upgrade = commands.add_parser(
        "upgrade", help="back up a stopped class's databases, then upgrade them to this MLflow"
    )
    upgrade.add_argument("--dir", required=True, type=Path, dest="directory",
                         help="the class folder")  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "upgrade":
        return _upgrade_command(args.directory)
    # Ctrl+C must stop the servers even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print("Starting PostgreSQL and the MLflow server (the first start takes a minute) ...")
    try:
        with classroom_server(
            args.roster,
            args.directory,
            host=args.host,
            port=args.port,
            allowed_hosts=args.allowed_hosts,
            workers=args.workers,
            private=args.private,
        ) as room:
            print(instructions(room, args.host, args.port), flush=True)
            code = serve_until_stopped(room)
    except KeyboardInterrupt:
        print("\nStopped before the server was ready.")
        return 130
    except (RosterError, ClassroomError, servers.ServerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("Stopped.")
    return code


def _upgrade_command(directory: Path) -> int:
    """``python -m utils.classroom upgrade --dir FOLDER``."""
    print("Backing up and upgrading the class databases (the server must be stopped) ...")
    try:
        done = upgrade_class_store(directory)
    except (ClassroomError, servers.ServerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for backup in done.backups:
        print(f"backup: {backup}")
    print(f"schema revision {done.revision_before} -> {done.revision_after}; "
          f"runs {done.runs[0]} -> {done.runs[1]}")  # fmt: skip
    return 0 if done.runs[0] == done.runs[1] else 1


if __name__ == "__main__":
    sys.exit(main())
