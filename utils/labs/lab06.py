"""Checks of lab 06: detect drift, retrain, and promote only a better challenger (after 14).

At the end of November 2025 the student checks the champion's inputs for drift
(November against the champion's training window), retrains a challenger on a recent
window, evaluates champion and challenger on a holdout month with
``mlflow.models.evaluate``, and moves the ``champion`` alias only if the validation gate
passes; then sees the gate reject a stale challenger. The checks recompute everything
from the data and read the student's real MLflow state: the drift statistics with
``utils.drift``, the runs and metrics the student logged, and where the registry's
aliases point, with each version's ROC AUC on the holdout computed by the check itself.
Introduced in lab 06.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from utils.checks import Feedback, task_check
from utils.data import PRICE_CHANGE_MONTH, load_months
from utils.drift import PSI_MAJOR, drift_report
from utils.features import CATEGORICAL, NUMERIC
from utils.registry import model_name_for

LAB = "lab06"
#: The registered model of the lab (prefixed with the student's name on a class server).
MODEL_NAME: str = model_name_for("lab06-churn")
#: The champion's training window.
TRAIN_START, TRAIN_END = "2025-01", "2025-03"
#: The new month whose inputs Task 1 checks for drift.
NEW_MONTH = "2025-11"
#: The labelled month both models are judged on (its labels arrived at the end of November).
HOLDOUT_MONTH = "2025-10"
#: The window of the stale challenger of Task 5.
STALE_START, STALE_END = "2025-04", "2025-06"
#: The gate: the challenger's ROC AUC must reach MIN_AUC and beat the champion's by MIN_GAIN.
MIN_AUC, MIN_GAIN = 0.75, 0.01


# --- Data and MLflow state ----------------------------------------------------------------


@functools.cache
def expected_drift() -> pd.DataFrame:
    """The drift report of NEW_MONTH against the training window, indexed by feature."""
    from utils.retraining import window_data

    reference, _ = window_data(TRAIN_START, TRAIN_END)
    current = load_months(NEW_MONTH, NEW_MONTH)
    return drift_report(reference, current, NUMERIC, CATEGORICAL).set_index("feature")


@functools.cache
def _holdout() -> tuple[pd.DataFrame, pd.Series]:
    from utils.retraining import window_data

    return window_data(HOLDOUT_MONTH, HOLDOUT_MONTH)


def _client() -> Any:
    import mlflow

    return mlflow.MlflowClient()


def _current_experiment_id() -> str | None:
    """Return the experiment the notebook selected (``mlflow.set_experiment`` records it)."""
    from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID

    return MLFLOW_EXPERIMENT_ID.get()


@functools.cache
def _version_auc(tracking_uri: str, name: str, version: str) -> float:
    import mlflow
    from sklearn.metrics import roc_auc_score

    X, y = _holdout()
    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))


def holdout_auc(version: str) -> float:
    """Return the ROC AUC of a version of the lab's model on the holdout month."""
    import mlflow

    return _version_auc(mlflow.get_tracking_uri(), MODEL_NAME, str(version))


def _alias_version(alias: str) -> str | None:
    """Return the version an alias of the lab's model points at, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def _expect_version(fb: Feedback, version: Any, what: str) -> bool:
    """Expect a ModelVersion of the lab's model, as ``mlflow.register_model`` returns."""
    if not all(hasattr(version, a) for a in ("name", "version", "run_id")):
        fb.problems.append(
            f"{what} should be the ModelVersion that mlflow.register_model returns, not a "
            f"{type(version).__name__}"
        )
        return False
    return fb.expect(
        version.name == MODEL_NAME,
        f"{what} is version {version.version} of '{MODEL_NAME}'",
        f"{what} is a version of '{version.name}', not of '{MODEL_NAME}': register under "
        "MODEL_NAME",
    )


def _expect_run_here(fb: Feedback, run_id: str, what: str) -> Any | None:
    """Expect a run of this lab's experiment; return it."""
    from mlflow.exceptions import MlflowException

    try:
        run = _client().get_run(run_id)
    except MlflowException:
        fb.problems.append(f"the run {run_id} of {what} does not exist in this store")
        return None
    current = _current_experiment_id()
    if current is not None and run.info.experiment_id != current:
        fb.problems.append(
            f"{what} was logged in another experiment "
            f"('{_client().get_experiment(run.info.experiment_id).name}'): run it in this notebook"
        )
        return None
    return run


