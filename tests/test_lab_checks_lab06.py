"""Lab 06's checks give specific feedback on wrong drift answers, windows, evaluations and
alias moves.

One tracking store is made for the module, with versions of the lab's model trained on
small windows: an old champion (January), a good challenger (August-September), one
trained on the holdout month, a stale one (April-June) and one logged in another
experiment. Evaluation results are stand-ins whose runs hold the metrics a real
``mlflow.models.evaluate`` would log; the lab's own test (``tests/test_labs.py``) runs the
real thing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mlflow
import pytest
from mlflow.models import MetricThreshold
from mlflow.models.evaluation.validation import ModelValidationFailedException

from utils import checks
from utils.data import load_months
from utils.drift import drift_report
from utils.features import CATEGORICAL, NUMERIC, SKOPS_TRUSTED_TYPES
from utils.labs import lab06
from utils.retraining import train_on_window, window_data

NAME = lab06.MODEL_NAME


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, template_db: Path, tracking_to: Callable[[str], Any]
) -> Iterator[dict[str, Any]]:
    """A store with the experiment ``lab06_student`` selected and five model versions."""
    folder = tmp_path_factory.mktemp("lab06")
    shutil.copy(template_db, folder / "mlflow.db")
    with tracking_to(f"sqlite:///{folder / 'mlflow.db'}"):
        ids = {
            name: mlflow.create_experiment(name, (folder / name).as_uri())
            for name in ("other", "lab06_student")
        }

        def register(experiment: str, start: str, end: str, params: bool = True) -> Any:
            mlflow.set_experiment(experiment_id=ids[experiment])
            with mlflow.start_run():
                if params:
                    mlflow.log_params({"train_start": start, "train_end": end})
                info = mlflow.sklearn.log_model(
                    train_on_window(start, end),
                    name="model",
                    pip_requirements=["scikit-learn"],
                    skops_trusted_types=SKOPS_TRUSTED_TYPES,
                )
            return mlflow.register_model(info.model_uri, NAME)

        versions = {
            "old": register("lab06_student", "2025-01", "2025-01"),
            "good": register("lab06_student", "2025-08", "2025-09"),
            "leaky": register("lab06_student", "2025-09", "2025-10"),
            "stale": register("lab06_student", "2025-04", "2025-06"),
            "elsewhere": register("other", "2025-08", "2025-09"),
            "no_params": register("lab06_student", "2025-08", "2025-09", params=False),
        }
        mlflow.set_experiment(experiment_id=ids["lab06_student"])
        yield {"client": mlflow.MlflowClient(), "ids": ids, **versions}


def alias(store: dict[str, Any], name: str, which: str) -> None:
    store["client"].set_registered_model_alias(NAME, name, store[which].version)


def auc(store: dict[str, Any], which: str) -> float:
    return lab06.holdout_auc(store[which].version)


def problems(feedback: checks.Feedback) -> str:
    assert feedback.status == "failed", str(feedback)
    return " | ".join(feedback.problems)


def passed(feedback: checks.Feedback) -> None:
    assert feedback.passed, str(feedback)


# --- Task 1 -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> Any:
    X_train, _ = window_data(lab06.TRAIN_START, lab06.TRAIN_END)
    november = load_months(lab06.NEW_MONTH, lab06.NEW_MONTH)
    return drift_report(X_train, november, NUMERIC, CATEGORICAL)


def test_drift_right_answer_passes(report: Any) -> None:
    passed(lab06.check_drift(report, ["monthly_fee"]))
    passed(lab06.check_drift(report, ("monthly_fee",)))


def test_drift_missing_feature_is_named_with_its_psi(report: Any) -> None:
    psi = lab06.expected_drift().loc["monthly_fee", "psi"]
    text = problems(lab06.check_drift(report, []))
    assert f"monthly_fee drifted (PSI {psi:.2f}) but your list misses it" in text


def test_drift_moderate_feature_is_not_drifted(report: Any) -> None:
    text = problems(lab06.check_drift(report, ["monthly_fee", "plan"]))
    assert "plan has a PSI of 0.1" in text and "moved moderately" in text


def test_drift_stable_and_unknown_features(report: Any) -> None:
    assert "age has a PSI of 0.0" in problems(lab06.check_drift(report, ["monthly_fee", "age"]))
    text = problems(lab06.check_drift(report, ["monthly_fee", "fee"]))
    assert "['fee'] are not features" in text


def test_drift_wrong_types(report: Any) -> None:
    assert "drifted should be a list" in problems(lab06.check_drift(report, "monthly_fee"))
    text = problems(lab06.check_drift(report.to_dict(), ["monthly_fee"]))
    assert "report should be a DataFrame, not a dict" in text
    fb = lab06.check_drift(..., ["monthly_fee"])
    assert fb.status == "unfinished"


def test_drift_report_of_the_wrong_comparison(report: Any) -> None:
    X_train, _ = window_data(lab06.TRAIN_START, lab06.TRAIN_END)
    november = load_months(lab06.NEW_MONTH, lab06.NEW_MONTH)
    swapped = drift_report(november, X_train, NUMERIC, CATEGORICAL)
    text = problems(lab06.check_drift(swapped, ["monthly_fee"]))
    assert "the report gives monthly_fee a PSI of" in text and "X_train" in text
    text = problems(lab06.check_drift(drift_report(X_train, november, NUMERIC), ["monthly_fee"]))
    assert "lacks ['region'" in text and "CATEGORICAL" in text


# --- Task 2 -------------------------------------------------------------------------------


def test_challenger_right_answer_passes(store: dict[str, Any]) -> None:
    alias(store, "challenger", "good")
    passed(lab06.check_challenger(store["good"]))


def test_challenger_window_on_the_holdout(store: dict[str, Any]) -> None:
    alias(store, "challenger", "leaky")
    text = problems(lab06.check_challenger(store["leaky"]))
    assert "is not before the holdout month 2025-10" in text and "trained on" in text


def test_challenger_window_before_the_change(store: dict[str, Any]) -> None:
    alias(store, "challenger", "stale")
    text = problems(lab06.check_challenger(store["stale"]))
    assert "starts in 2025-04, before the price change (2025-07)" in text


def test_challenger_alias_elsewhere(store: dict[str, Any]) -> None:
    alias(store, "challenger", "old")
    text = problems(lab06.check_challenger(store["good"]))
    assert f"points at version {store['old'].version}, not at version" in text


def test_challenger_from_another_experiment_or_without_params(store: dict[str, Any]) -> None:
    assert "another experiment ('other')" in problems(lab06.check_challenger(store["elsewhere"]))
    assert "log the window" in problems(lab06.check_challenger(store["no_params"]))


def test_challenger_wrong_type(store: dict[str, Any]) -> None:
    text = problems(lab06.check_challenger(str(store["good"].version)))
    assert "should be the ModelVersion" in text and "not a str" in text


# --- Task 3 -------------------------------------------------------------------------------


def fake_result(store: dict[str, Any], roc_auc: float, rows: int | None = None) -> Any:
    """A run holding what mlflow.models.evaluate logs, and a result pointing at it."""
    rows = rows if rows is not None else len(window_data("2025-10", "2025-10")[1])
    with mlflow.start_run() as run:
        mlflow.log_metrics({"roc_auc": roc_auc, "example_count": rows})
    return SimpleNamespace(metrics={"roc_auc": roc_auc}, run_id=run.info.run_id)


def test_evaluations_right_answer_passes(store: dict[str, Any]) -> None:
    champion = fake_result(store, auc(store, "old"))
    challenger = fake_result(store, auc(store, "good"))
    passed(lab06.check_evaluations(champion, challenger, store["old"], store["good"]))


def test_evaluations_swapped(store: dict[str, Any]) -> None:
    champion = fake_result(store, auc(store, "good"))
    challenger = fake_result(store, auc(store, "old"))
    text = problems(lab06.check_evaluations(champion, challenger, store["old"], store["good"]))
    assert f"champion_result evaluated version {store['good'].version}" in text
    assert "swap the aliases" in text


def test_evaluations_wrong_metric_or_rows(store: dict[str, Any]) -> None:
    champion = fake_result(store, auc(store, "old"))
    wrong = fake_result(store, 0.5)
    text = problems(lab06.check_evaluations(champion, wrong, store["old"], store["good"]))
    assert "logged ROC AUC 0.5000, but version" in text
    few = fake_result(store, auc(store, "good"), rows=100)
    text = problems(lab06.check_evaluations(champion, few, store["old"], store["good"]))
    assert "evaluated on 100 rows" in text


def test_evaluations_wrong_type(store: dict[str, Any]) -> None:
    champion = fake_result(store, auc(store, "old"))
    text = problems(lab06.check_evaluations(champion, 0.77, store["old"], store["good"]))
    assert "challenger_result should be what mlflow.models.evaluate returns" in text


# --- Task 4 -------------------------------------------------------------------------------


def test_promotion_right_answer_passes(store: dict[str, Any]) -> None:
    alias(store, "champion", "good")
    passed(lab06.check_promotion(True, store["good"], store["old"]))


def test_promotion_not_done(store: dict[str, Any]) -> None:
    alias(store, "champion", "old")
    text = problems(lab06.check_promotion(False, store["good"], store["old"]))
    assert "move it to the challenger" in text and "promoted = False, but the gate passes" in text


def test_promotion_of_a_worse_challenger(store: dict[str, Any]) -> None:
    alias(store, "champion", "stale")
    text = problems(lab06.check_promotion(True, store["stale"], store["good"]))
    stale, good = auc(store, "stale"), auc(store, "good")
    assert (
        f"you promoted version {store['stale'].version} but its holdout AUC {stale:.3f} is "
        f"below the champion's {good:.3f}"
    ) in text


def test_promotion_kept_correctly_when_the_challenger_is_worse(store: dict[str, Any]) -> None:
    alias(store, "champion", "good")
    passed(lab06.check_promotion(False, store["stale"], store["good"]))


def test_promotion_wrong_type(store: dict[str, Any]) -> None:
    assert "promoted should be a bool, not a str" in problems(
        lab06.check_promotion("yes", store["good"], store["old"])
    )


# --- Task 5 -------------------------------------------------------------------------------


def gate_error(candidate: float, baseline: float) -> ModelValidationFailedException:
    gate = {
        "roc_auc": MetricThreshold(threshold=0.75, min_absolute_change=0.01, greater_is_better=True)
    }
    try:
        mlflow.validate_evaluation_results(
            gate,
            SimpleNamespace(metrics={"roc_auc": candidate}),
            SimpleNamespace(metrics={"roc_auc": baseline}),
        )
    except ModelValidationFailedException as exc:
        return exc
    raise AssertionError("the gate passed")


def test_rejection_right_answer_passes(store: dict[str, Any]) -> None:
    alias(store, "champion", "good")
    error = gate_error(auc(store, "stale"), auc(store, "good"))
    passed(lab06.check_rejection(error, store["stale"]))


def test_rejection_but_promoted(store: dict[str, Any]) -> None:
    alias(store, "champion", "stale")
    error = gate_error(auc(store, "stale"), auc(store, "good"))
    text = problems(lab06.check_rejection(error, store["stale"]))
    assert f"you promoted version {store['stale'].version} but its holdout AUC" in text
    alias(store, "champion", "good")


def test_rejection_without_the_exception(store: dict[str, Any]) -> None:
    alias(store, "champion", "good")
    text = problems(lab06.check_rejection(None, store["stale"]))
    assert "gate_error should be the ModelValidationFailedException" in text
    assert "not a NoneType" in text


def test_rejection_of_another_candidate(store: dict[str, Any]) -> None:
    alias(store, "champion", "good")
    error = gate_error(0.6, auc(store, "good"))
    text = problems(lab06.check_rejection(error, store["stale"]))
    assert "does not come from gating the stale challenger" in text


def test_rejection_of_the_wrong_version(store: dict[str, Any]) -> None:
    alias(store, "champion", "good")
    error = gate_error(auc(store, "old"), auc(store, "good"))
    text = problems(lab06.check_rejection(error, store["old"]))
    assert "its run says it was trained on 2025-01..2025-01" in text
