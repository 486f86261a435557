"""Where things live: the repository, its datasets, and the kit-local MLflow store.

Every path the notebooks use comes from here, so a notebook works wherever JupyterLab
was started. Two environment variables redirect the kit:

- ``KIT_STORE_DIR``: the folder holding the local MLflow store (``mlflow.db`` and
  ``artifacts/``) and the notebooks' scratch files. The test harness gives every
  notebook its own.
- ``MLFLOW_TRACKING_URI``: MLflow's own setting. When set (a class server, CI), every
  notebook tracks there instead of the local store.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent


def repo_root() -> Path:
    """Return the repository's root folder.

    Returns:
        The absolute path of the folder holding ``README.md`` and ``utils/``.
    """
    return ROOT


def datasets_dir() -> Path:
    """Return the folder of the shipped case-study data.

    Returns:
        ``KIT_DATASETS_DIR`` when set (tests use copies), else ``<repo>/datasets``.
    """
    return Path(os.environ.get("KIT_DATASETS_DIR", ROOT / "datasets")).resolve()


def store_dir() -> Path:
    """Return the folder of the kit-local MLflow store, creating it if needed.

    Returns:
        ``KIT_STORE_DIR`` when set, else ``<repo>/mlflow_store`` (git-ignored).
    """
    path = Path(os.environ.get("KIT_STORE_DIR", ROOT / "mlflow_store")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_tracking_uri() -> str:
    """Return the URI of the kit-local SQLite tracking database.

    Returns:
        A ``sqlite:///`` URI for ``<store>/mlflow.db``.
    """
    return f"sqlite:///{store_dir() / 'mlflow.db'}"


def tracking_uri() -> str:
    """Return the tracking URI every notebook uses.

    Returns:
        ``MLFLOW_TRACKING_URI`` when set, else :func:`local_tracking_uri`.
    """
    return os.environ.get("MLFLOW_TRACKING_URI") or local_tracking_uri()


def artifacts_dir() -> Path:
    """Return the folder where the local store keeps run and model artifacts.

    Returns:
        ``<store>/artifacts``, created if needed.
    """
    path = store_dir() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def work_dir(name: str) -> Path:
    """Return a scratch folder for files a notebook writes (exports, copies, projects).

    Args:
        name: The notebook or lab id, e.g. ``"02_data_acquisition"``.

    Returns:
        ``<store>/work/<name>``, created if needed. It is never inside ``datasets/``,
        so shipped data cannot be overwritten by a lesson.
    """
    path = store_dir() / "work" / name
    path.mkdir(parents=True, exist_ok=True)
    return path
