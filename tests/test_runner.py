"""The notebook runner catches what the harness promises to catch.

Small notebooks made here fail in each way the harness must notice: a cell that raises,
an MLflow deprecation warning, a process left running. One catches the warning on
purpose and must pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import psutil
import pytest

from tools import runner, warm_kernels

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
    tmp_path: Path,
    template_db: Path,
    *cells: str,
    leak_grace: float = 5.0,
    warm: bool | None = None,
) -> runner.RunResult:
    tmp_path.mkdir(exist_ok=True)
    path = write(tmp_path, *cells)
    work = tmp_path / "run"
    work.mkdir()
    return runner.run_notebook(
        path, work, template_db, cell_timeout=60, leak_grace=leak_grace, warm=warm
    )


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
@pytest.mark.parametrize("warm", [True, False], ids=["warm-kernel", "fresh-kernel"])
def test_a_leaked_process_fails_and_is_killed(
    tmp_path: Path, template_db: Path, warm: bool
) -> None:
    started = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
        " start_new_session=True)"
    )
    # A copy of the kernel itself (fork without exec) in a session of its own, which the
    # kernel's shutdown does not reach: it shows the environment the kernel started with,
    # for a warm kernel the warm-kernel server's.
    forked = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(300)\n    os._exit(0)"
    )
    # They sleep for minutes: waiting the usual 5 s for them to end would only cost time.
    result = run(tmp_path, template_db, SETUP, started, forked, leak_grace=0.5, warm=warm)
    assert len(result.leaked) == 2, result.leaked
    assert any("time.sleep(300)" in leak for leak in result.leaked)
    with pytest.raises(runner.NotebookFailure, match="outlived"):
        runner.check_result(result)
    assert runner.tagged_processes(result.tags, result.skip) == []


KERNEL_FACTS = (
    "import os, sys, psutil\n"
    "print('PID', os.getpid())\n"
    "print('PARENT', psutil.Process().ppid())\n"
    "print('PRELOADED', 'sklearn.ensemble' in sys.modules)\n"
    "nulls = []\n"
    "for fd in os.listdir('/proc/self/fd'):\n"
    "    try:\n"
    "        if os.readlink(f'/proc/self/fd/{fd}') == os.devnull:\n"
    "            nulls.append(int(fd))\n"
    "    except OSError:  # the listing's own descriptor, closed since\n"
    "        pass\n"
    "print('NULLS', sorted(nulls))"
)


def facts(result: runner.RunResult) -> dict[str, str]:
    text = runner.output_text(nbformat.read(result.executed, as_version=4))
    pairs = [line.split(" ", 1) for line in text.splitlines() if " " in line]
    keys = ("PID", "PARENT", "PRELOADED", "STORE", "NULLS")
    return {key: value for key, value in pairs if key in keys}


@pytest.mark.notebook
def test_a_warm_kernel_is_a_new_process_with_the_runs_own_store(
    tmp_path: Path, template_db: Path
) -> None:
    # Each run marks a preloaded module: the next run must not see the mark.
    mark = (
        "import sklearn\n"
        "assert not hasattr(sklearn, 'MARKED_BY_AN_EARLIER_RUN')\n"
        "sklearn.MARKED_BY_AN_EARLIER_RUN = True\n"
        "print('STORE', os.environ['KIT_STORE_DIR'])"
    )
    first = run(tmp_path / "first", template_db, SETUP, KERNEL_FACTS, mark, warm=True)
    second = run(tmp_path / "second", template_db, SETUP, KERNEL_FACTS, mark, warm=True)
    for result in (first, second):
        runner.check_result(result)
        seen = facts(result)
        assert seen["PRELOADED"] == "True"
        assert int(seen["PARENT"]) in result.skip  # forked by the warm-kernel server
        assert seen["STORE"] == str(result.store)
        assert seen["NULLS"] == "[0]"  # stdin reads nothing; no other descriptor left open
    assert facts(first)["PID"] != facts(second)["PID"]


@pytest.mark.notebook
def test_a_fresh_kernel_imports_everything_itself(tmp_path: Path, template_db: Path) -> None:
    result = run(tmp_path, template_db, KERNEL_FACTS, warm=False)
    runner.check_result(result)
    seen = facts(result)
    assert seen["PRELOADED"] == "False"
    assert int(seen["PARENT"]) == os.getpid() and result.skip == []


def test_warnings_mlflow_raised_while_preloading_are_told_apart() -> None:
    raised = [
        "FutureWarning: `x` is deprecated (/v/site-packages/mlflow/models/x.py:3)",
        "DeprecationWarning: old API (/v/site-packages/pandas/core/y.py:9)",
        "UserWarning: something about mlflow (/v/site-packages/mlflow/z.py:1)",
    ]
    assert runner.mlflow_warnings(raised) == raised[:1]


def test_the_warm_kernel_server_forks_kernels_and_stops_without_leftovers(
    tmp_path: Path,
) -> None:
    server = warm_kernels.WarmKernels(dict(os.environ), modules=("json",))
    try:
        assert server.warnings == []
        child = psutil.Process(server.pid)
        assert child.is_running()
    finally:
        server.close()
    assert not child.is_running() and not Path(server.socket_path).exists()


def test_a_store_from_the_template_makes_its_own_default_experiment(
    tmp_path: Path, template_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3
    import time
    from contextlib import closing

    from mlflow import MlflowClient

    with closing(sqlite3.connect(template_db)) as template:
        assert template.execute("SELECT count(*) FROM experiments").fetchone() == (0,)
        (revision,) = template.execute("SELECT version_num FROM alembic_version").fetchone()
    store = tmp_path / "store"
    runner.prepare_store(store, template_db)
    monkeypatch.chdir(tmp_path)
    opened = time.time() * 1000
    (default,) = MlflowClient(f"sqlite:///{store / 'mlflow.db'}").search_experiments()
    assert default.name == "Default" and default.creation_time >= opened
    assert default.artifact_location == str(tmp_path / "mlruns" / "0")
    with closing(sqlite3.connect(store / "mlflow.db")) as copied:
        assert copied.execute("SELECT version_num FROM alembic_version").fetchone() == (revision,)
