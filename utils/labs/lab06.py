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
from utils.i18n import N_, _
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

    reference, _labels = window_data(TRAIN_START, TRAIN_END)
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
            _(
                "{what} should be the ModelVersion that mlflow.register_model returns, not a {type}"
            ).format(what=what, type=type(version).__name__)
        )
        return False
    return fb.expect(
        version.name == MODEL_NAME,
        _("{what} is version {version} of '{name}'").format(
            what=what, version=version.version, name=MODEL_NAME
        ),
        _("{what} is a version of '{got}', not of '{name}': register under MODEL_NAME").format(
            what=what, got=version.name, name=MODEL_NAME
        ),
    )


def _expect_run_here(fb: Feedback, run_id: str, what: str) -> Any | None:
    """Expect a run of this lab's experiment; return it."""
    from mlflow.exceptions import MlflowException

    try:
        run = _client().get_run(run_id)
    except MlflowException:
        fb.problems.append(
            _("the run {run_id} of {what} does not exist in this store").format(
                run_id=run_id, what=what
            )
        )
        return None
    current = _current_experiment_id()
    if current is not None and run.info.experiment_id != current:
        fb.problems.append(
            _("{what} was logged in another experiment ('{name}'): run it in this notebook").format(
                what=what, name=_client().get_experiment(run.info.experiment_id).name
            )
        )
        return None
    return run


# --- Task 1 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 1 · Detect drift"),
    points=2,
    hint=N_(
        "report = drift_report(X_train, november, NUMERIC, CATEGORICAL); the features whose "
        "PSI is above 0.25 (the column `drifted`) have drifted."
    ),
)
def check_drift(fb: Feedback, report: Any, drifted: Any) -> None:
    """The report compares November with the training window; the list names what drifted."""
    expected = expected_drift()
    if fb.expect_type(report, pd.DataFrame, "report") and fb.expect(
        {"feature", "psi"} <= set(report.columns),
        _("the report has the columns feature and psi"),
        _("the report has the columns {columns}: use utils.drift.drift_report").format(
            columns=list(report.columns)
        ),
    ):
        theirs = report.drop_duplicates("feature").set_index("feature")["psi"]
        missing = [f for f in expected.index if f not in theirs.index]
        if missing:
            fb.problems.append(
                _(
                    "the report lacks {missing}: pass NUMERIC and CATEGORICAL to drift_report"
                ).format(missing=missing)
            )
        else:
            gaps = (theirs.reindex(expected.index) - expected["psi"]).abs()
            fee = float(theirs["monthly_fee"])
            fb.expect(
                bool((gaps < 1e-6).all()),
                _("it compares {month} with the training window {start}..{end}").format(
                    month=NEW_MONTH, start=TRAIN_START, end=TRAIN_END
                ),
                _(
                    "the report gives monthly_fee a PSI of {fee:.3f}, but {month} against the "
                    "training window {start}..{end} gives {expected:.3f}: the reference must be "
                    "X_train and the current data November's batch"
                ).format(
                    fee=fee,
                    month=NEW_MONTH,
                    start=TRAIN_START,
                    end=TRAIN_END,
                    expected=expected.loc["monthly_fee", "psi"],
                ),
            )
    if not isinstance(drifted, Iterable) or isinstance(drifted, str | bytes | pd.DataFrame):
        fb.problems.append(
            _("drifted should be a list of feature names, such as ['age'], not a {type}").format(
                type=type(drifted).__name__
            )
        )
        return
    names = [str(name) for name in drifted]
    unknown = [n for n in names if n not in expected.index]
    if unknown:
        fb.problems.append(
            _("{unknown} are not features of the model: use names from FEATURES").format(
                unknown=unknown
            )
        )
    truly = expected.index[expected["psi"] > PSI_MAJOR].tolist()
    for feature in truly:
        psi = expected.loc[feature, "psi"]
        fb.expect(
            feature in names,
            _("{feature} drifted (PSI {psi:.2f}) and your list has it").format(
                feature=feature, psi=psi
            ),
            _("{feature} drifted (PSI {psi:.2f}) but your list misses it").format(
                feature=feature, psi=psi
            ),
        )
    for feature in [n for n in names if n in expected.index and n not in truly]:
        psi = expected.loc[feature, "psi"]
        if psi > 0.1:
            text = _(
                "{feature} has a PSI of {psi:.3f}: it moved moderately but is below {limit}, so "
                "it has not drifted by the lesson's rule"
            )
        else:
            text = _(
                "{feature} has a PSI of {psi:.3f}: it is stable but is below {limit}, so it "
                "has not drifted by the lesson's rule"
            )
        fb.problems.append(text.format(feature=feature, psi=psi, limit=PSI_MAJOR))


