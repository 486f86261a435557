"""Every lesson notebook runs top to bottom in a fresh kernel with its own MLflow store.

A notebook fails when a cell raises, when MLflow shows a deprecation warning it did not
catch on purpose, or when a process it started outlives it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import runner
from tools.notebook_checks import lesson_notebooks


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", lesson_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path, template_db: Path) -> None:
    result = runner.run_notebook(path, tmp_path, template_db)
    runner.check_result(result)
