"""Checks of lab 05: register, alias, serve and query a model (after notebook 12).

The student logs the lab's churn model in a run, registers it as :data:`MODEL_NAME`,
points the alias :data:`ALIAS` at that version, serves ``models:/<name>@<alias>`` with
``utils.servers.model_server`` and queries the endpoint, including with a bad request.
The checks read the student's real registry and query the live endpoint themselves: the
registered model exists, the aliased version comes from a run of this lab's experiment,
the URL answers ``/ping``, and the endpoint's predictions for a sample match the aliased
model loaded locally. Introduced in lab 05.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import pandas as pd

from utils.checks import Feedback, task_check
from utils.registry import model_name_for

LAB = "lab05"
#: The registered model of the lab (prefixed with the student's name on a class server).
MODEL_NAME: str = model_name_for("lab05-churn")
#: The alias the lab asks for.
ALIAS = "champion"
#: The model URI Task 3 serves.
MODEL_URI = f"models:/{MODEL_NAME}@{ALIAS}"
#: The column Task 5 leaves out of its bad request.
DROPPED_COLUMN = "tenure_months"


# --- Reading MLflow state -----------------------------------------------------------------


def _client() -> Any:
    import mlflow

    return mlflow.MlflowClient()


def _current_experiment_id() -> str | None:
    """Return the experiment the notebook selected (``mlflow.set_experiment`` records it)."""
    from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID

    return MLFLOW_EXPERIMENT_ID.get()


def _registered_model(fb: Feedback) -> Any | None:
    """Return the lab's registered model, or record that it does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        model = _client().get_registered_model(MODEL_NAME)
    except MlflowException:
        fb.problems.append(
            f"the registry has no model named '{MODEL_NAME}': register the logged model "
            f"with mlflow.register_model(model_info.model_uri, MODEL_NAME)"
        )
        return None
    fb.good.append(f"the registry holds the model '{MODEL_NAME}'")
    return model


def _aliased_version(fb: Feedback) -> Any | None:
    """Return the version that :data:`ALIAS` points at, or record why there is none."""
    model = _registered_model(fb)
    if model is None:
        return None
    aliases = dict(getattr(model, "aliases", {}) or {})
    if ALIAS not in aliases:
        near = [a for a in aliases if a.lower() == ALIAS.lower()]
        which = f"its aliases are {sorted(aliases)}" if aliases else "it has no alias yet"
        tip = f" (aliases are case-sensitive: '{near[0]}' is not '{ALIAS}')" if near else ""
        fb.problems.append(f"'{MODEL_NAME}' has no alias '{ALIAS}': {which}{tip}")
        return None
    return _client().get_model_version_by_alias(MODEL_NAME, ALIAS)


def _expect_version(fb: Feedback, version: Any, what: str = "version") -> bool:
    """Expect an MLflow ``ModelVersion`` (what ``mlflow.register_model`` returns)."""
    from mlflow.entities.model_registry import ModelVersion

    if not fb.expect_type(version, ModelVersion, what):
        if isinstance(version, str | int):
            fb.problems.append(
                "pass the ModelVersion object that mlflow.register_model returns, not its number"
            )
        return False
    return True


def _load_aliased() -> Any:
    import mlflow

    return mlflow.pyfunc.load_model(MODEL_URI)


def _as_array(predictions: Any) -> np.ndarray | None:
    if isinstance(predictions, pd.DataFrame | pd.Series | np.ndarray | list):
        return np.asarray(predictions, dtype=float)
    return None


