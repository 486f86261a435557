"""Checks of lab 04, a custom pyfunc model with preprocessing, evaluated (after notebook 09).

The student writes ``clean_inputs`` (spell the categories of raw-style rows as in
training), a ``PythonModel`` that cleans, scores and decides with a threshold from
``model_config``, logs it with a signature and an input example, and evaluates it with
``mlflow.models.evaluate``. Tasks 3 and 4 inspect the real logged model and the real
evaluation run in the tracking store, not the notebook's variables. Introduced in lab 04.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pandas as pd

from utils.checks import Feedback, task_check
from utils.data import TARGET, load_dataset
from utils.features import FEATURES, NUMERIC, split_features
from utils.i18n import N_, _

LAB = "lab04"
#: The retention team's decision threshold, logged in the model's ``model_config``.
THRESHOLD = 0.3
#: The month the model is evaluated on.
EVALUATION_MONTH = "2025-04"
#: The ROC AUC the packaged model must reach on that month.
MIN_AUC = 0.75
#: The text columns whose spelling varies in raw-style inputs.
TEXT_COLUMNS: list[str] = ["region", "plan", "contract_type", "payment_method"]
#: The two columns the model returns, and the values of ``decision``.
OUTPUTS: list[str] = ["churn_probability", "decision"]
DECISIONS: tuple[str, str] = ("contact", "no action")
#: The signature type each input must have (integer columns may also be ``double``).
FLOAT_COLUMNS: list[str] = ["monthly_fee", "hours_watched"]
SAMPLE_ROWS = 300


def expected_type(column: str) -> tuple[str, ...]:
    """Return the signature types accepted for an input column.

    Args:
        column: A name from ``utils.features.FEATURES``.

    Returns:
        The MLflow type names allowed, e.g. ``("double",)`` for ``monthly_fee``.
    """
    if column in FLOAT_COLUMNS:
        return ("double",)
    if column in NUMERIC:
        return ("long", "double")
    if column == "autopay":
        return ("boolean",)
    return ("string",)


def raw_style(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of clean features with the categories spelled as a partner might.

    Row by row the text columns cycle through three spellings: upper case, lower case
    with spaces around, and unchanged, so that every spelling meets every column.

    Args:
        frame: Clean features (a monthly batch's :data:`~utils.features.FEATURES`).

    Returns:
        A new frame with the same index and columns; only :data:`TEXT_COLUMNS` differ.
    """
    messy = frame.copy()
    for offset, column in enumerate(TEXT_COLUMNS):
        if column not in messy.columns:
            continue
        values = messy[column].astype("str")
        kind = (np.arange(len(messy)) + offset) % 3
        spelled = np.where(
            kind == 0,
            values.str.upper(),
            np.where(kind == 1, " " + values.str.lower() + "  ", values),
        )
        messy[column] = pd.Series(spelled, index=messy.index, dtype="str").where(
            messy[column].notna()
        )
    return messy


@functools.cache
def _evaluation_features() -> pd.DataFrame:
    """Return the evaluation month's features (read once per process)."""
    X, _target = split_features(load_dataset(f"monthly/{EVALUATION_MONTH}"))
    return X


def clean_sample() -> pd.DataFrame:
    """Return a fixed random sample of the evaluation month, clean: what the checks score.

    A random sample, not the first rows: the batches list long-standing customers first,
    who almost never churn, and the decisions must be tested on both sides of a threshold.
    """
    return _evaluation_features().sample(SAMPLE_ROWS, random_state=0).sort_index()


def _first_difference(got: pd.Series, want: pd.Series, given: pd.Series) -> str | None:
    """Describe the first row where ``got`` differs from ``want``, or return ``None``."""
    wrong = ~((got == want) | (got.isna() & want.isna()))
    if not wrong.any():
        return None
    row = wrong.idxmax()
    return _(
        "{given!r} came back as {got!r}, expected {want!r} ({wrong} of {rows} rows wrong)"
    ).format(given=given[row], got=got[row], want=want[row], wrong=int(wrong.sum()), rows=len(got))


