"""Lab 05's checks give specific feedback on wrong answers, wrong registry state and a
wrong endpoint.

One tracking store is made for the module, with three versions of the lab's model (a
logistic regression on 200 rows): the right one, one logged in another experiment, one
without a signature that serves labels. Endpoints are stand-ins from the standard library
(a model server is started by the lab's own test, ``tests/test_labs.py``).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from utils import checks
from utils.labs import lab05
from utils.servers import free_port
from utils.serving import ServingError

NAME, ALIAS = lab05.MODEL_NAME, lab05.ALIAS
SAMPLE = pd.DataFrame(np.random.default_rng(1).normal(size=(5, 3)), columns=["x1", "x2", "x3"])


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, template_db: Path, tracking_to: Callable[[str], Any]
) -> Iterator[dict[str, Any]]:
    """A store with the experiment ``lab05_student`` selected and three model versions."""
    folder = tmp_path_factory.mktemp("lab05")
    shutil.copy(template_db, folder / "mlflow.db")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["x1", "x2", "x3"])
    model = LogisticRegression().fit(X, (X["x1"] > 0).astype(int))
    with tracking_to(f"sqlite:///{folder / 'mlflow.db'}"):
        ids = {
            name: mlflow.create_experiment(name, (folder / name).as_uri())
            for name in ("other", "lab05_student")
        }

        def log(experiment: str, proba: bool) -> Any:
            mlflow.set_experiment(experiment_id=ids[experiment])
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    signature=infer_signature(X, model.predict_proba(X)) if proba else None,
                    pyfunc_predict_fn="predict_proba" if proba else "predict",
                    pip_requirements=["scikit-learn"],
                )
            return mlflow.register_model(info.model_uri, NAME)

        versions = {
            "right": log("lab05_student", True),
            "elsewhere": log("other", True),
            "labels": log("lab05_student", False),
        }
        mlflow.set_experiment(experiment_id=ids["lab05_student"])
        client = mlflow.MlflowClient()
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["x"])
        versions["other_model"] = mlflow.register_model(info.model_uri, "other-model")
        yield {"client": client, **versions}


def point_alias(registry: dict[str, Any], which: str = "right") -> Any:
    """Point the lab's alias at one of the versions; return that version."""
    registry["client"].set_registered_model_alias(NAME, ALIAS, registry[which].version)
    return registry["client"].get_model_version_by_alias(NAME, ALIAS)


def problems(feedback: checks.Feedback) -> str:
    assert feedback.status == "failed", str(feedback)
    return " | ".join(feedback.problems)


class Endpoint:
    """A stand-in model server: ``/ping`` answers 200, ``/invocations`` a fixed answer."""

    def __init__(self, predictions: Any) -> None:
        body = json.dumps({"predictions": predictions}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                self.send_response(200 if self.path == "/ping" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Endpoint:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- Unfinished answers ------------------------------------------------------------------


def test_every_check_reports_unfinished_answers() -> None:
    feedbacks = [
        lab05.check_registration(...),
        lab05.check_alias(..., ...),
        lab05.check_server(..., ...),
        lab05.check_predictions(..., ..., SAMPLE),
        lab05.check_error(...),
    ]
    assert [f.status for f in feedbacks] == ["unfinished"] * 5
    assert {f.task for f in feedbacks} == set(checks.TASKS["lab05"])


# --- Task 1 ------------------------------------------------------------------------------


def test_registration_passes_for_a_version_of_this_experiment(registry: dict) -> None:
    assert lab05.check_registration(registry["right"]).passed


def test_registration_refuses_a_version_number(registry: dict) -> None:
    text = problems(lab05.check_registration("1"))
    assert "version should be a ModelVersion, not a str" in text
    assert "not its number" in text


def test_registration_refuses_a_run_of_another_experiment(registry: dict) -> None:
    text = problems(lab05.check_registration(registry["elsewhere"]))
    assert "belongs to the experiment 'other', not to this lab's 'lab05_student'" in text


def test_registration_names_the_missing_signature_and_probabilities(registry: dict) -> None:
    text = problems(lab05.check_registration(registry["labels"]))
    assert "the model has no signature" in text
    assert "it serves predict(), i.e. 0/1 labels" in text and "pyfunc_predict_fn" in text


def test_registration_refuses_another_registered_model(registry: dict) -> None:
    text = problems(lab05.check_registration(registry["other_model"]))
    assert f"it is a version of 'other-model', not of '{NAME}'" in text


# --- Task 2 ------------------------------------------------------------------------------


def test_alias_passes_when_it_points_at_the_version_of_task_1(registry: dict) -> None:
    aliased = point_alias(registry)
    assert lab05.check_alias(aliased, registry["right"]).passed


def test_alias_pointing_at_another_version_says_which(registry: dict) -> None:
    aliased = point_alias(registry, "right")
    text = problems(lab05.check_alias(aliased, registry["labels"]))
    right, labels = registry["right"].version, registry["labels"].version
    assert f"'{ALIAS}' points at version {right}, but the version you registered in " in text
    assert f"Task 1 is {labels}" in text


def test_a_missing_alias_names_the_aliases_and_the_case(registry: dict) -> None:
    client = registry["client"]
    client.delete_registered_model_alias(NAME, ALIAS)
    client.set_registered_model_alias(NAME, "Champion", registry["right"].version)
    try:
        text = problems(lab05.check_alias(registry["right"], registry["right"]))
    finally:
        client.delete_registered_model_alias(NAME, "Champion")
        point_alias(registry)
    assert f"'{NAME}' has no alias '{ALIAS}': its aliases are ['Champion']" in text
    assert "aliases are case-sensitive" in text


def test_alias_refuses_a_dict(registry: dict) -> None:
    text = problems(lab05.check_alias({"version": 1}, registry["right"]))
    assert "aliased should be a ModelVersion, not a dict" in text


# --- Task 3 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"models:/{NAME}/1", "pins a version; serve by alias"),
        (f"models:/{NAME.replace('-', '_')}@{ALIAS}", "(a typo?)"),
        (f"models:/{NAME}@Champion", "asks for the alias 'Champion', not 'champion'"),
        ("runs:/abc/model", "is not a registry URI"),
    ],
)
def test_server_names_what_is_wrong_in_the_uri(uri: str, expected: str) -> None:
    with Endpoint([]) as endpoint:
        feedback = lab05.check_server(uri, endpoint.url)
    assert expected in problems(feedback)
    assert any("answers 200" in good for good in feedback.good)