# --- Task 1 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 1 · Detect drift",
    points=2,
    hint="report = drift_report(X_train, november, NUMERIC, CATEGORICAL); the features whose "
    "PSI is above 0.25 (the column `drifted`) have drifted.",
)
def check_drift(fb: Feedback, report: Any, drifted: Any) -> None:
    """The report compares November with the training window; the list names what drifted."""
    expected = expected_drift()
    if fb.expect_type(report, pd.DataFrame, "report") and fb.expect(
        {"feature", "psi"} <= set(report.columns),
        "the report has the columns feature and psi",
        f"the report has the columns {list(report.columns)}: use utils.drift.drift_report",
    ):
        theirs = report.drop_duplicates("feature").set_index("feature")["psi"]
        missing = [f for f in expected.index if f not in theirs.index]
        if missing:
            fb.problems.append(
                f"the report lacks {missing}: pass NUMERIC and CATEGORICAL to drift_report"
            )
        else:
            gaps = (theirs.reindex(expected.index) - expected["psi"]).abs()
            fee = float(theirs["monthly_fee"])
            fb.expect(
                bool((gaps < 1e-6).all()),
                f"it compares {NEW_MONTH} with the training window {TRAIN_START}..{TRAIN_END}",
                f"the report gives monthly_fee a PSI of {fee:.3f}, but {NEW_MONTH} against the "
                f"training window {TRAIN_START}..{TRAIN_END} gives "
                f"{expected.loc['monthly_fee', 'psi']:.3f}: the reference must be X_train and "
                "the current data November's batch",
            )
    if not isinstance(drifted, Iterable) or isinstance(drifted, str | bytes | pd.DataFrame):
        fb.problems.append(
            f"drifted should be a list of feature names, such as ['age'], not a "
            f"{type(drifted).__name__}"
        )
        return
    names = [str(name) for name in drifted]
    unknown = [n for n in names if n not in expected.index]
    if unknown:
        fb.problems.append(f"{unknown} are not features of the model: use names from FEATURES")
    truly = expected.index[expected["psi"] > PSI_MAJOR].tolist()
    for feature in truly:
        psi = expected.loc[feature, "psi"]
        fb.expect(
            feature in names,
            f"{feature} drifted (PSI {psi:.2f}) and your list has it",
            f"{feature} drifted (PSI {psi:.2f}) but your list misses it",
        )
    for feature in [n for n in names if n in expected.index and n not in truly]:
        psi = expected.loc[feature, "psi"]
        level = "moved moderately" if psi > 0.1 else "is stable"
        fb.problems.append(
            f"{feature} has a PSI of {psi:.3f}: it {level} but is below {PSI_MAJOR}, so it "
            "has not drifted by the lesson's rule"
        )


# --- Task 2 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 2 · Retrain on a recent window",
    points=2,
    hint=f"A window after the price change whose labels are known and that ends before the "
    f"holdout: train_start='{PRICE_CHANGE_MONTH}', train_end='2025-09'. Log the params, the "
    "model, register it and set the alias 'challenger'.",
)
def check_challenger(fb: Feedback, challenger_version: Any) -> None:
    """The challenger is registered from a run of this lab, on a sound window, aliased."""
    if not _expect_version(fb, challenger_version, "challenger_version"):
        return
    run = _expect_run_here(fb, challenger_version.run_id, "the challenger")
    if run is None:
        return
    params = run.data.params
    if not fb.expect(
        {"train_start", "train_end"} <= set(params),
        "its run records the training window",
        f"its run has the params {sorted(params)}: log the window with "
        "mlflow.log_params({'train_start': ..., 'train_end': ...})",
    ):
        return
    start, end = params["train_start"], params["train_end"]
    fb.expect(
        start >= PRICE_CHANGE_MONTH,
        f"the window {start}..{end} starts after the price change",
        f"the window starts in {start}, before the price change ({PRICE_CHANGE_MONTH}): the "
        "challenger would learn the old relation between fee and churn",
    )
    fb.expect(
        start <= end < HOLDOUT_MONTH,
        f"it ends before the holdout month {HOLDOUT_MONTH}",
        f"the window {start}..{end} is not before the holdout month {HOLDOUT_MONTH}: the "
        "challenger would be judged on data it trained on"
        if start <= end
        else f"train_start {start} is after train_end {end}",
    )
    aliased = _alias_version("challenger")
    fb.expect(
        aliased == str(challenger_version.version),
        f"the alias 'challenger' points at version {challenger_version.version}",
        f"the alias 'challenger' points at {'version ' + aliased if aliased else 'nothing'}, "
        f"not at version {challenger_version.version}: "
        "client.set_registered_model_alias(MODEL_NAME, 'challenger', challenger_version.version)",
    )