# --- Task 1 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 1 · Clean raw inputs"),
    points=2,
    hint=N_(
        "For each text column: strip the spaces, lower-case, map to the training spelling "
        "(vocabulary[column]), and keep what the map does not know; work on frame.copy()."
    ),
)
def check_clean_inputs(fb: Feedback, clean_inputs: Any) -> None:
    """Check the student's preprocessing function on raw-style rows of the evaluation month."""
    if not fb.expect(
        callable(clean_inputs),
        _("clean_inputs is a function"),
        _("clean_inputs should be a function, not a {type}").format(
            type=type(clean_inputs).__name__
        ),
    ):
        return
    clean = clean_sample()
    messy = raw_style(clean)
    given = messy.copy()
    result = clean_inputs(given)
    if result is Ellipsis:
        fb.unfinished = True
        return
    if not fb.expect_type(result, pd.DataFrame, _("what clean_inputs returns")):
        return
    fb.expect(
        given.equals(messy),
        _("the frame passed in is left as it was"),
        _("clean_inputs changed the frame it was given: work on a copy (frame.copy())"),
    )
    if not fb.expect(
        list(result.columns) == list(messy.columns) and result.index.equals(messy.index),
        _("the result has the input's columns and index"),
        _(
            "the result has columns {columns} and {rows} rows; return every column of the "
            "input ({expected} rows), in the same order, on the same index"
        ).format(columns=list(result.columns), rows=len(result), expected=len(messy)),
    ):
        return
    wrong = []
    for column in TEXT_COLUMNS:
        problem = _first_difference(result[column], clean[column], messy[column])
        if problem:
            wrong.append(f"{column}: {problem}")
    fb.expect(
        not wrong,
        _("every category is spelled as in training"),
        _("some categories are not spelled as in training; {details}").format(
            details="; ".join(wrong)
        ),
    )
    others = [c for c in messy.columns if c not in TEXT_COLUMNS]
    changed = [c for c in others if not result[c].equals(messy[c])]
    fb.expect(
        not changed,
        _("the other columns are untouched"),
        _("clean_inputs changed columns it should leave alone: {columns}").format(columns=changed),
    )
    odd = messy.head(2).copy()
    odd["plan"] = ["  Platinum ", "Gold"]
    kept = clean_inputs(odd)
    if isinstance(kept, pd.DataFrame) and "plan" in kept.columns:
        fb.expect(
            list(kept["plan"]) == ["Platinum", "Gold"],
            _("an unknown spelling is kept (without its spaces)"),
            _(
                "unknown plans '  Platinum ' and 'Gold' came back as {plans}; keep a value the "
                "vocabulary does not know, only stripped (map(...).fillna(stripped))"
            ).format(plans=list(kept["plan"])),
        )


# --- Task 2 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 2 · The custom model"),
    points=3,
    hint=N_(
        "predict should: clean = clean_inputs(model_input); probability = "
        "self.pipeline.predict_proba(clean[FEATURES])[:, 1]; return a DataFrame with "
        "churn_probability and decision (np.where(probability >= self.threshold, ...))."
    ),
)
def check_custom_model(fb: Feedback, scorer: Any, pipeline: Any) -> None:
    """Check the student's ``PythonModel`` instance in memory, before it is logged."""
    import mlflow

    if not fb.expect(
        isinstance(scorer, mlflow.pyfunc.PythonModel),
        _("scorer is a mlflow.pyfunc.PythonModel"),
        _(
            "scorer should be an instance of your class, which subclasses "
            "mlflow.pyfunc.PythonModel; got a {type}"
        ).format(type=type(scorer).__name__),
    ):
        return
    clean = clean_sample()
    output = scorer.predict(None, raw_style(clean))
    if output is Ellipsis:
        fb.unfinished = True
        return
    _check_output(fb, output, clean, getattr(scorer, "threshold", None), "predict")
    if isinstance(output, pd.DataFrame) and "churn_probability" in output.columns:
        want = pipeline.predict_proba(clean[FEATURES])[:, 1]
        got = pd.to_numeric(output["churn_probability"], errors="coerce").to_numpy()
        fb.expect(
            np.allclose(got, want, atol=1e-9),
            _("raw-style rows get the probabilities of the same rows spelled cleanly"),
            _(
                "raw-style rows get other probabilities than the same rows spelled cleanly: "
                "clean the input with clean_inputs before scoring, and take column 1 of "
                "predict_proba (the probability of churn)"
            ),
        )


