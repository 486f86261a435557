"""Monthly monitoring of a deployed churn model: drift now, performance once labels arrive.

At the end of every month a monitoring job scores that month's production batch and
compares it with the model's training data. Two things can be measured at once, without
labels: **data drift** (has each feature's distribution moved? PSI and KS, from
:mod:`utils.drift`) and **prediction drift** (has the distribution of the model's scores
moved?). Whether the model is still *right* can only be measured once the labels arrive:
whether a customer of month M churned is known at the end of M+1, so a month's
**performance** (ROC AUC, and the campaign's precision and profit at the contact budget,
from :mod:`utils.business`) lags one month behind.

- :func:`monthly_monitoring` builds one row per month with all of these numbers, leaving
  performance empty for months whose labels are not known yet;
- :class:`AlertThresholds` and :func:`alerts` turn that table into an alert log: which
  month tripped which rule, with the number behind it and the month the alert is raised;
- :func:`month_step` and :func:`add_months` do the month arithmetic (a month's MLflow
  step, the month its labels arrive).

Introduced in notebook 13; used again in notebook 14 (drift as a retraining trigger), in
the capstone (16) and in lab 06.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from utils.business import DEFAULT_COSTS, CampaignCosts, decision_profit, precision_at_budget
from utils.data import TARGET
from utils.drift import PSI_MAJOR, PSI_MODERATE, drift_report, psi
from utils.features import CATEGORICAL, FEATURES, NUMERIC

__all__ = [
    "FIRST_MONTH",
    "PERFORMANCE_COLUMNS",
    "AlertThresholds",
    "add_months",
    "alerts",
    "month_step",
    "monthly_monitoring",
]

#: The first month of production data; its MLflow step is 1 (so July 2025 is step 7).
FIRST_MONTH: str = "2025-01"

#: Columns of :func:`monthly_monitoring` that need the month's labels.
PERFORMANCE_COLUMNS: list[str] = [
    "churn_rate",
    "roc_auc",
    "precision_at_budget",
    "profit_at_budget",
]

#: Columns of the alert log returned by :func:`alerts`.
ALERT_COLUMNS: list[str] = [
    "month",
    "raised_in",
    "alert",
    "metric",
    "value",
    "threshold",
    "message",
]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _parse_month(month: object, label: str) -> tuple[int, int]:
    """Return ``(year, month)`` of a ``"YYYY-MM"`` string, or explain what is wrong."""
    match = _MONTH.match(month) if isinstance(month, str) else None
    if match is None:
        raise ValueError(
            f"{label} must be a month written 'YYYY-MM', e.g. '2025-07'; got {month!r}"
        )
    return int(match.group(1)), int(match.group(2))


def add_months(month: str, n: int) -> str:
    """Return the month ``n`` months after ``month`` (before it when ``n`` is negative).

    Args:
        month: A month, ``"YYYY-MM"``.
        n: How many months to move.

    Returns:
        The month, ``"YYYY-MM"``; e.g. ``add_months("2025-12", 1) == "2026-01"``.

    Raises:
        ValueError: If ``month`` is not written ``"YYYY-MM"``.
    """
    year, number = _parse_month(month, "month")
    index = year * 12 + number - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_step(month: str, origin: str = FIRST_MONTH) -> int:
    """Return the MLflow step of a month: 1 for ``origin``, 2 for the month after, ...

    Logging every monitoring metric with ``step=month_step(month)`` lines the months up
    on the x-axis of MLflow's charts; with the default origin the step of a 2025 month is
    its number (July is 7).

    Args:
        month: A month, ``"YYYY-MM"``.
        origin: The month whose step is 1.

    Returns:
        The step (0 or negative for months before ``origin``).

    Raises:
        ValueError: If a month is not written ``"YYYY-MM"``.
    """
    year, number = _parse_month(month, "month")
    first_year, first_number = _parse_month(origin, "origin")
    return (year - first_year) * 12 + (number - first_number) + 1


def _missing(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Return the columns (each once, in order) that ``frame`` lacks."""
    return [c for c in dict.fromkeys(columns) if c not in frame.columns]