def test_server_passes_with_the_alias_uri_and_a_live_url() -> None:
    with Endpoint([]) as endpoint:
        assert lab05.check_server(lab05.MODEL_URI, endpoint.url).passed


def test_server_says_when_nothing_answers() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    text = problems(lab05.check_server(lab05.MODEL_URI, url))
    assert f"nothing answers at {url}/ping: is the server running?" in text


def test_server_refuses_the_server_object() -> None:
    class FakeServer:
        url = "http://127.0.0.1:1"

    text = problems(lab05.check_server(lab05.MODEL_URI, FakeServer()))
    assert "url should be a str, not a FakeServer" in text and "server.url" in text


# --- Task 4 ------------------------------------------------------------------------------


def expected_predictions() -> np.ndarray:
    return mlflow.pyfunc.load_model(lab05.MODEL_URI).predict(SAMPLE)


def test_predictions_pass_when_they_and_the_endpoint_match(registry: dict) -> None:
    point_alias(registry)
    right = expected_predictions()
    with Endpoint(right.tolist()) as endpoint:
        assert lab05.check_predictions(right, endpoint.url, SAMPLE).passed


def test_predictions_of_the_wrong_type_length_or_value(registry: dict) -> None:
    point_alias(registry)
    right = expected_predictions()
    url = "http://127.0.0.1:1"
    assert "should be an array" in problems(lab05.check_predictions({"a": 1}, url, SAMPLE))
    answer = {"predictions": right.tolist()}
    text = problems(lab05.check_predictions(answer, url, SAMPLE))
    assert "not a dict: keep only the answer's list, response.json()['predictions']" in text
    text = problems(lab05.check_predictions(right[:3], url, SAMPLE))
    assert "3 predictions for 5 customers" in text
    text = problems(lab05.check_predictions(right[:, 1], url, SAMPLE))
    assert "shape (5,), the aliased model gives (5, 2)" in text
    text = problems(lab05.check_predictions(right[::-1], url, SAMPLE))
    assert f"they differ from {lab05.MODEL_URI} loaded locally" in text


def test_predictions_catch_an_endpoint_serving_another_model(registry: dict) -> None:
    point_alias(registry)
    right = expected_predictions()
    with Endpoint(right[::-1].tolist()) as endpoint:
        text = problems(lab05.check_predictions(right, endpoint.url, SAMPLE))
    assert "answers differently" in text and "restart it after moving the alias" in text


# --- Task 5 ------------------------------------------------------------------------------

URL = "http://127.0.0.1:5001/invocations"


def test_error_passes_for_the_400_naming_the_column() -> None:
    error = ServingError(
        URL, 400, "Model is missing inputs ['tenure_months'].", "INVALID_PARAMETER_VALUE"
    )
    assert lab05.check_error(error).passed


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (KeyError("tenure_months"), "error should be a ServingError, not a KeyError"),
        (KeyError("tenure_months"), "comes from pandas on your side"),
        (ServingError(URL, 415, "unsupported"), "status 415, not 400"),
        (ServingError(URL, None, "could not connect"), "never reached a server"),
        (
            ServingError(URL, 400, "Model is missing inputs ['age'].", "INVALID_PARAMETER_VALUE"),
            "does not name 'tenure_months'",
        ),
        (
            ServingError(URL, 400, "Ensure that input is a valid JSON", "BAD_REQUEST"),
            "the error code is BAD_REQUEST, not INVALID_PARAMETER_VALUE",
        ),
    ],
)
def test_error_says_what_is_wrong(error: Exception, expected: str) -> None:
    assert expected in problems(lab05.check_error(error))