# --- Task 2 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 2 · Retrain on a recent window"),
    points=2,
    # PRICE_CHANGE_MONTH, written out so that the hint can be translated.
    hint=N_(
        "A window after the price change whose labels are known and that ends before the "
        "holdout: train_start='2025-07', train_end='2025-09'. Log the params, the "
        "model, register it and set the alias 'challenger'."
    ),
)
def check_challenger(fb: Feedback, challenger_version: Any) -> None:
    """The challenger is registered from a run of this lab, on a sound window, aliased."""
    if not _expect_version(fb, challenger_version, "challenger_version"):
        return
    run = _expect_run_here(fb, challenger_version.run_id, _("the challenger"))
    if run is None:
        return
    params = run.data.params
    if not fb.expect(
        {"train_start", "train_end"} <= set(params),
        _("its run records the training window"),
        _(
            "its run has the params {params}: log the window with "
            "mlflow.log_params({{'train_start': ..., 'train_end': ...}})"
        ).format(params=sorted(params)),
    ):
        return
    start, end = params["train_start"], params["train_end"]
    fb.expect(
        start >= PRICE_CHANGE_MONTH,
        _("the window {start}..{end} starts after the price change").format(start=start, end=end),
        _(
            "the window starts in {start}, before the price change ({change}): the "
            "challenger would learn the old relation between fee and churn"
        ).format(start=start, change=PRICE_CHANGE_MONTH),
    )
    fb.expect(
        start <= end < HOLDOUT_MONTH,
        _("it ends before the holdout month {month}").format(month=HOLDOUT_MONTH),
        _(
            "the window {start}..{end} is not before the holdout month {month}: the "
            "challenger would be judged on data it trained on"
        ).format(start=start, end=end, month=HOLDOUT_MONTH)
        if start <= end
        else _("train_start {start} is after train_end {end}").format(start=start, end=end),
    )
    aliased = _alias_version("challenger")
    if aliased:
        elsewhere = _(
            "the alias 'challenger' points at version {aliased}, not at version {version}: "
            "client.set_registered_model_alias(MODEL_NAME, 'challenger', "
            "challenger_version.version)"
        )
    else:
        elsewhere = _(
            "the alias 'challenger' points at nothing, not at version {version}: "
            "client.set_registered_model_alias(MODEL_NAME, 'challenger', "
            "challenger_version.version)"
        )
    fb.expect(
        aliased == str(challenger_version.version),
        _("the alias 'challenger' points at version {version}").format(
            version=challenger_version.version
        ),
        elsewhere.format(aliased=aliased, version=challenger_version.version),
    )


# --- Task 3 -------------------------------------------------------------------------------


