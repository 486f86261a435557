"""The screenshot tool drives the real MLflow UI in headless Chromium, and notices changes.

A small store stands in for the lessons' runs (running the notebooks would take a minute):
a search with child runs, a logged scikit-learn model and a registered model with two
versions and the aliases ``champion`` and ``challenger``.
"""

from __future__ import annotations

import dataclasses
import shutil
import struct
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import psutil
import pytest

from tools import browser, screenshots
from utils import servers

TARGETS = screenshots.Targets(
    runs_experiment="tracking",
    models_experiment="models",
    logged_model="churn_model",
    registered_model="churn",
    columns=("model", "C", "val_auc", "val_log_loss"),
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fill_store(uri: str, artifacts: Path) -> None:
    """Log a search with child runs, a model, and two registered versions with aliases."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    client = mlflow.MlflowClient()
    tracking = client.create_experiment("tracking", (artifacts / "tracking").as_uri())
    with mlflow.start_run(experiment_id=tracking, run_name="baseline"):
        mlflow.log_params({"model": "logistic_regression", "C": 1.0})
        mlflow.log_metrics({"val_auc": 0.78, "val_log_loss": 0.41})
    with mlflow.start_run(experiment_id=tracking, run_name="search"):
        for C, auc in ((0.1, 0.77), (1.0, 0.79), (10.0, 0.78)):
            with mlflow.start_run(experiment_id=tracking, run_name=f"C={C}", nested=True):
                mlflow.log_params({"model": "logistic_regression", "C": C})
                mlflow.log_metrics({"val_auc": auc, "val_log_loss": 1 - auc})

    models = client.create_experiment("models", (artifacts / "models").as_uri())
    features = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]])
    model = LogisticRegression().fit(features, [0, 1, 0, 1])
    with mlflow.start_run(experiment_id=models, run_name="churn-logistic"):
        info = mlflow.sklearn.log_model(
            model, name="churn_model", pip_requirements=["scikit-learn"]
        )
    for _ in range(2):
        mlflow.register_model(info.model_uri, "churn")
    client.set_registered_model_alias("churn", "champion", "1")
    client.set_registered_model_alias("churn", "challenger", "2")


@pytest.fixture(scope="module")
def ui(
    require_chromium: Path,
    tmp_path_factory: pytest.TempPathFactory,
    template_db: Path,
    tracking_to: Callable[[str], AbstractContextManager[None]],
) -> Iterator[servers.Server]:
    """A tracking server over a small store of its own, shared by this module's tests.

    The store is isolated as ``isolated_store`` isolates one (conftest), for the whole
    module: starting one server instead of one per test saves several seconds.
    """
    store = tmp_path_factory.mktemp("screenshots") / "store"
    store.mkdir()
    shutil.copy(template_db, store / "mlflow.db")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_STORE_DIR", str(store))
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME"):
            patch.delenv(var, raising=False)
        with tracking_to(uri):
            fill_store(uri, store / "artifacts")
        with servers.tracking_server(
            backend_store_uri=uri, artifacts_destination=str(store / "artifacts")
        ) as server:
            yield server
    assert not server.is_running(), "the tracking server outlived the tests"


def browsers_left() -> list[str]:
    """Return the browser and driver processes this test process still has."""
    left = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline()).lower()
        except psutil.Error:
            continue
        if "chrom" in command or "playwright" in command:
            left.append(f"pid {child.pid}: {command[:120]}")
    return left


def png_size(path: Path) -> tuple[int, int]:
    """Return a PNG's width and height, read from its header."""
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_capture_saves_every_screenshot_after_checking_the_page(
    ui: servers.Server, tmp_path: Path
) -> None:
    written = screenshots.capture(ui.url, tmp_path, TARGETS)

    assert [path.name for path in written] == [
        "experiment-runs.png",
        "compare-runs.png",
        "logged-model.png",
        "registered-model.png",
    ]
    for path in written:
        width, height = png_size(path)
        assert width == screenshots.VIEWPORT["width"], path.name
        assert 300 <= height <= screenshots.VIEWPORT["height"], path.name
        assert path.stat().st_size < 400_000, f"{path.name} is too large"
    assert not browsers_left(), browsers_left()


def test_capture_fails_naming_the_page_and_the_missing_text(
    ui: servers.Server, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    shot = screenshots.plan_shots(MlflowClient(tracking_uri=ui.url), TARGETS)[0]
    changed = dataclasses.replace(shot, expected=(screenshots.Text("no-such-run"),))

    with pytest.raises(screenshots.UIChanged) as raised:
        screenshots.take_shots(ui.url, [changed], tmp_path, timeout=2)

    message = str(raised.value)
    assert "'no-such-run'" in message and "experiment-runs.png" in message
    assert f"URL: {ui.url}/#/experiments/" in message
    assert not (tmp_path / "experiment-runs.png").exists()
    assert not browsers_left(), browsers_left()


def test_chromium_path_names_the_package_when_chromium_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(browser, "PLACES", ())

    with pytest.raises(browser.ChromiumNotInstalled, match="apt-get install chromium"):
        browser.chromium_path()