# --- Task 3 -------------------------------------------------------------------------------


def _check_result(fb: Feedback, result: Any, version: Any, role: str, other: Any) -> None:
    metrics = getattr(result, "metrics", None)
    if not isinstance(metrics, dict) or not getattr(result, "run_id", None):
        fb.problems.append(
            f"{role}_result should be what mlflow.models.evaluate returns (inside a run), not "
            f"a {type(result).__name__}"
        )
        return
    run = _expect_run_here(fb, result.run_id, f"the {role}'s evaluation")
    if run is None:
        return
    logged = run.data.metrics.get("roc_auc")
    if logged is None:
        fb.problems.append(
            f"the {role}'s evaluation run has no roc_auc: evaluate with model_type='classifier'"
        )
        return
    rows = len(_holdout()[1])
    if run.data.metrics.get("example_count") != rows:
        fb.problems.append(
            f"the {role} was evaluated on {run.data.metrics.get('example_count'):.0f} rows; "
            f"the holdout month {HOLDOUT_MONTH} has {rows}: evaluate on holdout_data"
        )
        return
    expected = holdout_auc(version.version)
    if abs(logged - expected) < 1e-6:
        fb.good.append(
            f"the {role} (version {version.version}) has ROC AUC {logged:.4f} on "
            f"{HOLDOUT_MONTH}, logged in run {result.run_id[:8]}"
        )
    elif abs(logged - holdout_auc(other.version)) < 1e-6:
        fb.problems.append(
            f"{role}_result evaluated version {other.version}, not the {role} (version "
            f"{version.version}): did you swap the aliases, or evaluate after Task 4 moved "
            "them? Evaluate again, before the gate"
        )
    else:
        fb.problems.append(
            f"the {role}'s evaluation logged ROC AUC {logged:.4f}, but version "
            f"{version.version} scores {expected:.4f} on {HOLDOUT_MONTH}: evaluate "
            f"models:/{MODEL_NAME}@{role} on holdout_data"
        )


@task_check(
    LAB,
    "Task 3 · Evaluate champion and challenger",
    points=2,
    hint="with mlflow.start_run(): result = mlflow.models.evaluate("
    "f'models:/{MODEL_NAME}@challenger', holdout_data, targets=TARGET, "
    "model_type='classifier', evaluator_config={'log_model_explainability': False})",
)
def check_evaluations(
    fb: Feedback,
    champion_result: Any,
    challenger_result: Any,
    champion_version: Any,
    challenger_version: Any,
) -> None:
    """Both evaluations are logged runs of this lab, on the holdout, of the right versions."""
    if not _expect_version(fb, champion_version, "champion_version") or not _expect_version(
        fb, challenger_version, "challenger_version"
    ):
        return
    _check_result(fb, champion_result, champion_version, "champion", challenger_version)
    _check_result(fb, challenger_result, challenger_version, "challenger", champion_version)


# --- Task 4 -------------------------------------------------------------------------------


def _should_win(challenger: float, champion: float) -> bool:
    return challenger >= MIN_AUC and challenger >= champion + MIN_GAIN - 1e-12


