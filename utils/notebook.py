"""One call at the top of every notebook: ``kit = setup_notebook("NN_name")``.

It fixes the seeds, sets pandas and plot defaults, quiets MLflow, points MLflow at the
kit's store (or at ``MLFLOW_TRACKING_URI``) and selects an experiment named after the
notebook. Introduced in notebook 00.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from utils import i18n, paths

SEED: int = 42

# MLflow reads these when it is imported, so they are set before the first import.
QUIET_MLFLOW_ENV: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "DO_NOT_TRACK": "1",
}

# The math libraries' thread settings: :func:`limit_threads` sets each to one.
THREAD_VARS: tuple[str, ...] = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# The test harness sets this; every MLflow deprecation warning then prints a marker line
# that fails the notebook (see tests/harness.py).
STRICT_ENV = "KIT_STRICT_WARNINGS"
DEPRECATION_MARKER = "KIT-MLFLOW-DEPRECATION"
# The benchmark sets this; figures a notebook measures (latency, throughput) go there.
FIGURES_ENV = "KIT_FIGURES_FILE"


@dataclass(frozen=True)
class Kit:
    """What a notebook needs from the kit, returned by :func:`setup_notebook`.

    Attributes:
        name: The notebook or lab id, e.g. ``"00_welcome_and_setup"``.
        root: The repository's root folder.
        datasets_dir: The folder of the shipped case-study data.
        work_dir: A scratch folder for files this notebook writes.
        tracking_uri: Where MLflow records runs.
        experiment_name: The experiment this notebook's runs go to.
        experiment_id: Its id.
        seed: The seed every random generator starts from.
        rng: A NumPy generator seeded with ``seed``.
    """

    name: str
    root: Path
    datasets_dir: Path
    work_dir: Path
    tracking_uri: str
    experiment_name: str
    experiment_id: str
    seed: int
    rng: np.random.Generator


def quiet_mlflow() -> None:
    """Silence MLflow's telemetry, URL banners, progress bars and info logs."""
    for key, value in QUIET_MLFLOW_ENV.items():
        os.environ.setdefault(key, value)
    for logger in ("mlflow", "alembic", "alembic.runtime.migration", "huey"):
        logging.getLogger(logger).setLevel(logging.WARNING)


def _warned_from_mlflow() -> bool:
    """Tell whether the warning being shown was raised by code inside MLflow."""
    frames = traceback.extract_stack()[:-2]
    here = Path(__file__).name
    callers = [f for f in frames if not f.filename.endswith(("warnings.py", here))]
    return bool(callers) and f"{os.sep}mlflow{os.sep}" in callers[-1].filename


def fail_on_mlflow_deprecations() -> None:
    """Mark every MLflow deprecation or future warning that a student would see.

    Python's warning filters stay as they are, so what is marked is exactly what shows up
    in a notebook. The harness fails a notebook whose output holds the marker. A notebook
    that shows a deprecation on purpose catches it with
    ``warnings.catch_warnings(record=True)``, which bypasses this hook.
    """
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        inside = f"{os.sep}mlflow{os.sep}"
        mlflow_made = (
            _warned_from_mlflow() or inside in str(filename) or "mlflow" in str(message).lower()
        )
        if issubclass(category, DeprecationWarning | FutureWarning) and mlflow_made:
            print(f"{DEPRECATION_MARKER}: {category.__name__}: {message}", file=sys.stderr)
        original(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def limit_threads() -> None:
    """Give each math library one thread.

    The course's data is small: splitting a fit across threads costs more than it saves,
    and on a laptop that also runs a server, threads of several libraries fight for the
    same cores (a logistic regression measured 2 s instead of 0.05 s). OpenMP reads its
    setting when scikit-learn loads it, after this call; NumPy's BLAS is already loaded,
    so it is limited directly.
    """
    from threadpoolctl import threadpool_limits

    for variable in THREAD_VARS:
        os.environ.setdefault(variable, "1")
    threadpool_limits(limits=1)


def use_kernel_python_first() -> None:
    """Put this kernel's ``bin`` folder first on ``PATH``.

    Commands a notebook starts (``mlflow run``, ``python`` in a project's entry point)
    then use the kit's environment even when JupyterLab was started without activating
    it.
    """
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])


