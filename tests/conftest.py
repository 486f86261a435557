"""Shared fixtures and the isolation every test runs in.

Tests never touch the kit's own store: each test worker works in a temporary folder,
so MLflow's default ``./mlruns`` artifact folder (used by experiments created without
an artifact location) lands there and not in the repository.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from tools import runner
from utils import servers

WORKER_DIR = Path(tempfile.mkdtemp(prefix="kit-tests-"))
os.environ["KIT_STORE_DIR"] = str(WORKER_DIR / "store")


@pytest.fixture(scope="session", autouse=True)
def work_in_a_temporary_folder() -> None:
    """Run every test from the worker's temporary folder (after collection)."""
    os.chdir(WORKER_DIR)


@pytest.fixture(autouse=True)
def english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts in English; whatever language a test chooses ends with it."""
    monkeypatch.setenv("KIT_LANG", "en")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite tracking store that notebook runs start from."""
    return runner.migrated_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template_db: Path) -> Path:
    """A kit store of the test's own (servers' logs go there), with no tracking URI set."""
    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(template_db, store / "mlflow.db")
    monkeypatch.setenv("KIT_STORE_DIR", str(store))
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    return store


@pytest.fixture
def require_postgres() -> None:
    """PostgreSQL must be present in CI; on a laptop without it the test says so and skips."""
    try:
        servers.postgres_bin_dir()
    except servers.PostgresNotInstalled as missing:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(missing))


@contextmanager
def _tracking_to(uri: str) -> Iterator[None]:
    """Point MLflow at ``uri`` for a block; restore the URI and the active experiment after.

    MLflow has no public way to restore either, so the two private helpers its own tests
    use are called here, in one place: an MLflow upgrade that moves them breaks only this.
    """
    from mlflow.tracking import _tracking_service, fluent

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        patch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
        with _tracking_service.utils._use_tracking_uri(uri):
            yield


@pytest.fixture(scope="session")
def tracking_to() -> Callable[[str], AbstractContextManager[None]]:
    """``with tracking_to(uri):`` runs a block against another tracking store."""
    return _tracking_to


@pytest.fixture(scope="session")
def require_chromium() -> Path:
    """Chromium must be present in CI; on a laptop without it the test says so and skips."""
    from tools import browser

    try:
        return browser.chromium_path()
    except browser.ChromiumNotInstalled as missing:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(missing))


@pytest.fixture
def jupyter_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """JupyterLab serving the kit, as `make start` runs it: yields its URL and its token."""
    import sys

    monkeypatch.setenv("KIT_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    port = servers.free_port()
    token = "kit-test-token"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={runner.ROOT}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    with servers.managed_process("jupyterlab", command, port, "/api", timeout=60) as lab:
        yield lab.url, token
