"""Every lesson notebook runs top to bottom in a kernel with its own MLflow store.

The kernel is a new process forked from one that has already imported the course's
libraries (``tools/warm_kernels.py``); ``KIT_KERNELS=fresh`` starts each from scratch instead.

A notebook fails when a cell raises, when MLflow shows a deprecation warning it did not
catch on purpose, or when a process it started outlives it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tools import runner
from tools.notebook_checks import lesson_notebooks

# Optional parts that must run in CI (where everything is installed): a notebook that
# falls back (e.g. to SQLite when PostgreSQL is missing) prints these lines only when
# the real path ran.
REQUIRED_IN_CI: dict[str, list[str]] = {
    "08_tracking_server_storage_and_network": ["PostgreSQL tracking store:"],
    "15_mlflow_on_aws": ["PostgreSQL backend store:"],
}


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", lesson_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path, template_db: Path) -> None:
    result = runner.run_notebook(path, tmp_path, template_db)
    runner.check_result(result)
    if os.environ.get("CI"):
        printed = runner.output_text(json.loads(result.executed.read_text()))
        for line in REQUIRED_IN_CI.get(path.stem, []):
            assert line in printed, f"{path.name}: the part that prints {line!r} did not run"


def test_required_outputs_name_real_notebooks() -> None:
    stems = {p.stem for p in lesson_notebooks()}
    unknown = set(REQUIRED_IN_CI) - stems
    assert not unknown, f"REQUIRED_IN_CI names notebooks that do not exist: {unknown}"
