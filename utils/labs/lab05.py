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
from utils.i18n import N_, _
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
            _(
                "the registry has no model named '{name}': register the logged model "
                "with mlflow.register_model(model_info.model_uri, MODEL_NAME)"
            ).format(name=MODEL_NAME)
        )
        return None
    fb.good.append(_("the registry holds the model '{name}'").format(name=MODEL_NAME))
    return model


def _aliased_version(fb: Feedback) -> Any | None:
    """Return the version that :data:`ALIAS` points at, or record why there is none."""
    model = _registered_model(fb)
    if model is None:
        return None
    aliases = dict(getattr(model, "aliases", {}) or {})
    if ALIAS not in aliases:
        near = [a for a in aliases if a.lower() == ALIAS.lower()]
        if aliases:
            which = _("its aliases are {aliases}").format(aliases=sorted(aliases))
        else:
            which = _("it has no alias yet")
        if near:
            text = _(
                "'{name}' has no alias '{alias}': {which} (aliases are case-sensitive: "
                "'{near}' is not '{alias}')"
            )
        else:
            text = _("'{name}' has no alias '{alias}': {which}")
        fb.problems.append(
            text.format(name=MODEL_NAME, alias=ALIAS, which=which, near=near[0] if near else "")
        )
        return None
    return _client().get_model_version_by_alias(MODEL_NAME, ALIAS)


def _expect_version(fb: Feedback, version: Any, what: str = "version") -> bool:
    """Expect an MLflow ``ModelVersion`` (what ``mlflow.register_model`` returns)."""
    from mlflow.entities.model_registry import ModelVersion

    if not fb.expect_type(version, ModelVersion, what):
        if isinstance(version, str | int):
            fb.problems.append(
                _("pass the ModelVersion object that mlflow.register_model returns, not its number")
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
    N_("Task 1 · Log and register the model"),
    points=2,
    hint=N_(
        "Log inside `with mlflow.start_run():` with name='model' and "
        "pyfunc_predict_fn='predict_proba', then "
        "`version = mlflow.register_model(model_info.model_uri, MODEL_NAME)`."
    ),
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
        _("it is a version of '{name}'").format(name=MODEL_NAME),
        _("it is a version of '{got}', not of '{name}': register under MODEL_NAME").format(
            got=version.name, name=MODEL_NAME
        ),
    ):
        return
    if _registered_model(fb) is None:
        return
    if not fb.expect(
        bool(version.run_id),
        _("version {version} was logged in run {run}").format(
            version=version.version, run=str(version.run_id)[:8]
        ),
        _(
            "version {version} has no run: log the model inside "
            "`with mlflow.start_run():` before registering it"
        ).format(version=version.version),
    ):
        return
    try:
        run = _client().get_run(version.run_id)
    except MlflowException:
        fb.problems.append(
            _("the run {run_id} of version {version} is gone").format(
                run_id=version.run_id, version=version.version
            )
        )
        return
    current = _current_experiment_id()
    if current is not None:
        client = _client()
        fb.expect(
            run.info.experiment_id == current,
            _("the run belongs to this lab's experiment"),
            _(
                "the run belongs to the experiment '{theirs}', not to this lab's '{ours}': "
                "log the model here, in this notebook"
            ).format(
                theirs=client.get_experiment(run.info.experiment_id).name,
                ours=client.get_experiment(current).name,
            ),
        )
    info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/{version.version}")
    fb.expect(
        info.signature is not None,
        _("the model has a signature, so the server can check requests"),
        _("the model has no signature: pass signature=signature to log_model"),
    )
    predict_fn = info.flavors.get("python_function", {}).get("predict_fn", "predict")
    fb.expect(
        predict_fn == "predict_proba",
        _("it serves probabilities (predict_fn = predict_proba)"),
        _(
            "it serves {predict_fn}(), i.e. 0/1 labels: pass pyfunc_predict_fn='predict_proba' "
            "to log_model so that the endpoint answers with churn probabilities"
        ).format(predict_fn=predict_fn),
    )


