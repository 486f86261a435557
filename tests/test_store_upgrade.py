"""The old store lesson 08 upgrades (``notebooks/stores/mlflow-2.22.db``, made by
``tools/old_store.py``): it is what the lesson says, and ``mlflow db upgrade`` carries
every record of it to this MLflow's schema."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import mlflow
from alembic.script import ScriptDirectory

from tools import old_store

TABLES = ("experiments", "runs", "params", "metrics", "tags", "registered_models", "model_versions")
#: The revision MLflow 2.22's last migration leaves in ``alembic_version``.
MLFLOW_2_22_REVISION = "0584bdc529eb"


def revision(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def rows(path: Path, table: str, columns: list[str]) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return sorted(db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall())


def columns_of(path: Path, table: str) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def test_the_shipped_store_is_mlflow_2_22s() -> None:
    assert old_store.STORE.stat().st_size < 512 * 1024
    assert revision(old_store.STORE) == MLFLOW_2_22_REVISION
    assert len(rows(old_store.STORE, "runs", ["run_uuid"])) == 3
    assert rows(old_store.STORE, "model_versions", ["name", "version", "current_stage"]) == [
        ("churn-2025", 1, "Production")
    ]


def test_mlflow_db_upgrade_keeps_every_record(tmp_path: Path) -> None:
    store = tmp_path / "old.db"
    shutil.copyfile(old_store.STORE, store)
    before = {t: (columns_of(store, t), rows(store, t, columns_of(store, t))) for t in TABLES}
    # `mlflow db upgrade`: MLflow's own command line, run in this process (MLflow is
    # imported already; a new Python would spend seconds importing it again).
    from click.testing import CliRunner
    from mlflow.cli import cli

    result = CliRunner().invoke(cli, ["db", "upgrade", f"sqlite:///{store}"])
    assert result.exit_code == 0 and result.exception is None, result.output[-2000:]
    head = ScriptDirectory(str(Path(mlflow.__file__).parent / "store" / "db_migrations"))
    assert revision(store) == head.get_current_head() != MLFLOW_2_22_REVISION
    for table, (columns, old_rows) in before.items():
        assert rows(store, table, columns) == old_rows, f"{table} changed in the upgrade"