def set_display_defaults() -> None:
    """Set pandas display options and the kit's one plot style."""
    import matplotlib as mpl
    import pandas as pd

    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 120)
    pd.set_option("display.precision", 3)
    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "axes.prop_cycle": mpl.cycler(
                color=["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
            ),
        }
    )


def experiment_name_for(name: str) -> str:
    """Return the experiment name for a notebook, prefixed by the student on a class server.

    Args:
        name: The notebook or lab id.

    Returns:
        ``name`` alone, or ``"<user>/<name>"`` when ``MLFLOW_TRACKING_USERNAME`` is set,
        so that students sharing one server never write into each other's experiments.
    """
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    return f"{user}/{name}" if user else name


def get_or_create_experiment(client: Any, name: str) -> str:
    """Return the id of the experiment ``name``, creating it if needed (without selecting it).

    With the local store, a new experiment keeps its artifacts under the store's
    ``artifacts/`` folder, whatever the current directory is.

    Args:
        client: An ``MlflowClient`` for the store.
        name: The experiment name.

    Returns:
        The experiment id.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if client.tracking_uri.startswith("sqlite:"):
        location = (paths.artifacts_dir() / name.replace("/", "_")).as_uri()
    return client.create_experiment(name, artifact_location=location)


def use_experiment(name: str) -> str:
    """Select (creating if needed) the experiment ``name`` and return its id.

    Args:
        name: The experiment name.

    Returns:
        The experiment id.
    """
    import mlflow

    experiment_id = get_or_create_experiment(mlflow.MlflowClient(), name)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def setup_notebook(name: str, seed: int = SEED, lang: str | None = None) -> Kit:
    """Prepare a notebook: seeds, display, quiet MLflow, PATH, tracking URI, experiment.

    Args:
        name: The notebook or lab id, the file name without ``.ipynb``,
            e.g. ``"00_welcome_and_setup"``.
        seed: The seed for Python's and NumPy's random generators.
        lang: The language of the kit's messages (lab feedback, errors): ``"en"`` or
            ``"es"``; by default ``KIT_LANG``, else English.

    Returns:
        A :class:`Kit` with the paths, tracking URI, experiment and random generator.
    """
    if lang is not None:
        i18n.set_language(lang)
    quiet_mlflow()
    if os.environ.get(STRICT_ENV) == "1":
        fail_on_mlflow_deprecations()
    use_kernel_python_first()
    limit_threads()
    random.seed(seed)
    np.random.seed(seed)
    set_display_defaults()

    import mlflow

    uri = paths.tracking_uri()
    mlflow.set_tracking_uri(uri)
    experiment_name = experiment_name_for(name)
    experiment_id = use_experiment(experiment_name)
    return Kit(
        name=name,
        root=paths.repo_root(),
        datasets_dir=paths.datasets_dir(),
        work_dir=paths.work_dir(name),
        tracking_uri=uri,
        experiment_name=experiment_name,
        experiment_id=experiment_id,
        seed=seed,
        rng=np.random.default_rng(seed),
    )


def report_figure(name: str, value: float, unit: str) -> None:
    """Hand a measured figure (e.g. a latency) to the kit's benchmark, when it runs.

    Outside the benchmark this does nothing, so notebooks call it freely.

    Args:
        name: What was measured, e.g. ``"serving p95 latency, 2 workers"``.
        value: The figure.
        unit: Its unit, e.g. ``"ms"`` or ``"requests/s"``.
    """
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"name": name, "value": float(value), "unit": unit}) + "\n")