def _check_output(
    fb: Feedback, output: Any, inputs: pd.DataFrame, threshold: Any, what: str, fix: str = ""
) -> None:
    """Check the shape and content of the model's output for ``inputs``.

    Args:
        fb: The feedback to record into.
        output: What the model returned.
        inputs: The rows it was given.
        threshold: The threshold its decisions must follow (skipped when not a number).
        what: How to name the model in messages (in the student's language).
        fix: Advice added when the decisions follow another threshold.
    """
    if not fb.expect_type(output, pd.DataFrame, _("what {what} returns").format(what=what)):
        return
    missing = [c for c in OUTPUTS if c not in output.columns]
    if not fb.expect(
        not missing,
        _("{what} returns the columns {columns}").format(what=what, columns=OUTPUTS),
        _("{what} returns the columns {got}; expected {columns} (missing {missing})").format(
            what=what, got=list(output.columns), columns=OUTPUTS, missing=missing
        ),
    ):
        return
    fb.expect(
        len(output) == len(inputs),
        _("{what} gives one row per customer").format(what=what),
        _("{what} gave {rows} rows for {customers} customers").format(
            what=what, rows=len(output), customers=len(inputs)
        ),
    )
    probability = pd.to_numeric(output["churn_probability"], errors="coerce")
    if not fb.expect(
        bool(probability.notna().all() and probability.between(0, 1).all()),
        _("every churn_probability is in [0, 1]"),
        _(
            "churn_probability holds values outside [0, 1] (or not numbers): return "
            "predict_proba(...)[:, 1], not predict(...) or the whole matrix"
        ),
    ):
        return
    decisions = set(output["decision"])
    if not fb.expect(
        decisions <= set(DECISIONS),
        _("decision holds only {decisions}").format(decisions=DECISIONS),
        _("decision holds {values}; use exactly 'contact' and 'no action'").format(
            values=sorted(map(str, decisions))
        ),
    ):
        return
    if isinstance(threshold, int | float) and not isinstance(threshold, bool):
        expected = np.where(probability.to_numpy() >= threshold, *DECISIONS)
        wrong = int((output["decision"].to_numpy() != expected).sum())
        fb.expect(
            wrong == 0,
            _("decision is 'contact' exactly when churn_probability >= {threshold}").format(
                threshold=threshold
            ),
            _(
                "{wrong} of {count} decisions disagree with the threshold {threshold}: "
                "'contact' when churn_probability >= threshold, else 'no action'{fix}"
            ).format(wrong=wrong, count=len(expected), threshold=threshold, fix=fix),
        )


# --- Task 3 -------------------------------------------------------------------------------


def _model_info(fb: Feedback, model_uri: Any) -> Any | None:
    """Return the logged model's ``ModelInfo``, or record why it cannot be read."""
    import mlflow

    if not fb.expect_type(model_uri, str, "model_uri"):
        if hasattr(model_uri, "model_uri"):
            fb.problems.append(_("pass the URI string, not the ModelInfo: info.model_uri"))
        return None
    try:
        return mlflow.models.get_model_info(model_uri)
    except Exception as error:  # noqa: BLE001 - any failure to read becomes a message
        fb.problems.append(
            _(
                "MLflow finds no model at '{uri}' ({error}): pass the model_uri of the "
                "ModelInfo that mlflow.pyfunc.log_model returned"
            ).format(uri=model_uri, error=type(error).__name__)
        )
        return None


def _check_signature(fb: Feedback, info: Any) -> None:
    """Check that the signature describes every input with the right type, and the outputs."""
    signature = info.signature
    if not fb.expect(
        signature is not None,
        _("the model has a signature"),
        _(
            "the model has no signature: pass signature=infer_signature(example, "
            "scorer.predict(None, example)) to log_model"
        ),
    ):
        return
    if not fb.expect(
        not signature.inputs.is_tensor_spec(),
        _("the signature is column-based"),
        _(
            "the signature is tensor-based: infer it from a DataFrame of the features, not "
            "from a NumPy array"
        ),
    ):
        return
    types = {spec.name: spec.type.name for spec in signature.inputs.inputs}
    missing = [c for c in FEATURES if c not in types]
    fb.expect(
        not missing,
        _("the signature lists every feature"),
        _(
            "the signature lacks the columns {missing}: infer it from rows with every feature"
        ).format(missing=missing),
    )
    wrong = [
        _("{column} is {type}, expected {expected}").format(
            column=column, type=types[column], expected=_(" or ").join(expected_type(column))
        )
        for column in FEATURES
        if column in types and types[column] not in expected_type(column)
    ]
    fb.expect(
        not wrong,
        _("every feature has the right type"),
        _(
            "the signature's {details}: infer it from the clean features (X_train.head(3)), "
            "not from converted or raw text data"
        ).format(details="; ".join(wrong)),
    )
    extra = [c for c in types if c not in FEATURES]
    fb.expect(
        not extra,
        _("the signature asks for no column beyond the features"),
        _(
            "the signature also requires {extra}: infer it from the features only (no label, "
            "no id), or every caller must send them"
        ).format(extra=extra),
    )
    outputs = signature.outputs.input_names() if signature.outputs is not None else []
    fb.expect(
        outputs == OUTPUTS,
        _("the signature's outputs are {outputs}").format(outputs=OUTPUTS),
        _(
            "the signature's outputs are {outputs}; expected {expected}: infer it from the "
            "model's own output, scorer.predict(None, example)"
        ).format(outputs=outputs, expected=OUTPUTS),
    )