# --- Task 1 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 1 · Log and register the model",
    points=2,
    hint="Log inside `with mlflow.start_run():` with name='model' and "
    "pyfunc_predict_fn='predict_proba', then "
    "`version = mlflow.register_model(model_info.model_uri, MODEL_NAME)`.",
)
def check_registration(fb: Feedback, version: Any) -> None:
    """The version belongs to the lab's model, comes from a run of this experiment,
    and serves probabilities under a signature."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if not _expect_version(fb, version):
        return
    if not fb.expect(
        version.name == MODEL_NAME,
        f"it is a version of '{MODEL_NAME}'",
        f"it is a version of '{version.name}', not of '{MODEL_NAME}': register under MODEL_NAME",
    ):
        return
    if _registered_model(fb) is None:
        return
    if not fb.expect(
        bool(version.run_id),
        f"version {version.version} was logged in run {str(version.run_id)[:8]}",
        f"version {version.version} has no run: log the model inside "
        "`with mlflow.start_run():` before registering it",
    ):
        return
    try:
        run = _client().get_run(version.run_id)
    except MlflowException:
        fb.problems.append(f"the run {version.run_id} of version {version.version} is gone")
        return
    current = _current_experiment_id()
    if current is not None:
        client = _client()
        fb.expect(
            run.info.experiment_id == current,
            "the run belongs to this lab's experiment",
            f"the run belongs to the experiment "
            f"'{client.get_experiment(run.info.experiment_id).name}', not to this lab's "
            f"'{client.get_experiment(current).name}': log the model here, in this notebook",
        )
    info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/{version.version}")
    fb.expect(
        info.signature is not None,
        "the model has a signature, so the server can check requests",
        "the model has no signature: pass signature=signature to log_model",
    )
    predict_fn = info.flavors.get("python_function", {}).get("predict_fn", "predict")
    fb.expect(
        predict_fn == "predict_proba",
        "it serves probabilities (predict_fn = predict_proba)",
        f"it serves {predict_fn}(), i.e. 0/1 labels: pass pyfunc_predict_fn='predict_proba' "
        "to log_model so that the endpoint answers with churn probabilities",
    )


# --- Task 2 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 2 · Set the alias",
    points=2,
    hint="client.set_registered_model_alias(MODEL_NAME, ALIAS, version.version), then "
    "aliased = client.get_model_version_by_alias(MODEL_NAME, ALIAS).",
)
def check_alias(fb: Feedback, aliased: Any, version: Any) -> None:
    """The alias exists on the lab's model and points at the version of Task 1."""
    if not _expect_version(fb, aliased, "aliased") or not _expect_version(fb, version):
        return
    current = _aliased_version(fb)
    if current is None:
        return
    if not fb.expect(
        str(current.version) == str(version.version),
        f"'{ALIAS}' points at version {current.version}, the one you registered in Task 1",
        f"'{ALIAS}' points at version {current.version}, but the version you registered in "
        f"Task 1 is {version.version}: set the alias to version.version",
    ):
        return
    fb.expect(
        str(aliased.version) == str(current.version) and aliased.name == MODEL_NAME,
        "`aliased` is the version the alias points at",
        f"`aliased` is version {aliased.version} of '{aliased.name}': read it back with "
        "client.get_model_version_by_alias(MODEL_NAME, ALIAS)",
    )


# --- Task 3 -------------------------------------------------------------------------------


def _check_uri(fb: Feedback, model_uri: str) -> None:
    uri = model_uri.strip()
    if uri == MODEL_URI:
        fb.good.append(f"the model URI {MODEL_URI} serves whatever version '{ALIAS}' marks")
        return
    if not uri.startswith("models:/"):
        fb.problems.append(
            f"'{uri}' is not a registry URI: serve '{MODEL_URI}' (models:/<name>@<alias>)"
        )
        return
    name, sep, alias = uri.removeprefix("models:/").partition("@")
    if not sep:
        fb.problems.append(
            f"'{uri}' pins a version; serve by alias, '{MODEL_URI}', so that moving the "
            "alias changes what a restarted server serves"
        )
    elif name != MODEL_NAME:
        close = difflib.get_close_matches(name, [MODEL_NAME], n=1)
        typo = " (a typo?)" if close else ""
        fb.problems.append(f"'{uri}' names the model '{name}'{typo}, not '{MODEL_NAME}'")
    elif alias != ALIAS:
        fb.problems.append(f"'{uri}' asks for the alias '{alias}', not '{ALIAS}'")


def _ping(url: str) -> int | None:
    import requests

    try:
        return requests.get(url.rstrip("/") + "/ping", timeout=5).status_code
    except requests.RequestException:
        return None


@task_check(
    LAB,
    "Task 3 · Serve the aliased model",
    points=2,
    hint="model_uri = f'models:/{MODEL_NAME}@{ALIAS}'; "
    "server = stack.enter_context(model_server(model_uri)); url = server.url",
)
def check_server(fb: Feedback, model_uri: Any, url: Any) -> None:
    """The URI names the alias, and the URL answers ``/ping``."""
    if fb.expect_type(model_uri, str, "model_uri"):
        _check_uri(fb, model_uri)
    if not fb.expect_type(url, str, "url"):
        if hasattr(url, "url"):
            fb.problems.append("pass the server's address, server.url, not the server")
        return
    if not url.startswith(("http://", "https://")):
        fb.problems.append(f"'{url}' is not an http:// address: use server.url")
        return
    status = _ping(url)
    fb.expect(
        status == 200,
        f"{url}/ping answers 200: the server is up",
        f"nothing answers at {url}/ping: is the server running? Start it in this "
        "notebook with stack.enter_context(model_server(model_uri))"
        if status is None
        else f"{url}/ping answers {status}, not 200",
    )


