"""Shared fixtures and the isolation every test runs in.

Tests never touch the kit's own store: each test worker works in a temporary folder,
so MLflow's default ``./mlruns`` artifact folder (used by experiments created without
an artifact location) lands there and not in the repository.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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