@task_check(
    LAB,
    "Task 4 · Gate, then promote",
    points=2,
    hint="try: mlflow.validate_evaluation_results(gate, challenger_result, champion_result), "
    "then move the champion alias and set promoted = True; "
    "except ModelValidationFailedException: promoted = False",
)
def check_promotion(
    fb: Feedback, promoted: Any, challenger_version: Any, champion_version: Any
) -> None:
    """The champion alias points at the challenger if, and only if, the challenger is better."""
    if not fb.expect_type(promoted, bool, "promoted"):
        return
    if not _expect_version(fb, challenger_version, "challenger_version") or not _expect_version(
        fb, champion_version, "champion_version"
    ):
        return
    new, old = holdout_auc(challenger_version.version), holdout_auc(champion_version.version)
    wins = _should_win(new, old)
    now = _alias_version("champion")
    if now is None:
        fb.problems.append(f"'{MODEL_NAME}' has no alias 'champion' any more: set it back")
        return
    if wins:
        fb.expect(
            now == str(challenger_version.version),
            f"the challenger (version {challenger_version.version}, AUC {new:.3f}) beats the "
            f"old champion ({old:.3f}) and is now the champion",
            f"the challenger (version {challenger_version.version}) has holdout AUC {new:.3f}, "
            f"at least {MIN_GAIN} above the champion's {old:.3f}, but the alias 'champion' points "
            f"at version {now}: move it to the challenger",
        )
    elif now == str(challenger_version.version):
        reason = (
            f"below the champion's {old:.3f} plus {MIN_GAIN}"
            if new < old + MIN_GAIN
            else f"below the floor of {MIN_AUC}"
        )
        fb.problems.append(f"you promoted version {now} but its holdout AUC {new:.3f} is {reason}")
    else:
        fb.expect(
            now == str(champion_version.version),
            f"the challenger ({new:.3f}) does not beat the champion ({old:.3f}): the champion "
            "stays",
            f"the alias 'champion' points at version {now}, neither the champion "
            f"({champion_version.version}) nor the challenger ({challenger_version.version})",
        )
    fb.expect(
        promoted == wins,
        f"promoted = {promoted}, as the gate decided",
        f"promoted = {promoted}, but the gate {'passes' if wins else 'fails'}: the challenger's "
        f"AUC is {new:.3f} against the champion's {old:.3f}",
    )


# --- Task 5 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 5 · Reject a stale challenger",
    points=2,
    hint="Evaluate models:/<name>@challenger, then try: mlflow.validate_evaluation_results("
    "gate, stale_result, <the current champion's result>) except "
    "ModelValidationFailedException as exc: gate_error = exc. Leave the alias alone.",
)
def check_rejection(fb: Feedback, gate_error: Any, stale_version: Any) -> None:
    """The stale challenger was rejected by the gate, and the champion did not move."""
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    if not _expect_version(fb, stale_version, "stale_version"):
        return
    run = _expect_run_here(fb, stale_version.run_id, "the stale challenger")
    if run is not None:
        window = (run.data.params.get("train_start"), run.data.params.get("train_end"))
        fb.expect(
            window == (STALE_START, STALE_END),
            f"it was trained on {STALE_START}..{STALE_END}, the stale window",
            f"its run says it was trained on {window[0]}..{window[1]}; this task's challenger "
            f"is the one trained on {STALE_START}..{STALE_END}",
        )
    now = _alias_version("champion")
    stale = holdout_auc(stale_version.version)
    if now is None:
        fb.problems.append(f"'{MODEL_NAME}' has no alias 'champion' any more: set it back")
        return
    champion = holdout_auc(now)
    if now == str(stale_version.version):
        fb.problems.append(
            f"you promoted version {now} but its holdout AUC {stale:.3f} is below the floor of "
            f"{MIN_AUC} and does not beat the previous champion"
        )
        return
    fb.expect(
        not _should_win(stale, champion),
        f"the stale challenger (AUC {stale:.3f}) does not beat the champion, version {now} "
        f"({champion:.3f}), which stayed",
        f"the champion (version {now}, AUC {champion:.3f}) is weaker than the stale challenger "
        f"({stale:.3f}): was Task 4 done?",
    )
    if not isinstance(gate_error, ModelValidationFailedException):
        got = type(gate_error).__name__
        fb.problems.append(
            f"gate_error should be the ModelValidationFailedException the gate raised, not a "
            f"{got}: `except ModelValidationFailedException as exc: gate_error = exc`"
        )
        return
    found = re.search(r"candidate model roc_auc = ([0-9.eE+-]+)", gate_error.message)
    fb.expect(
        found is not None and abs(float(found.group(1)) - stale) < 1e-6,
        f"the gate refused the stale challenger's roc_auc ({stale:.3f})",
        "the exception does not come from gating the stale challenger's roc_auc: pass "
        "stale_result as the candidate and the champion's result as the baseline",
    )
