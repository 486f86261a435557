"""Shared fixtures and the isolation every test runs in.

Tests never touch the kit's own store: each test worker works in a temporary folder,
so MLflow's default ``./mlruns`` artifact folder (used by experiments created without
an artifact location) lands there and not in the repository.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tools import runner

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
