"""Retraining the churn model: train on a window of months, compare on a holdout, gate.

Retraining has three steps that lesson 14, lab 06, the capstone (16) and the churn
project's ``retrain`` entry point all repeat, so they live here:

- :func:`train_on_window` fits the course's pipeline (``utils.features.build_model``) on
  the monthly batches of a window, e.g. ``"2025-07"`` to ``"2025-09"``;
- :func:`compare` scores several fitted models on the same holdout and returns one row
  per model (ROC AUC, precision at the contact budget, Brier score, mean score);
- :func:`evaluate_on_holdout` runs ``mlflow.models.evaluate`` on a logged or registered
  model, and :func:`validation_gate` applies ``mlflow.models.MetricThreshold`` rules with
  ``mlflow.validate_evaluation_results``: the challenger must reach a minimum ROC AUC and
  beat the champion's by a minimum gain, or it is not promoted.

Introduced in notebook 14.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from utils.business import DEFAULT_COSTS, precision_at_budget
from utils.data import TARGET, load_months
from utils.features import FEATURES, NUMERIC, build_model, split_features

__all__ = [
    "ALGORITHMS",
    "GATE_METRIC",
    "MIN_AUC",
    "MIN_GAIN",
    "GateDecision",
    "compare",
    "evaluate_on_holdout",
    "gate_thresholds",
    "make_classifier",
    "model_input",
    "train_on_window",
    "validation_gate",
    "window_data",
]

#: The algorithms :func:`make_classifier` knows, by name.
ALGORITHMS: tuple[str, ...] = ("logistic", "boosting")
#: The metric the gate compares (as ``mlflow.models.evaluate`` names it).
GATE_METRIC: str = "roc_auc"
#: The lowest ROC AUC a model may serve with: lesson 01's success criterion.
MIN_AUC: float = 0.75
#: How much higher the challenger's ROC AUC must be than the champion's.
MIN_GAIN: float = 0.01


def model_input(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Split a monthly batch into features and label, with numeric features as floats.

    Floats let a logged model's signature accept missing values in any numeric column
    (lesson 09), and spare MLflow's hint about integer columns.

    Args:
        frame: Monthly batches as ``utils.data.load_months`` returns them.

    Returns:
        ``(X, y)``: the features in ``utils.features.FEATURES`` order and the 0/1 label.

    Raises:
        TypeError: ``frame`` is not a DataFrame.
        KeyError: A feature or the label is missing; the message names it.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"expected a DataFrame of monthly batches (utils.data.load_months), "
            f"got {type(frame).__name__}"
        )
    X, y = split_features(frame)
    return X.astype(dict.fromkeys(NUMERIC, "float64")), y


def window_data(start: str, end: str) -> tuple[pd.DataFrame, pd.Series]:
    """Return the features and labels of the monthly batches ``start`` to ``end``.

    Args:
        start: First month, ``"YYYY-MM"``.
        end: Last month, ``"YYYY-MM"``, included.

    Returns:
        ``(X, y)`` as :func:`model_input` returns them.

    Raises:
        ValueError: A month is badly written, ``start`` is after ``end``, or no batch
            falls in the window.
    """
    return model_input(load_months(start, end))


def make_classifier(algorithm: str, seed: int = 42) -> ClassifierMixin:
    """Return an unfitted classifier of the course, by name.

    Args:
        algorithm: ``"logistic"`` (a logistic regression) or ``"boosting"`` (gradient
            boosting: 100 trees of depth 2, a few seconds on two cores).
        seed: The random state of the boosting.

    Returns:
        The classifier.

    Raises:
        ValueError: ``algorithm`` is not one of :data:`ALGORITHMS`.
    """
    if algorithm == "logistic":
        return LogisticRegression(max_iter=1000)
    if algorithm == "boosting":
        return GradientBoostingClassifier(n_estimators=100, max_depth=2, random_state=seed)
    raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")


def train_on_window(
    start: str, end: str, classifier: str | ClassifierMixin | None = None
) -> Pipeline:
    """Fit the course's pipeline on the monthly batches ``start`` to ``end``.

    Args:
        start: First month of the training window, ``"YYYY-MM"``.
        end: Last month of the window, ``"YYYY-MM"``, included. All its labels must be
            known when you retrain: a month's labels arrive at the end of the next month.
        classifier: A name from :data:`ALGORITHMS`, an unfitted scikit-learn classifier
            (it is cloned, so yours stays unfitted), or None for a logistic regression.

    Returns:
        The fitted pipeline (steps ``preprocess`` and ``classifier``).

    Raises:
        ValueError: A month is badly written, the window is empty, or the algorithm is
            unknown.
        TypeError: ``classifier`` is neither a name nor a scikit-learn classifier.
    """
    if classifier is None:
        classifier = "logistic"
    if isinstance(classifier, str):
        classifier = make_classifier(classifier)
    elif not callable(getattr(classifier, "fit", None)):
        raise TypeError(
            f"classifier must be a name from {list(ALGORITHMS)} or a scikit-learn "
            f"classifier, got {type(classifier).__name__}"
        )
    else:
        classifier = clone(classifier)
    X, y = window_data(start, end)
    return build_model(classifier).fit(X, y)


def compare(models: Mapping[str, Any], holdout: pd.DataFrame) -> pd.DataFrame:
    """Score every model on the same holdout and tabulate how each does.

    Args:
        models: Fitted classifiers with ``predict_proba`` that take the
            ``utils.features.FEATURES`` columns, by the name to show for each.
        holdout: Labelled monthly batches none of the models trained on.

    Returns:
        One row per model, in the given order, indexed by name: ``roc_auc``,
        ``precision_at_budget`` (share of churners among the top-scored 15 %),
        ``brier_score`` (mean squared error of the probabilities; lower is better) and
        ``mean_score`` (compare it with the holdout's churn rate, ``churn_rate``, also
        given on every row: a calibrated model's mean score is close to it).

    Raises:
        TypeError: ``models`` is not a mapping, or a model has no ``predict_proba``.
        ValueError: ``models`` is empty, or the holdout holds only one class.
        KeyError: The holdout lacks a feature or the label.
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict of fitted models by name")
    X, y = model_input(holdout)
    if y.nunique() < 2:
        raise ValueError("the holdout holds only one class; ROC AUC needs churners and others")
    rows = {}
    for name, model in models.items():
        if not callable(getattr(model, "predict_proba", None)):
            raise TypeError(
                f"model {name!r} has no predict_proba; pass fitted classifiers, "
                "e.g. train_on_window('2025-07', '2025-09')"
            )
        scores = np.asarray(model.predict_proba(X[FEATURES])[:, 1], dtype=float)
        rows[name] = {
            "roc_auc": roc_auc_score(y, scores),
            "precision_at_budget": precision_at_budget(
                y.to_numpy(), scores, DEFAULT_COSTS.max_contact_share
            ),
            "brier_score": brier_score_loss(y, scores),
            "mean_score": float(scores.mean()),
            "churn_rate": float(y.mean()),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def evaluate_on_holdout(model_uri: str, holdout: pd.DataFrame) -> Any:
    """Evaluate a logged or registered model on a holdout with ``mlflow.models.evaluate``.

    Call it inside ``mlflow.start_run()``: the metrics and plots go to that run, and the
    metrics are also attached to the logged model.

    Args:
        model_uri: The model, e.g. ``"models:/streamco-churn@champion"``.
        holdout: Labelled monthly batches.

    Returns:
        The ``mlflow.models.EvaluationResult``; ``result.metrics["roc_auc"]`` is the AUC.

    Raises:
        TypeError: ``model_uri`` is not a string.
    """
    import matplotlib.pyplot as plt
    import mlflow

    if not isinstance(model_uri, str):
        raise TypeError(
            f"model_uri must be a string such as 'models:/name@alias', got {model_uri!r}"
        )
    X, y = model_input(holdout)
    # A boolean label tells MLflow at once that this is a binary classification.
    data = X.assign(**{TARGET: y.astype(bool)})
    result = mlflow.models.evaluate(
        model_uri,
        data,
        targets=TARGET,
        model_type="classifier",
        evaluator_config={"log_model_explainability": False},
    )
    plt.close("all")  # evaluate leaves its last figure open
    return result


def gate_thresholds(min_gain: float = MIN_GAIN, min_auc: float = MIN_AUC) -> dict[str, Any]:
    """Return the gate's rules as ``mlflow.models.MetricThreshold`` objects.

    Args:
        min_gain: How much higher the challenger's ROC AUC must be than the champion's;
            a positive number.
        min_auc: The lowest ROC AUC a challenger may have, whatever the champion's.

    Returns:
        ``{"roc_auc": MetricThreshold(threshold=min_auc, min_absolute_change=min_gain,
        greater_is_better=True)}``.

    Raises:
        ValueError: ``min_gain`` is not a positive number or ``min_auc`` is not in (0, 1).
    """
    from mlflow.models import MetricThreshold

    for name, value in (("min_gain", min_gain), ("min_auc", min_auc)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            raise ValueError(f"{name} must be a number, got {value!r}")
    if not 0 < min_gain < 1:
        raise ValueError(f"min_gain is a gain in ROC AUC, in (0, 1), e.g. 0.01; got {min_gain}")
    if not 0 < min_auc < 1:
        raise ValueError(f"min_auc is a ROC AUC in (0, 1), e.g. 0.75; got {min_auc}")
    return {
        GATE_METRIC: MetricThreshold(
            threshold=float(min_auc),
            min_absolute_change=float(min_gain),
            greater_is_better=True,
        )
    }


@dataclass(frozen=True)
class GateDecision:
    """What the validation gate decided.

    Attributes:
        passed: True when the challenger may be promoted.
        challenger_auc: The challenger's ROC AUC on the holdout.
        champion_auc: The champion's ROC AUC on the same holdout.
        message: Why: MLflow's failure message, or a one-line summary when it passed.
    """

    passed: bool
    challenger_auc: float
    champion_auc: float
    message: str


def validation_gate(
    challenger: Any, champion: Any, min_gain: float = MIN_GAIN, min_auc: float = MIN_AUC
) -> GateDecision:
    """Decide whether the challenger may replace the champion.

    Runs ``mlflow.validate_evaluation_results`` with :func:`gate_thresholds` and turns
    its ``ModelValidationFailedException`` into a decision.

    Args:
        challenger: The challenger's ``EvaluationResult`` (:func:`evaluate_on_holdout`).
        champion: The champion's, on the same holdout.
        min_gain: See :func:`gate_thresholds`.
        min_auc: See :func:`gate_thresholds`.

    Returns:
        The :class:`GateDecision`.

    Raises:
        TypeError: A result has no ``metrics`` (pass what ``mlflow.models.evaluate``
            returns).
        KeyError: A result lacks ``roc_auc`` (evaluate with ``model_type="classifier"``).
    """
    import mlflow
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    for label, result in (("challenger", challenger), ("champion", champion)):
        metrics = getattr(result, "metrics", None)
        if not isinstance(metrics, Mapping):
            raise TypeError(
                f"{label} must be the EvaluationResult that mlflow.models.evaluate returns, "
                f"got {type(result).__name__}"
            )
        if GATE_METRIC not in metrics:
            raise KeyError(
                f"the {label}'s evaluation has no {GATE_METRIC!r}; evaluate it with "
                "model_type='classifier'"
            )
    new, old = challenger.metrics[GATE_METRIC], champion.metrics[GATE_METRIC]
    try:
        mlflow.validate_evaluation_results(gate_thresholds(min_gain, min_auc), challenger, champion)
    except ModelValidationFailedException as failure:
        return GateDecision(False, new, old, failure.message)
    summary = (
        f"challenger ROC AUC {new:.4f} >= {min_auc} and beats the champion's {old:.4f} "
        f"by {new - old:+.4f} (needed +{min_gain})"
    )
    return GateDecision(True, new, old, summary)