@task_check(
    LAB,
    N_("Task 3 · Log it with a signature and an input example"),
    points=3,
    hint=N_(
        "mlflow.pyfunc.log_model(name=..., python_model=scorer, signature=signature, "
        "input_example=example, model_config={'threshold': THRESHOLD}, "
        "pip_requirements=REQUIREMENTS); then model_uri = info.model_uri."
    ),
)
def check_logged_model(fb: Feedback, model_uri: Any) -> None:
    """Check the real logged model: flavor, signature, input example, config, predictions."""
    import mlflow

    info = _model_info(fb, model_uri)
    if info is None:
        return
    loader = info.flavors.get("python_function", {}).get("loader_module")
    if not fb.expect(
        loader == "mlflow.pyfunc.model",
        _("the model is a custom pyfunc model"),
        _(
            "the model is loaded by {loader}, so it is not your custom model: log the scorer "
            "with mlflow.pyfunc.log_model(python_model=scorer, ...)"
        ).format(loader=loader),
    ):
        return
    _check_signature(fb, info)
    fb.expect(
        info.saved_input_example_info is not None,
        _("the model has an input example"),
        _("the model has no input example: pass input_example=example (a few clean rows)"),
    )
    config = info.flavors["python_function"].get("config") or {}
    threshold = config.get("threshold")
    fb.expect(
        threshold == THRESHOLD,
        _("model_config sets the threshold to {threshold}").format(threshold=THRESHOLD),
        _("the model's config is {config}: pass model_config={{'threshold': {threshold}}}").format(
            config=config, threshold=THRESHOLD
        ),
    )
    try:
        loaded = mlflow.pyfunc.load_model(model_uri)
        clean = clean_sample()
        output = loaded.predict(raw_style(clean))
        cleanly = loaded.predict(clean)
    except Exception as error:  # noqa: BLE001 - a failure to load or predict becomes a message
        fb.problems.append(
            _(
                "loading the model and predicting on raw-style rows raised {error}: {message}"
            ).format(error=type(error).__name__, message=str(error)[-300:])
        )
        return
    _check_output(
        fb,
        output,
        clean,
        THRESHOLD,
        _("the loaded model"),
        fix=_("; load_context must read the threshold from context.model_config"),
    )
    if isinstance(output, pd.DataFrame) and "churn_probability" in output.columns:
        same = np.allclose(
            pd.to_numeric(output["churn_probability"], errors="coerce"),
            pd.to_numeric(cleanly["churn_probability"], errors="coerce"),
            atol=1e-9,
        )
        fb.expect(
            same,
            _("the loaded model cleans raw-style rows before scoring them"),
            _(
                "the loaded model gives raw-style rows other probabilities than the same rows "
                "spelled cleanly: predict must call clean_inputs first"
            ),
        )