def _check_result(fb: Feedback, result: Any, version: Any, role: str, other: Any) -> None:
    metrics = getattr(result, "metrics", None)
    if not isinstance(metrics, dict) or not getattr(result, "run_id", None):
        fb.problems.append(
            _(
                "{role}_result should be what mlflow.models.evaluate returns (inside a run), "
                "not a {type}"
            ).format(role=role, type=type(result).__name__)
        )
        return
    run = _expect_run_here(fb, result.run_id, _("the {role}'s evaluation").format(role=role))
    if run is None:
        return
    logged = run.data.metrics.get("roc_auc")
    if logged is None:
        fb.problems.append(
            _(
                "the {role}'s evaluation run has no roc_auc: evaluate with model_type='classifier'"
            ).format(role=role)
        )
        return
    rows = len(_holdout()[1])
    if run.data.metrics.get("example_count") != rows:
        fb.problems.append(
            _(
                "the {role} was evaluated on {count:.0f} rows; the holdout month {month} has "
                "{rows}: evaluate on holdout_data"
            ).format(
                role=role,
                count=run.data.metrics.get("example_count"),
                month=HOLDOUT_MONTH,
                rows=rows,
            )
        )
        return
    expected = holdout_auc(version.version)
    if abs(logged - expected) < 1e-6:
        fb.good.append(
            _(
                "the {role} (version {version}) has ROC AUC {auc:.4f} on {month}, logged in "
                "run {run}"
            ).format(
                role=role,
                version=version.version,
                auc=logged,
                month=HOLDOUT_MONTH,
                run=result.run_id[:8],
            )
        )
    elif abs(logged - holdout_auc(other.version)) < 1e-6:
        fb.problems.append(
            _(
                "{role}_result evaluated version {other}, not the {role} (version {version}): "
                "did you swap the aliases, or evaluate after Task 4 moved them? Evaluate "
                "again, before the gate"
            ).format(role=role, other=other.version, version=version.version)
        )
    else:
        fb.problems.append(
            _(
                "the {role}'s evaluation logged ROC AUC {auc:.4f}, but version {version} "
                "scores {expected:.4f} on {month}: evaluate models:/{name}@{role} on "
                "holdout_data"
            ).format(
                role=role,
                auc=logged,
                version=version.version,
                expected=expected,
                month=HOLDOUT_MONTH,
                name=MODEL_NAME,
            )
        )