# --- Task 4 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 4 · Query the endpoint",
    points=2,
    hint="predictions = predict_churn(url, sample) sends the sample as dataframe_split.",
)
def check_predictions(fb: Feedback, predictions: Any, url: Any, sample: Any) -> None:
    """The student's predictions and the endpoint's own answer match the aliased model."""
    from utils.serving import ServingError, predict_churn

    if not fb.expect_type(sample, pd.DataFrame, "sample"):
        return
    got = _as_array(predictions)
    if got is None:
        tip = (
            ": keep only the answer's list, response.json()['predictions']"
            if isinstance(predictions, dict) and "predictions" in predictions
            else ""
        )
        fb.problems.append(
            f"predictions should be an array (what predict_churn returns), not a "
            f"{type(predictions).__name__}{tip}"
        )
        return
    if not fb.expect(
        len(got) == len(sample),
        f"one prediction per customer ({len(sample)})",
        f"{len(got)} predictions for {len(sample)} customers: send the whole sample",
    ):
        return
    local = np.asarray(_load_aliased().predict(sample), dtype=float)
    if got.shape != local.shape:
        fb.problems.append(
            f"predictions have the shape {got.shape}, the aliased model gives {local.shape}: "
            "keep the server's answer as it is (both columns)"
        )
        return
    fb.expect(
        np.allclose(got, local, rtol=0, atol=1e-9),
        f"they match {MODEL_URI} loaded locally",
        f"they differ from {MODEL_URI} loaded locally (largest gap "
        f"{np.abs(got - local).max():.3g}): query the endpoint with this sample",
    )
    if not isinstance(url, str):
        fb.problems.append(f"url should be the server's address (a str), not {type(url).__name__}")
        return
    try:
        served = np.asarray(predict_churn(url, sample), dtype=float)
    except ServingError as error:
        fb.problems.append(f"the check's own request failed: {error}")
        return
    fb.expect(
        served.shape == local.shape and np.allclose(served, local, rtol=0, atol=1e-9),
        f"the endpoint at {url} serves the aliased model",
        f"the endpoint at {url} answers differently from {MODEL_URI}: it serves another "
        "model or version; restart it after moving the alias",
    )


# --- Task 5 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 5 · Read an error response",
    points=2,
    hint=f"try: predict_churn(url, sample.drop(columns='{DROPPED_COLUMN}')) "
    "except ServingError as exc: error = exc",
)
def check_error(fb: Feedback, error: Any) -> None:
    """The bad request was refused with a 400 that names the missing column."""
    from utils.serving import ServingError

    if not fb.expect_type(error, ServingError, "error"):
        if isinstance(error, KeyError):
            fb.problems.append(
                "a KeyError comes from pandas on your side: drop the column from the frame "
                "you send and let the server refuse it"
            )
        return
    if not fb.expect(
        error.status == 400,
        "the server answered 400: the request does not fit the signature",
        f"the error has status {error.status}, not 400: "
        + (
            "the request never reached a server (check the url)"
            if error.status is None
            else "send the sample without one column"
        ),
    ):
        return
    fb.expect(
        error.error_code == "INVALID_PARAMETER_VALUE",
        "MLflow's error code is INVALID_PARAMETER_VALUE",
        f"the error code is {error.error_code}, not INVALID_PARAMETER_VALUE: send valid "
        "JSON with one column missing",
    )
    fb.expect(
        DROPPED_COLUMN in str(error),
        f"the message names the missing column '{DROPPED_COLUMN}'",
        f"the message does not name '{DROPPED_COLUMN}': leave out that column, not another",
    )


# --- Grading from MLflow state ------------------------------------------------------------

#: The tasks graded from MLflow state alone, by :func:`grade_state`.
STATE_TASKS: tuple[str, ...] = ("Task 1 · Log and register the model", "Task 2 · Set the alias")


def grade_state(experiment_id: str, user: str | None = None) -> list[Feedback]:
    """Grade Tasks 1 and 2 from the registry alone: ``user``'s model, its versions, its alias.

    Task 1 passes on a version logged in a run of the student's experiment, with a
    signature, serving probabilities; Task 2 when ``@champion`` points at such a version.
    """
    global MODEL_NAME, MODEL_URI
    from mlflow.exceptions import MlflowException

    from utils.grading import best_of

    saved = MODEL_NAME, MODEL_URI
    MODEL_NAME = model_name_for("lab05-churn", user or "")
    MODEL_URI = f"models:/{MODEL_NAME}@{ALIAS}"
    try:
        try:
            versions = _client().search_model_versions(f"name = '{MODEL_NAME}'")
        except MlflowException:
            versions = []
        versions = sorted(versions, key=lambda v: int(v.version), reverse=True)
        none = f"the registry has no version of '{MODEL_NAME}': register the model of Task 1"
        registered = [lambda fb, v=v: check_registration.__wrapped__(fb, v) for v in versions]
        task1 = best_of(LAB, STATE_TASKS[0], registered, none)
        aliased = []
        try:
            current = _client().get_model_version_by_alias(MODEL_NAME, ALIAS)
        except MlflowException:
            current = None
        if current is not None:

            def alias_check(fb: Feedback, version: Any = current) -> None:
                check_registration.__wrapped__(fb, version)
                if not fb.problems:
                    check_alias.__wrapped__(fb, version, version)

            aliased = [alias_check]
        task2 = best_of(
            LAB, STATE_TASKS[1], aliased, f"'{MODEL_NAME}' has no alias '{ALIAS}': set it in Task 2"
        )
    finally:
        MODEL_NAME, MODEL_URI = saved
    return [task1, task2]
