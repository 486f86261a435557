"""Shared fixtures: a migrated empty tracking database, made once per test worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import runner


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite tracking store that notebook runs start from."""
    return runner.migrated_template(tmp_path_factory.mktemp("template"))