def _check_frame(frame: object, label: str, columns: Sequence[str], hint: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{label} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = _missing(frame, columns)
    if missing:
        raise KeyError(f"{label} lacks the columns {missing}; {hint}")
    if frame.empty:
        raise ValueError(f"{label} has no rows")
    return frame


def _scores(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """Return the churn probability of every row (the second column of predict_proba)."""
    return np.asarray(model.predict_proba(frame)[:, 1], dtype=float)


def monthly_monitoring(
    model: Any,
    reference: pd.DataFrame,
    batches: pd.DataFrame,
    *,
    as_of: str | None = None,
    label_lag: int = 1,
    features: Sequence[str] = FEATURES,
    numeric: Sequence[str] = NUMERIC,
    categorical: Sequence[str] = CATEGORICAL,
    costs: CampaignCosts = DEFAULT_COSTS,
) -> pd.DataFrame:
    """Score every month of ``batches`` and measure drift and performance, month by month.

    Drift compares each month with ``reference`` (the model's training data): the PSI of
    every feature, the KS statistic of every numeric feature, and the PSI of the scores
    (prediction drift; reference scores = the model's scores on ``reference``).
    Performance uses the month's labels, but only for months whose labels are known at
    the end of ``as_of``: the label of month M arrives at the end of M + ``label_lag``.

    Args:
        model: A fitted classifier with ``predict_proba`` that takes the ``features``
            columns, e.g. ``utils.features.build_model().fit(X_train, y_train)``.
        reference: The reference data, with the ``features`` columns (e.g. ``X_train``).
        batches: Production months as ``utils.data.load_months`` returns them: a
            ``month`` column, the features and, for performance, the label.
        as_of: The month at whose end the table is made; the last month of ``batches``
            when None. Months after it are ignored.
        label_lag: Months between a month and the arrival of its labels.
        features: The model's input columns.
        numeric: Numeric features to check for drift (PSI and KS).
        categorical: Categorical features to check for drift (PSI).
        costs: The campaign's assumptions: the contact budget (``max_contact_share``) and
            the money behind ``profit_at_budget``.

    Returns:
        One row per month, oldest first: ``month``, ``step`` (:func:`month_step`),
        ``rows``, ``score_mean``, ``prediction_psi``, ``psi/<feature>`` for every drift
        feature, ``ks/<feature>`` for every numeric one, ``labels_known_in``, and the
        :data:`PERFORMANCE_COLUMNS` (``churn_rate``, ``roc_auc``,
        ``precision_at_budget``, and ``profit_at_budget``: USD earned against doing
        nothing when the top-scored ``max_contact_share`` of the month are contacted),
        which are NaN for months whose labels arrive after ``as_of``.

    Raises:
        TypeError: If ``model`` has no ``predict_proba`` or a frame is not a DataFrame.
        KeyError: If a frame lacks a column; the message names it.
        ValueError: If ``as_of`` is badly written, ``label_lag`` is negative, or no month
            of ``batches`` falls on or before ``as_of``.
    """
    if not callable(getattr(model, "predict_proba", None)):
        raise TypeError(
            f"model must be a fitted classifier with predict_proba, got {type(model).__name__}; "
            "e.g. utils.features.build_model().fit(X_train, y_train)"
        )
    if isinstance(label_lag, bool) or not isinstance(label_lag, int) or label_lag < 0:
        raise ValueError(f"label_lag must be a whole number of months >= 0, got {label_lag!r}")
    drift_columns = [*numeric, *categorical]
    _check_frame(
        reference, "reference", [*features, *drift_columns], "pass the model's training data"
    )
    _check_frame(
        batches,
        "batches",
        ["month", *features, *drift_columns],
        "pass production months as utils.data.load_months returns them",
    )
    months = sorted(batches["month"].unique())
    as_of = months[-1] if as_of is None else as_of
    _parse_month(as_of, "as_of")
    months = [m for m in months if m <= as_of]
    if not months:
        raise ValueError(f"no month of batches falls on or before as_of={as_of!r}")

    reference_scores = _scores(model, reference[list(features)])
    rows = []
    for month in months:
        batch = batches[batches["month"] == month]
        scores = _scores(model, batch[list(features)])
        report = drift_report(reference, batch, numeric, categorical).set_index("feature")
        row: dict[str, Any] = {
            "month": month,
            "step": month_step(month),
            "rows": len(batch),
            "score_mean": float(scores.mean()),
            "prediction_psi": psi(reference_scores, scores),
        }
        row.update({f"psi/{f}": float(report.loc[f, "psi"]) for f in drift_columns})
        row.update({f"ks/{f}": float(report.loc[f, "ks_statistic"]) for f in numeric})
        row["labels_known_in"] = add_months(month, label_lag)
        row.update(dict.fromkeys(PERFORMANCE_COLUMNS, math.nan))
        if row["labels_known_in"] <= as_of:
            row.update(_performance(batch, scores, costs))
        rows.append(row)
    return pd.DataFrame(rows)


def _performance(batch: pd.DataFrame, scores: np.ndarray, costs: CampaignCosts) -> dict[str, float]:
    """Measure one labelled month: AUC, and precision and profit at the contact budget."""
    if TARGET not in batch.columns:
        raise KeyError(
            f"batches lacks the label column {TARGET!r}, needed for the months whose labels "
            "are known; pass an earlier as_of or batches with labels"
        )
    y = batch[TARGET].to_numpy(dtype=int)
    share = costs.max_contact_share
    # Contact the top-scored share of the month, as precision_at_budget counts them.
    k = max(1, int(np.ceil(share * len(y) - 1e-9)))
    contacted = np.zeros(len(y), dtype=bool)
    contacted[np.argsort(-scores, kind="stable")[:k]] = True
    both_classes = 0 < y.sum() < len(y)
    return {
        "churn_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, scores)) if both_classes else math.nan,
        "precision_at_budget": precision_at_budget(y, scores, share),
        "profit_at_budget": decision_profit(y, contacted, costs),
    }


@dataclass(frozen=True)
class AlertThresholds:
    """When the monitoring job raises an alert.

    Attributes:
        feature_psi: A feature whose PSI against the reference exceeds this has drifted
            (default 0.25, the "moved a lot" rule of thumb of :mod:`utils.drift`).
        prediction_psi: The scores have drifted when their PSI exceeds this (default
            0.1: the scores drive the campaign directly, so a moderate move matters).
        auc_drop: Performance has dropped when the month's ROC AUC is more than this
            below the validation baseline (default 0.05).
        features: The key features to watch; empty means every ``psi/`` column.
    """

    feature_psi: float = PSI_MAJOR
    prediction_psi: float = PSI_MODERATE
    auc_drop: float = 0.05
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse thresholds that cannot work, naming the field."""
        for name in ("feature_psi", "prediction_psi", "auc_drop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value}")
        if self.auc_drop >= 1:
            raise ValueError(f"auc_drop is a drop in ROC AUC, below 1; got {self.auc_drop}")
        if isinstance(self.features, str) or not all(isinstance(f, str) for f in self.features):
            raise TypeError("features must be a tuple of column names, e.g. ('monthly_fee',)")


def alerts(table: pd.DataFrame, thresholds: AlertThresholds, baseline_auc: float) -> pd.DataFrame:
    """Apply the alert rules to a monitoring table and list every alert raised.

    Three rules: ``feature_drift`` (a watched feature's PSI above
    ``thresholds.feature_psi``; one alert per feature), ``prediction_drift`` (the scores'
    PSI above ``thresholds.prediction_psi``) and ``performance_drop`` (ROC AUC more than
    ``thresholds.auc_drop`` below ``baseline_auc``; only for months whose labels are
    known). Drift alerts are raised in the month itself; a performance alert in the month
    its labels arrive.

    Args:
        table: The output of :func:`monthly_monitoring`.
        thresholds: The alert rules.
        baseline_auc: The model's ROC AUC on its validation data.

    Returns:
        The alert log, one row per alert, sorted by ``raised_in`` then ``month``:
        ``month`` (the data month), ``raised_in``, ``alert`` (the rule), ``metric``,
        ``value`` (the PSI, or the AUC drop), ``threshold`` and a readable ``message``.
        Empty, with the same columns, when nothing trips.

    Raises:
        TypeError: If ``thresholds`` is not an :class:`AlertThresholds` or
            ``baseline_auc`` is not a number.
        KeyError: If the table lacks a column the rules need, or a watched feature.
        ValueError: If ``baseline_auc`` is not in (0, 1].
    """
    if not isinstance(thresholds, AlertThresholds):
        raise TypeError(
            f"thresholds must be an AlertThresholds, got {type(thresholds).__name__}; "
            "e.g. AlertThresholds(feature_psi=0.25, auc_drop=0.05)"
        )
    if isinstance(baseline_auc, bool) or not isinstance(baseline_auc, int | float | np.number):
        raise TypeError(f"baseline_auc must be a number, got {type(baseline_auc).__name__}")
    if not 0 < baseline_auc <= 1:
        raise ValueError(f"baseline_auc is a ROC AUC in (0, 1], got {baseline_auc}")
    needed = ["month", "labels_known_in", "prediction_psi", "roc_auc"]
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    watched = [f"psi/{f}" for f in thresholds.features] or [
        c for c in table.columns if c.startswith("psi/")
    ]
    missing = _missing(table, [*needed, *watched])
    if missing:
        raise KeyError(f"table lacks the columns {missing}; pass the output of monthly_monitoring")

    found = []
    for row in table.to_dict("records"):
        month = row["month"]
        for column in watched:
            if row[column] > thresholds.feature_psi:
                feature = column.removeprefix("psi/")
                message = f"{feature} PSI {row[column]:.3f} > {thresholds.feature_psi}"
                found.append(
                    (month, month, "feature_drift", column, row[column], thresholds.feature_psi,
                     message)
                )  # fmt: skip
        if row["prediction_psi"] > thresholds.prediction_psi:
            value, limit = row["prediction_psi"], thresholds.prediction_psi
            message = f"score PSI {value:.3f} > {limit}"
            found.append(
                (month, month, "prediction_drift", "prediction_psi", value, limit, message)
            )
        drop = baseline_auc - row["roc_auc"]
        if not math.isnan(drop) and drop > thresholds.auc_drop:
            message = (
                f"ROC AUC {row['roc_auc']:.3f} is {drop:.3f} below the baseline "
                f"{baseline_auc:.3f} (limit {thresholds.auc_drop})"
            )
            found.append(
                (month, row["labels_known_in"], "performance_drop", "roc_auc", drop,
                 thresholds.auc_drop, message)
            )  # fmt: skip
    log = pd.DataFrame(found, columns=ALERT_COLUMNS).astype({"value": float, "threshold": float})
    return log.sort_values(["raised_in", "month"], kind="stable", ignore_index=True)