@task_check(
    LAB,
    N_("Task 3 · Evaluate champion and challenger"),
    points=2,
    hint=N_(
        "with mlflow.start_run(): result = mlflow.models.evaluate("
        "f'models:/{MODEL_NAME}@challenger', holdout_data, targets=TARGET, "
        "model_type='classifier', evaluator_config={'log_model_explainability': False})"
    ),
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
    N_("Task 4 · Gate, then promote"),
    points=2,
    hint=N_(
        "try: mlflow.validate_evaluation_results(gate, challenger_result, champion_result), "
        "then move the champion alias and set promoted = True; "
        "except ModelValidationFailedException: promoted = False"
    ),
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
        fb.problems.append(
            _("'{name}' has no alias 'champion' any more: set it back").format(name=MODEL_NAME)
        )
        return
    if wins:
        fb.expect(
            now == str(challenger_version.version),
            _(
                "the challenger (version {version}, AUC {new:.3f}) beats the old champion "
                "({old:.3f}) and is now the champion"
            ).format(version=challenger_version.version, new=new, old=old),
            _(
                "the challenger (version {version}) has holdout AUC {new:.3f}, at least {gain} "
                "above the champion's {old:.3f}, but the alias 'champion' points at version "
                "{now}: move it to the challenger"
            ).format(version=challenger_version.version, new=new, gain=MIN_GAIN, old=old, now=now),
        )
    elif now == str(challenger_version.version):
        reason = (
            _("below the champion's {old:.3f} plus {gain}").format(old=old, gain=MIN_GAIN)
            if new < old + MIN_GAIN
            else _("below the floor of {min_auc}").format(min_auc=MIN_AUC)
        )
        fb.problems.append(
            _("you promoted version {now} but its holdout AUC {new:.3f} is {reason}").format(
                now=now, new=new, reason=reason
            )
        )
    else:
        fb.expect(
            now == str(champion_version.version),
            _(
                "the challenger ({new:.3f}) does not beat the champion ({old:.3f}): the "
                "champion stays"
            ).format(new=new, old=old),
            _(
                "the alias 'champion' points at version {now}, neither the champion "
                "({champion}) nor the challenger ({challenger})"
            ).format(
                now=now, champion=champion_version.version, challenger=challenger_version.version
            ),
        )
    if wins:
        disagree = _(
            "promoted = {promoted}, but the gate passes: the challenger's AUC is {new:.3f} "
            "against the champion's {old:.3f}"
        )
    else:
        disagree = _(
            "promoted = {promoted}, but the gate fails: the challenger's AUC is {new:.3f} "
            "against the champion's {old:.3f}"
        )
    fb.expect(
        promoted == wins,
        _("promoted = {promoted}, as the gate decided").format(promoted=promoted),
        disagree.format(promoted=promoted, new=new, old=old),
    )


# --- Task 5 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 5 · Reject a stale challenger"),
    points=2,
    hint=N_(
        "Evaluate models:/<name>@challenger, then try: mlflow.validate_evaluation_results("
        "gate, stale_result, <the current champion's result>) except "
        "ModelValidationFailedException as exc: gate_error = exc. Leave the alias alone."
    ),
)
def check_rejection(fb: Feedback, gate_error: Any, stale_version: Any) -> None:
    """The stale challenger was rejected by the gate, and the champion did not move."""
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    if not _expect_version(fb, stale_version, "stale_version"):
        return
    run = _expect_run_here(fb, stale_version.run_id, _("the stale challenger"))
    if run is not None:
        window = (run.data.params.get("train_start"), run.data.params.get("train_end"))
        fb.expect(
            window == (STALE_START, STALE_END),
            _("it was trained on {start}..{end}, the stale window").format(
                start=STALE_START, end=STALE_END
            ),
            _(
                "its run says it was trained on {start}..{end}; this task's challenger is the "
                "one trained on {stale_start}..{stale_end}"
            ).format(start=window[0], end=window[1], stale_start=STALE_START, stale_end=STALE_END),
        )
    now = _alias_version("champion")
    stale = holdout_auc(stale_version.version)
    if now is None:
        fb.problems.append(
            _("'{name}' has no alias 'champion' any more: set it back").format(name=MODEL_NAME)
        )
        return
    champion = holdout_auc(now)
    if now == str(stale_version.version):
        fb.problems.append(
            _(
                "you promoted version {now} but its holdout AUC {stale:.3f} is below the floor "
                "of {min_auc} and does not beat the previous champion"
            ).format(now=now, stale=stale, min_auc=MIN_AUC)
        )
        return
    fb.expect(
        not _should_win(stale, champion),
        _(
            "the stale challenger (AUC {stale:.3f}) does not beat the champion, version {now} "
            "({champion:.3f}), which stayed"
        ).format(stale=stale, now=now, champion=champion),
        _(
            "the champion (version {now}, AUC {champion:.3f}) is weaker than the stale "
            "challenger ({stale:.3f}): was Task 4 done?"
        ).format(now=now, champion=champion, stale=stale),
    )
    if not isinstance(gate_error, ModelValidationFailedException):
        fb.problems.append(
            _(
                "gate_error should be the ModelValidationFailedException the gate raised, not a "
                "{type}: `except ModelValidationFailedException as exc: gate_error = exc`"
            ).format(type=type(gate_error).__name__)
        )
        return
    found = re.search(r"candidate model roc_auc = ([0-9.eE+-]+)", gate_error.message)
    fb.expect(
        found is not None and abs(float(found.group(1)) - stale) < 1e-6,
        _("the gate refused the stale challenger's roc_auc ({stale:.3f})").format(stale=stale),
        _(
            "the exception does not come from gating the stale challenger's roc_auc: pass "
            "stale_result as the candidate and the champion's result as the baseline"
        ),
    )