# --- Task 2 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 2 · Set the alias"),
    points=2,
    hint=N_(
        "client.set_registered_model_alias(MODEL_NAME, ALIAS, version.version), then "
        "aliased = client.get_model_version_by_alias(MODEL_NAME, ALIAS)."
    ),
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
        _("'{alias}' points at version {version}, the one you registered in Task 1").format(
            alias=ALIAS, version=current.version
        ),
        _(
            "'{alias}' points at version {version}, but the version you registered in "
            "Task 1 is {yours}: set the alias to version.version"
        ).format(alias=ALIAS, version=current.version, yours=version.version),
    ):
        return
    fb.expect(
        str(aliased.version) == str(current.version) and aliased.name == MODEL_NAME,
        _("`aliased` is the version the alias points at"),
        _(
            "`aliased` is version {version} of '{name}': read it back with "
            "client.get_model_version_by_alias(MODEL_NAME, ALIAS)"
        ).format(version=aliased.version, name=aliased.name),
    )


# --- Task 3 -------------------------------------------------------------------------------


def _check_uri(fb: Feedback, model_uri: str) -> None:
    uri = model_uri.strip()
    if uri == MODEL_URI:
        fb.good.append(
            _("the model URI {uri} serves whatever version '{alias}' marks").format(
                uri=MODEL_URI, alias=ALIAS
            )
        )
        return
    if not uri.startswith("models:/"):
        fb.problems.append(
            _("'{uri}' is not a registry URI: serve '{model_uri}' (models:/<name>@<alias>)").format(
                uri=uri, model_uri=MODEL_URI
            )
        )
        return
    name, sep, alias = uri.removeprefix("models:/").partition("@")
    if not sep:
        fb.problems.append(
            _(
                "'{uri}' pins a version; serve by alias, '{model_uri}', so that moving the "
                "alias changes what a restarted server serves"
            ).format(uri=uri, model_uri=MODEL_URI)
        )
    elif name != MODEL_NAME:
        if difflib.get_close_matches(name, [MODEL_NAME], n=1):
            text = _("'{uri}' names the model '{name}' (a typo?), not '{model_name}'")
        else:
            text = _("'{uri}' names the model '{name}', not '{model_name}'")
        fb.problems.append(text.format(uri=uri, name=name, model_name=MODEL_NAME))
    elif alias != ALIAS:
        fb.problems.append(
            _("'{uri}' asks for the alias '{alias}', not '{wanted}'").format(
                uri=uri, alias=alias, wanted=ALIAS
            )
        )


def _ping(url: str) -> int | None:
    import requests

    try:
        return requests.get(url.rstrip("/") + "/ping", timeout=5).status_code
    except requests.RequestException:
        return None


@task_check(
    LAB,
    N_("Task 3 · Serve the aliased model"),
    points=2,
    hint=N_(
        "model_uri = f'models:/{MODEL_NAME}@{ALIAS}'; "
        "server = stack.enter_context(model_server(model_uri)); url = server.url"
    ),
)
def check_server(fb: Feedback, model_uri: Any, url: Any) -> None:
    """The URI names the alias, and the URL answers ``/ping``."""
    if fb.expect_type(model_uri, str, "model_uri"):
        _check_uri(fb, model_uri)
    if not fb.expect_type(url, str, "url"):
        if hasattr(url, "url"):
            fb.problems.append(_("pass the server's address, server.url, not the server"))
        return
    if not url.startswith(("http://", "https://")):
        fb.problems.append(_("'{url}' is not an http:// address: use server.url").format(url=url))
        return
    status = _ping(url)
    fb.expect(
        status == 200,
        _("{url}/ping answers 200: the server is up").format(url=url),
        _(
            "nothing answers at {url}/ping: is the server running? Start it in this "
            "notebook with stack.enter_context(model_server(model_uri))"
        ).format(url=url)
        if status is None
        else _("{url}/ping answers {status}, not 200").format(url=url, status=status),
    )


