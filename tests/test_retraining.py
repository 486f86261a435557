"""Retraining helpers: windows, comparisons and the validation gate do what lesson 14 says."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import MetricThreshold
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from utils.data import load_months
from utils.features import FEATURES, NUMERIC
from utils.retraining import (
    GATE_METRIC,
    compare,
    evaluate_on_holdout,
    gate_thresholds,
    make_classifier,
    model_input,
    train_on_window,
    validation_gate,
    window_data,
)


@pytest.fixture(scope="module")
def january() -> Pipeline:
    return train_on_window("2025-01", "2025-01")


@pytest.fixture(scope="module")
def february() -> pd.DataFrame:
    return load_months("2025-02", "2025-02")


def result(auc: float) -> SimpleNamespace:
    """A stand-in for an EvaluationResult: the gate reads only ``metrics``."""
    return SimpleNamespace(metrics={GATE_METRIC: auc}, artifacts={})


def test_model_input_gives_float_features_and_the_label(february: pd.DataFrame) -> None:
    X, y = model_input(february)
    assert list(X.columns) == FEATURES
    assert all(X[c].dtype == "float64" for c in NUMERIC)
    assert set(y.unique()) == {0, 1} and len(y) == len(february)
    with pytest.raises(TypeError, match="load_months"):
        model_input([1, 2, 3])
    with pytest.raises(KeyError, match="monthly_fee"):
        model_input(february.drop(columns="monthly_fee"))


def test_window_data_covers_the_window() -> None:
    X, y = window_data("2025-01", "2025-02")
    assert len(X) == len(load_months("2025-01", "2025-02")) == len(y)
    with pytest.raises(ValueError, match="YYYY-MM"):
        window_data("2025-1", "2025-02")


def test_make_classifier_names() -> None:
    assert isinstance(make_classifier("logistic"), LogisticRegression)
    boosting = make_classifier("boosting", seed=3)
    assert isinstance(boosting, GradientBoostingClassifier) and boosting.random_state == 3
    assert boosting.n_estimators <= 200
    with pytest.raises(ValueError, match="logistic"):
        make_classifier("xgboost")


def test_train_on_window_fits_and_leaves_a_given_classifier_untouched(january: Pipeline) -> None:
    assert list(january.named_steps) == ["preprocess", "classifier"]
    assert isinstance(january[-1], LogisticRegression) and hasattr(january[-1], "coef_")
    mine = LogisticRegression(C=0.5, max_iter=500)
    model = train_on_window("2025-01", "2025-01", mine)
    assert model[-1].C == 0.5 and not hasattr(mine, "coef_")
    with pytest.raises(TypeError, match="classifier must be"):
        train_on_window("2025-01", "2025-01", 42)
    with pytest.raises(ValueError, match="unknown algorithm"):
        train_on_window("2025-01", "2025-01", "forest")


def test_compare_matches_scikit_learn(january: Pipeline, february: pd.DataFrame) -> None:
    table = compare({"jan": january}, february)
    X, y = model_input(february)
    scores = january.predict_proba(X)[:, 1]
    row = table.loc["jan"]
    assert list(table.columns) == [
        "roc_auc",
        "precision_at_budget",
        "brier_score",
        "mean_score",
        "churn_rate",
    ]
    assert row["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert row["brier_score"] == pytest.approx(np.mean((scores - y) ** 2))
    assert row["churn_rate"] == pytest.approx(y.mean())
    assert 0 <= row["precision_at_budget"] <= 1


def test_compare_keeps_the_order_and_refuses_bad_input(
    january: Pipeline, february: pd.DataFrame
) -> None:
    later = train_on_window("2025-03", "2025-03")
    assert list(compare({"b": later, "a": january}, february).index) == ["b", "a"]
    with pytest.raises(ValueError, match="non-empty"):
        compare({}, february)
    with pytest.raises(TypeError, match="predict_proba"):
        compare({"broken": object()}, february)
    with pytest.raises(ValueError, match="one class"):
        compare({"jan": january}, february[february["churned_next_month"] == 0])


def test_gate_thresholds() -> None:
    rules = gate_thresholds(0.02, 0.7)
    rule = rules[GATE_METRIC]
    assert isinstance(rule, MetricThreshold)
    assert (rule.threshold, rule.min_absolute_change, rule.greater_is_better) == (0.7, 0.02, True)
    assert gate_thresholds(np.float64(0.01))[GATE_METRIC].min_absolute_change == 0.01
    with pytest.raises(ValueError, match="min_gain"):
        gate_thresholds(0)
    with pytest.raises(ValueError, match="min_auc"):
        gate_thresholds(0.01, 75)
    with pytest.raises(ValueError, match="must be a number"):
        gate_thresholds("0.01")


def test_gate_passes_a_better_challenger() -> None:
    decision = validation_gate(result(0.80), result(0.78))
    assert decision.passed
    assert (decision.challenger_auc, decision.champion_auc) == (0.80, 0.78)
    assert "+0.0200" in decision.message


def test_gate_rejects_a_small_gain_and_a_low_auc() -> None:
    small = validation_gate(result(0.785), result(0.78))
    assert not small.passed and "minimum absolute change" in small.message
    low = validation_gate(result(0.74), result(0.60))
    assert not low.passed and "threshold" in low.message
    worse = validation_gate(result(0.70), result(0.78), min_auc=0.6)
    assert not worse.passed


def test_gate_refuses_what_is_not_an_evaluation() -> None:
    with pytest.raises(TypeError, match="EvaluationResult"):
        validation_gate(0.8, result(0.7))
    with pytest.raises(KeyError, match="roc_auc"):
        validation_gate(SimpleNamespace(metrics={"accuracy_score": 0.9}), result(0.7))


@pytest.fixture
def store(tmp_path: Path, template_db: Path) -> Iterator[str]:
    """A fresh tracking store, selected for the test and released afterwards."""
    shutil.copy(template_db, tmp_path / "mlflow.db")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("retraining", (tmp_path / "artifacts").as_uri())
    try:
        yield experiment
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.mark.slow
def test_evaluate_on_holdout_agrees_with_compare(
    store: str, january: Pipeline, february: pd.DataFrame
) -> None:
    with mlflow.start_run(experiment_id=store):
        info = mlflow.sklearn.log_model(
            january,
            name="model",
            pip_requirements=["scikit-learn"],
            skops_trusted_types=["numpy.dtype"],
        )
        evaluation = evaluate_on_holdout(info.model_uri, february)
    expected = compare({"jan": january}, february).loc["jan", "roc_auc"]
    assert evaluation.metrics["roc_auc"] == pytest.approx(expected, abs=1e-9)
    assert evaluation.metrics["example_count"] == len(february)
    decision = validation_gate(evaluation, evaluation)
    assert not decision.passed  # a model never beats itself by the minimum gain
    with pytest.raises(TypeError, match="model_uri"):
        evaluate_on_holdout(january, february)
