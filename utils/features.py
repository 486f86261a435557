"""The case study's features and the preprocessing every model of the course shares.

Lesson 05 builds this preprocessing step by step; from lesson 06 on, notebooks use the
version kept here, so that every model sees the same columns the same way. It expects
clean data: a monthly batch, or the raw export after ``utils.cleaning.clean_customers``.
Introduced in notebook 05.
"""

from __future__ import annotations

import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from utils.data import TARGET

#: Numeric features, in the units of the datasheet.
NUMERIC: list[str] = [
    "age",
    "monthly_fee",
    "tenure_months",
    "hours_watched",
    "days_active",
    "devices",
    "support_contacts_3m",
]
#: Categorical features (``autopay`` is a yes/no flag, encoded like the others).
CATEGORICAL: list[str] = ["region", "plan", "contract_type", "payment_method", "autopay"]
#: Every model input, in the order models receive them.
FEATURES: list[str] = NUMERIC + CATEGORICAL

#: What ``mlflow.sklearn.log_model(..., skops_trusted_types=...)`` must trust to save the
#: course's models with skops, MLflow's default format. skops refuses, by default, types
#: that a crafted file could abuse; these are safe here because the kit loads only models
#: it trained itself: the imputers remember a NumPy dtype, and tree models (random
#: forests, gradient boosting) store their nodes in scikit-learn's ``Tree``.
SKOPS_TRUSTED_TYPES: list[str] = ["numpy.dtype", "sklearn.tree._tree.Tree"]


def split_features(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Split a clean frame into the model inputs and the label.

    Args:
        frame: A monthly batch or the cleaned export; it must hold every column of
            :data:`FEATURES` and the label column.

    Returns:
        ``(X, y)``: the features in :data:`FEATURES` order and the 0/1 label.

    Raises:
        KeyError: Columns are missing; the message names them.
    """
    missing = [c for c in [*FEATURES, TARGET] if c not in frame.columns]
    if missing:
        raise KeyError(
            f"the frame lacks the columns {missing}; pass a monthly batch or the output of "
            "utils.cleaning.clean_customers"
        )
    return frame[FEATURES].copy(), frame[TARGET].astype(int)


def build_preprocessor() -> ColumnTransformer:
    """Return the shared, leak-free preprocessing (fit it on training data only).

    Numeric columns: median imputation, then standard scaling. Categorical columns: most
    frequent imputation, then one-hot encoding that ignores categories unseen in
    training (so a new plan name in production does not crash scoring).

    Returns:
        An unfitted :class:`~sklearn.compose.ColumnTransformer`.
    """
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer(
        [("numeric", numeric, NUMERIC), ("categorical", categorical, CATEGORICAL)],
        verbose_feature_names_out=False,
    )


def build_model(classifier: ClassifierMixin | None = None) -> Pipeline:
    """Return the preprocessing followed by a classifier, as one pipeline.

    Args:
        classifier: Any scikit-learn classifier; a logistic regression by default.

    Returns:
        An unfitted :class:`~sklearn.pipeline.Pipeline` with steps ``preprocess`` and
        ``classifier``.
    """
    classifier = classifier if classifier is not None else LogisticRegression(max_iter=1000)
    return Pipeline([("preprocess", build_preprocessor()), ("classifier", classifier)])
