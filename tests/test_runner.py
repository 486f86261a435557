"""The notebook runner catches what the harness promises to catch.

Small notebooks made here fail in each way the harness must notice: a cell that raises,
an MLflow deprecation warning, a process left running. One catches the warning on
purpose and must pass.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tools import runner

SETUP = 'from utils import setup_notebook\n\nkit = setup_notebook("99_fixture")'


def write(tmp_path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": runner.KERNEL_NAME,
        "display_name": "kit",
        "language": "python",
    }
    path = tmp_path / "99_fixture.ipynb"
    nbformat.write(nb, path)
    return path


def run(
    tmp_path: Path, template_db: Path, *cells: str, leak_grace: float = 5.0
) -> runner.RunResult:
    tmp_path.mkdir(exist_ok=True)
    path = write(tmp_path, *cells)
    work = tmp_path / "run"
    work.mkdir()
    return runner.run_notebook(path, work, template_db, cell_timeout=60, leak_grace=leak_grace)


@pytest.mark.notebook
def test_a_clean_notebook_passes_in_its_own_store(tmp_path: Path, template_db: Path) -> None:
    result = run(
        tmp_path,
        template_db,
        SETUP,
        "import mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('m', 1.0)",
    )
    runner.check_result(result)
    assert (result.store / "mlflow.db").exists()
    assert result.seconds > 0 and result.peak_rss_mb > 50


@pytest.mark.notebook
def test_a_failing_cell_is_named(tmp_path: Path, template_db: Path) -> None:
    result = run(tmp_path, template_db, SETUP, "x = 1", "assert x == 2, 'x should be two'")
    with pytest.raises(runner.NotebookFailure) as failure:
        runner.check_result(result)
    message = str(failure.value)
    assert "cell 2" in message and "AssertionError" in message and "x should be two" in message


@pytest.mark.notebook
def test_an_mlflow_deprecation_fails_unless_caught_on_purpose(
    tmp_path: Path, template_db: Path
) -> None:
    deprecated = (
        "from mlflow import MlflowClient\n"
        "try:\n"
        "    MlflowClient().get_latest_versions('no-such-model')\n"
        "except Exception:\n"
        "    pass"
    )
    result = run(tmp_path, template_db, SETUP, deprecated)
    assert result.error is None
    assert len(result.deprecations) == 1 and "get_latest_versions" in result.deprecations[0]
    with pytest.raises(runner.NotebookFailure, match="deprecation"):
        runner.check_result(result)

    caught = (
        "import warnings\nwith warnings.catch_warnings(record=True) as seen:\n"
        + "\n".join("    " + line for line in deprecated.splitlines())
        + "\nassert seen"
    )
    runner.check_result(run(tmp_path / "again", template_db, SETUP, caught))


@pytest.mark.notebook
def test_a_leaked_process_fails_and_is_killed(tmp_path: Path, template_db: Path) -> None:
    leak = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
        " start_new_session=True)"
    )
    # The process sleeps for minutes: waiting the usual 5 s for it to end would only cost time.
    result = run(tmp_path, template_db, SETUP, leak, leak_grace=0.5)
    assert result.leaked and "time.sleep(300)" in result.leaked[0]
    with pytest.raises(runner.NotebookFailure, match="outlived"):
        runner.check_result(result)
    assert runner.tagged_processes(result.tag) == []
