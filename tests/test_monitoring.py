"""Monthly monitoring: the table matches direct computations, the label lag holds, alerts fire."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from utils.business import DEFAULT_COSTS, decision_profit, precision_at_budget
from utils.data import PRICE_CHANGE_MONTH, TARGET, load_months
from utils.drift import drift_report, psi
from utils.features import CATEGORICAL, FEATURES, NUMERIC, build_model, split_features
from utils.monitoring import (
    ALERT_COLUMNS,
    PERFORMANCE_COLUMNS,
    AlertThresholds,
    add_months,
    alerts,
    month_step,
    monthly_monitoring,
)


@pytest.fixture(scope="module")
def setting() -> tuple[object, pd.DataFrame, pd.DataFrame]:
    """A model trained on January, and three production months around the price change."""
    X_train, y_train = split_features(load_months("2025-01", "2025-01"))
    model = build_model().fit(X_train, y_train)
    batches = load_months("2025-05", "2025-07")
    return model, X_train, batches


@pytest.fixture(scope="module")
def table(setting: tuple[object, pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    model, X_train, batches = setting
    return monthly_monitoring(model, X_train, batches)


def test_month_arithmetic() -> None:
    assert month_step("2025-01") == 1 and month_step("2025-07") == 7
    assert month_step("2026-01") == 13 and month_step("2024-12") == 0
    assert month_step("2025-03", origin="2025-03") == 1
    assert add_months("2025-12", 1) == "2026-01" and add_months("2025-01", -1) == "2024-12"
    assert add_months("2025-07", 0) == "2025-07"
    with pytest.raises(ValueError, match="'YYYY-MM'"):
        month_step("July")
    with pytest.raises(ValueError, match="'YYYY-MM'"):
        add_months("2025-13", 1)


def test_table_shape_and_columns(table: pd.DataFrame) -> None:
    assert list(table["month"]) == ["2025-05", "2025-06", "2025-07"]
    assert list(table["step"]) == [5, 6, 7]
    assert list(table["labels_known_in"]) == ["2025-06", "2025-07", "2025-08"]
    for feature in [*NUMERIC, *CATEGORICAL]:
        assert f"psi/{feature}" in table.columns
    assert all(f"ks/{f}" in table.columns for f in NUMERIC)
    assert not any(f"ks/{f}" in table.columns for f in CATEGORICAL)
    assert set(PERFORMANCE_COLUMNS) <= set(table.columns)


def test_values_match_direct_computation(
    setting: tuple[object, pd.DataFrame, pd.DataFrame], table: pd.DataFrame
) -> None:
    model, X_train, batches = setting
    june = batches[batches["month"] == "2025-06"]
    scores = model.predict_proba(june[FEATURES])[:, 1]
    row = table.set_index("month").loc["2025-06"]
    report = drift_report(X_train, june, NUMERIC, CATEGORICAL).set_index("feature")
    assert row["psi/monthly_fee"] == report.loc["monthly_fee", "psi"]
    assert row["ks/tenure_months"] == report.loc["tenure_months", "ks_statistic"]
    assert row["psi/plan"] == report.loc["plan", "psi"]
    reference_scores = model.predict_proba(X_train)[:, 1]
    assert row["prediction_psi"] == pytest.approx(psi(reference_scores, scores))
    assert row["score_mean"] == pytest.approx(scores.mean())
    y = june[TARGET].to_numpy()
    assert row["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert row["churn_rate"] == pytest.approx(y.mean())
    assert row["precision_at_budget"] == pytest.approx(precision_at_budget(y, scores))
    # The profit counts the same contacted customers as the precision.
    k = math.ceil(DEFAULT_COSTS.max_contact_share * len(y))
    contacted = np.zeros(len(y), dtype=bool)
    contacted[np.argsort(-scores, kind="stable")[:k]] = True
    assert y[contacted].mean() == pytest.approx(row["precision_at_budget"])
    assert row["profit_at_budget"] == pytest.approx(decision_profit(y, contacted))


def test_labels_arrive_one_month_late(
    setting: tuple[object, pd.DataFrame, pd.DataFrame], table: pd.DataFrame
) -> None:
    model, X_train, batches = setting
    last = table.iloc[-1]
    assert last["month"] == PRICE_CHANGE_MONTH
    assert all(math.isnan(last[c]) for c in PERFORMANCE_COLUMNS)
    assert table.iloc[:-1]["roc_auc"].notna().all()
    # As of June: July is ignored and June's labels are not in yet.
    as_of_june = monthly_monitoring(model, X_train, batches, as_of="2025-06")
    assert list(as_of_june["month"]) == ["2025-05", "2025-06"]
    assert as_of_june["roc_auc"].isna().tolist() == [False, True]
    # Labels known the same month: every month has its performance.
    at_once = monthly_monitoring(model, X_train, batches, label_lag=0)
    assert at_once["roc_auc"].notna().all()
    # With the label gone, months whose labels are not known still work.
    unlabelled = batches.drop(columns=TARGET)
    drift_only = monthly_monitoring(model, X_train, unlabelled[unlabelled["month"] == "2025-07"])
    assert drift_only["roc_auc"].isna().all()


def test_the_price_change_shows_in_drift_and_performance(table: pd.DataFrame) -> None:
    by_month = table.set_index("month")
    assert by_month.loc["2025-06", "psi/monthly_fee"] < 0.1
    assert by_month.loc[PRICE_CHANGE_MONTH, "psi/monthly_fee"] > 0.25


def test_alerts_on_a_hand_made_table() -> None:
    table = pd.DataFrame(
        {
            "month": ["2025-05", "2025-06", "2025-07"],
            "labels_known_in": ["2025-06", "2025-07", "2025-08"],
            "psi/fee": [0.01, 0.30, 0.02],
            "psi/plan": [0.02, 0.01, 0.40],
            "prediction_psi": [0.0, 0.2, 0.05],
            "roc_auc": [0.79, 0.70, math.nan],
        }
    )
    log = alerts(table, AlertThresholds(), baseline_auc=0.80)
    assert list(log.columns) == ALERT_COLUMNS
    found = set(zip(log["month"], log["alert"], log["metric"], strict=True))
    assert found == {
        ("2025-06", "feature_drift", "psi/fee"),
        ("2025-06", "prediction_drift", "prediction_psi"),
        ("2025-06", "performance_drop", "roc_auc"),
        ("2025-07", "feature_drift", "psi/plan"),
    }
    drop = log[log["alert"] == "performance_drop"].iloc[0]
    assert drop["raised_in"] == "2025-07" and drop["value"] == pytest.approx(0.10)
    assert "0.700 is 0.100 below the baseline 0.800" in drop["message"]
    assert list(log["raised_in"]) == sorted(log["raised_in"])
    # Watching only the fee drops the plan alert; looser thresholds silence everything.
    fee_only = alerts(table, AlertThresholds(features=("fee",)), baseline_auc=0.80)
    assert "psi/plan" not in set(fee_only["metric"])
    loose = AlertThresholds(feature_psi=0.5, prediction_psi=0.5, auc_drop=0.2)
    quiet = alerts(table, loose, baseline_auc=0.80)
    assert quiet.empty and list(quiet.columns) == ALERT_COLUMNS


def test_alerts_on_real_months_fire_from_the_price_change(table: pd.DataFrame) -> None:
    log = alerts(table, AlertThresholds(), baseline_auc=0.79)
    assert set(log["month"]) == {PRICE_CHANGE_MONTH}
    assert set(log["metric"]) == {"psi/monthly_fee"}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m, x, b: monthly_monitoring("model", x, b), TypeError, "predict_proba"),
        (lambda m, x, b: monthly_monitoring(m, x.drop(columns="plan"), b), KeyError,
         r"reference lacks the columns \['plan'\]"),
        (lambda m, x, b: monthly_monitoring(m, x, b.drop(columns="month")), KeyError,
         "load_months"),
        (lambda m, x, b: monthly_monitoring(m, x.to_numpy(), b), TypeError, "DataFrame"),
        (lambda m, x, b: monthly_monitoring(m, x, b, as_of="July"), ValueError, "as_of"),
        (lambda m, x, b: monthly_monitoring(m, x, b, as_of="2024-01"), ValueError,
         "no month of batches"),
        (lambda m, x, b: monthly_monitoring(m, x, b, label_lag=-1), ValueError, "label_lag"),
        (lambda m, x, b: monthly_monitoring(m, x, b.head(0)), ValueError, "no rows"),
        (lambda m, x, b: monthly_monitoring(m, x, b[b["month"] < "2025-07"].drop(columns=TARGET)),
         KeyError, "label column"),
    ],
)  # fmt: skip
def test_monitoring_bad_input_is_explained(
    setting: tuple[object, pd.DataFrame, pd.DataFrame],
    call: Callable[..., object],
    error: type[Exception],
    message: str,
) -> None:
    model, X_train, batches = setting
    with pytest.raises(error, match=message):
        call(model, X_train, batches)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda t: alerts(t, {"feature_psi": 0.25}, 0.8), TypeError, "AlertThresholds"),
        (lambda t: alerts(t, AlertThresholds(), 80), ValueError, r"ROC AUC in \(0, 1\]"),
        (lambda t: alerts(t, AlertThresholds(), "0.8"), TypeError, "baseline_auc"),
        (lambda t: alerts(t.drop(columns="roc_auc"), AlertThresholds(), 0.8), KeyError,
         "monthly_monitoring"),
        (lambda t: alerts(t, AlertThresholds(features=("price",)), 0.8), KeyError, "psi/price"),
        (lambda t: alerts(t.to_dict(), AlertThresholds(), 0.8), TypeError, "DataFrame"),
        (lambda t: AlertThresholds(feature_psi=-0.1), ValueError, "feature_psi"),
        (lambda t: AlertThresholds(auc_drop=5), ValueError, "auc_drop"),
        (lambda t: AlertThresholds(prediction_psi="0.1"), TypeError, "prediction_psi"),
        (lambda t: AlertThresholds(features="monthly_fee"), TypeError, "tuple of column names"),
    ],
)  # fmt: skip
def test_alerts_bad_input_is_explained(
    table: pd.DataFrame, call: Callable[..., object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(table)