# --- Task 4 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 4 · Query the endpoint"),
    points=2,
    hint=N_("predictions = predict_churn(url, sample) sends the sample as dataframe_split."),
)
def check_predictions(fb: Feedback, predictions: Any, url: Any, sample: Any) -> None:
    """The student's predictions and the endpoint's own answer match the aliased model."""
    from utils.serving import ServingError, predict_churn

    if not fb.expect_type(sample, pd.DataFrame, "sample"):
        return
    got = _as_array(predictions)
    if got is None:
        if isinstance(predictions, dict) and "predictions" in predictions:
            text = _(
                "predictions should be an array (what predict_churn returns), not a {type}: "
                "keep only the answer's list, response.json()['predictions']"
            )
        else:
            text = _("predictions should be an array (what predict_churn returns), not a {type}")
        fb.problems.append(text.format(type=type(predictions).__name__))
        return
    if not fb.expect(
        len(got) == len(sample),
        _("one prediction per customer ({count})").format(count=len(sample)),
        _("{got} predictions for {count} customers: send the whole sample").format(
            got=len(got), count=len(sample)
        ),
    ):
        return
    local = np.asarray(_load_aliased().predict(sample), dtype=float)
    if got.shape != local.shape:
        fb.problems.append(
            _(
                "predictions have the shape {got}, the aliased model gives {expected}: "
                "keep the server's answer as it is (both columns)"
            ).format(got=got.shape, expected=local.shape)
        )
        return
    fb.expect(
        np.allclose(got, local, rtol=0, atol=1e-9),
        _("they match {uri} loaded locally").format(uri=MODEL_URI),
        _(
            "they differ from {uri} loaded locally (largest gap {gap:.3g}): query the "
            "endpoint with this sample"
        ).format(uri=MODEL_URI, gap=np.abs(got - local).max()),
    )
    if not isinstance(url, str):
        fb.problems.append(
            _("url should be the server's address (a str), not {type}").format(
                type=type(url).__name__
            )
        )
        return
    try:
        served = np.asarray(predict_churn(url, sample), dtype=float)
    except ServingError as error:
        fb.problems.append(_("the check's own request failed: {error}").format(error=error))
        return
    fb.expect(
        served.shape == local.shape and np.allclose(served, local, rtol=0, atol=1e-9),
        _("the endpoint at {url} serves the aliased model").format(url=url),
        _(
            "the endpoint at {url} answers differently from {uri}: it serves another "
            "model or version; restart it after moving the alias"
        ).format(url=url, uri=MODEL_URI),
    )


# --- Task 5 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 5 · Read an error response"),
    points=2,
    # DROPPED_COLUMN, written out so that the hint can be translated.
    hint=N_(
        "try: predict_churn(url, sample.drop(columns='tenure_months')) "
        "except ServingError as exc: error = exc"
    ),
)
def check_error(fb: Feedback, error: Any) -> None:
    """The bad request was refused with a 400 that names the missing column."""
    from utils.serving import ServingError

    if not fb.expect_type(error, ServingError, "error"):
        if isinstance(error, KeyError):
            fb.problems.append(
                _(
                    "a KeyError comes from pandas on your side: drop the column from the frame "
                    "you send and let the server refuse it"
                )
            )
        return
    if error.status is None:
        not_400 = _(
            "the error has status {status}, not 400: the request never reached a server "
            "(check the url)"
        )
    else:
        not_400 = _("the error has status {status}, not 400: send the sample without one column")
    if not fb.expect(
        error.status == 400,
        _("the server answered 400: the request does not fit the signature"),
        not_400.format(status=error.status),
    ):
        return
    fb.expect(
        error.error_code == "INVALID_PARAMETER_VALUE",
        _("MLflow's error code is INVALID_PARAMETER_VALUE"),
        _(
            "the error code is {code}, not INVALID_PARAMETER_VALUE: send valid "
            "JSON with one column missing"
        ).format(code=error.error_code),
    )
    fb.expect(
        DROPPED_COLUMN in str(error),
        _("the message names the missing column '{column}'").format(column=DROPPED_COLUMN),
        _("the message does not name '{column}': leave out that column, not another").format(
            column=DROPPED_COLUMN
        ),
    )


# --- Grading from MLflow state ------------------------------------------------------------

#: The tasks graded from MLflow state alone, by :func:`grade_state`.
STATE_TASKS: tuple[str, ...] = (
    N_("Task 1 · Log and register the model"),
    N_("Task 2 · Set the alias"),
)


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
        none = _("the registry has no version of '{name}': register the model of Task 1").format(
            name=MODEL_NAME
        )
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
            LAB,
            STATE_TASKS[1],
            aliased,
            _("'{name}' has no alias '{alias}': set it in Task 2").format(
                name=MODEL_NAME, alias=ALIAS
            ),
        )
    finally:
        MODEL_NAME, MODEL_URI = saved
    return [task1, task2]