# --- Task 4 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 4 · Evaluate it"),
    points=2,
    hint=N_(
        "Inside mlflow.start_run(): mlflow.models.evaluate(model_uri, evaluation_data, "
        "targets=TARGET, predictions='churn_probability', extra_metrics=[roc_auc]); then "
        "evaluation_run_id = run.info.run_id."
    ),
)
def check_evaluation(fb: Feedback, evaluation_run_id: Any, model_uri: Any) -> None:
    """Check the real evaluation run: it evaluated the logged model on April, AUC high enough."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if not fb.expect_type(evaluation_run_id, str, "evaluation_run_id"):
        if hasattr(evaluation_run_id, "info"):
            fb.problems.append(_("pass the run's id, not the run: run.info.run_id"))
        return
    try:
        run = mlflow.get_run(evaluation_run_id)
    except MlflowException:
        fb.problems.append(
            _(
                "no run has the id '{run_id}': take it from the run you evaluated in, "
                "run.info.run_id"
            ).format(run_id=evaluation_run_id)
        )
        return
    aucs = {k: v for k, v in run.data.metrics.items() if k.split("/")[0] == "roc_auc"}
    if run.data.metrics:
        no_auc = _(
            "the run has no roc_auc metric (it has {metrics}): pass extra_metrics=[roc_auc] "
            "and predictions='churn_probability' to mlflow.models.evaluate"
        )
    else:
        no_auc = _(
            "the run has no roc_auc metric (it has none): pass extra_metrics=[roc_auc] "
            "and predictions='churn_probability' to mlflow.models.evaluate"
        )
    if not fb.expect(
        bool(aucs),
        _("the run has a roc_auc metric"),
        no_auc.format(metrics=sorted(run.data.metrics)),
    ):
        return
    auc = max(aucs.values())
    fb.expect(
        auc >= MIN_AUC,
        _("ROC AUC {auc:.3f} reaches {min_auc}").format(auc=auc, min_auc=MIN_AUC),
        _(
            "ROC AUC {auc:.3f} is below {min_auc}: evaluate the score (predictions="
            "'churn_probability'), not the decision, with the real labels as targets"
        ).format(auc=auc, min_auc=MIN_AUC),
    )
    model_ids = [m.model_id for m in (run.inputs.model_inputs or [])]
    logged_id = model_uri.split("/")[-1] if isinstance(model_uri, str) else None
    if model_ids:
        other_model = _(
            "the run evaluated {models}, not your model {logged}: pass model_uri (a "
            "models:/m-... URI) as the first argument of evaluate"
        )
    else:
        other_model = _(
            "the run evaluated no logged model, not your model {logged}: pass model_uri (a "
            "models:/m-... URI) as the first argument of evaluate"
        )
    fb.expect(
        logged_id in model_ids,
        _("the run evaluated the model you logged in Task 3"),
        other_model.format(models=model_ids, logged=logged_id),
    )
    rows = [
        int(json.loads(d.dataset.profile).get("num_rows", 0))
        for d in run.inputs.dataset_inputs
        if d.dataset.profile
    ]
    month = len(_evaluation_features())
    if rows:
        other_rows = _(
            "the evaluation data had {rows} rows; evaluate on the whole {month} batch "
            "({count:,} customers) with its {target} column"
        )
    else:
        other_rows = _(
            "the evaluation data had no recorded rows; evaluate on the whole {month} batch "
            "({count:,} customers) with its {target} column"
        )
    fb.expect(
        month in rows,
        _("the evaluation used all {count:,} customers of {month}").format(
            count=month, month=EVALUATION_MONTH
        ),
        other_rows.format(rows=rows, month=EVALUATION_MONTH, count=month, target=TARGET),
    )


# --- Grading from MLflow state ------------------------------------------------------------

#: The tasks graded from MLflow state alone, by :func:`grade_state`.
STATE_TASKS: tuple[str, ...] = (
    N_("Task 3 · Log it with a signature and an input example"),
    N_("Task 4 · Evaluate it"),
)


def grade_state(experiment_id: str, user: str | None = None) -> list[Feedback]:
    """Grade Tasks 3 and 4 from the experiment alone: its logged models and its runs.

    Task 3 passes on a custom pyfunc model logged in the experiment with a signature, an
    input example and the threshold in its config, which cleans raw rows when loaded;
    Task 4 on a run that evaluated one of the experiment's logged models on the whole
    month with a high enough AUC.
    """
    import mlflow

    from utils.grading import best_of

    client = mlflow.MlflowClient()
    models = client.search_logged_models(experiment_ids=[experiment_id], max_results=50)
    models = sorted(models, key=lambda m: m.creation_timestamp, reverse=True)
    logged = [
        lambda fb, m=m: check_logged_model.__wrapped__(fb, f"models:/{m.model_id}") for m in models
    ]
    ids = {m.model_id for m in models}
    runs = client.search_runs(
        [experiment_id], max_results=200, order_by=["attributes.start_time DESC"]
    )
    evaluated = []
    for found in runs:
        if not any(k.split("/")[0] == "roc_auc" for k in found.data.metrics):
            continue
        run = client.get_run(found.info.run_id)  # a search leaves out the model inputs
        inputs = [m.model_id for m in (run.inputs.model_inputs or []) if m.model_id in ids]
        if inputs:
            evaluated.append(
                lambda fb, r=run, i=inputs[0]: check_evaluation.__wrapped__(
                    fb, r.info.run_id, f"models:/{i}"
                )
            )
    return [
        best_of(LAB, STATE_TASKS[0], logged, _("the experiment holds no logged model: do Task 3")),
        best_of(
            LAB,
            STATE_TASKS[1],
            evaluated,
            _(
                "no run of the experiment evaluated one of its logged models with a roc_auc "
                "metric: do Task 4"
            ),
        ),
    ]
