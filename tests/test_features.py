"""The shared preprocessing: right columns, leak-free, robust to new categories."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from utils.data import load_dataset
from utils.features import FEATURES, build_model, build_preprocessor, split_features


@pytest.fixture(scope="module")
def january() -> pd.DataFrame:
    return load_dataset("monthly/2025-01")


def test_split_features_returns_features_in_order(january: pd.DataFrame) -> None:
    X, y = split_features(january)
    assert list(X.columns) == FEATURES
    assert set(y.unique()) == {0, 1}


def test_missing_columns_are_named(january: pd.DataFrame) -> None:
    with pytest.raises(KeyError, match=r"\['plan'\]"):
        split_features(january.drop(columns="plan"))


def test_the_model_beats_chance_on_the_next_month(january: pd.DataFrame) -> None:
    X, y = split_features(january)
    X_next, y_next = split_features(load_dataset("monthly/2025-02"))
    model = build_model().fit(X, y)
    assert roc_auc_score(y_next, model.predict_proba(X_next)[:, 1]) > 0.72


def test_unseen_categories_and_missing_values_do_not_crash(january: pd.DataFrame) -> None:
    X, y = split_features(january)
    model = build_model().fit(X, y)
    odd = X.head(2).copy()
    odd["plan"] = "Platinum"
    odd["hours_watched"] = float("nan")
    assert model.predict_proba(odd).shape == (2, 2)


def test_preprocessing_learns_from_training_data_only(january: pd.DataFrame) -> None:
    X, _ = split_features(january)
    pre = build_preprocessor().fit(X.head(500))
    scaler = pre.named_transformers_["numeric"][-1]
    assert scaler.mean_[FEATURES.index("monthly_fee")] == pytest.approx(
        X.head(500)["monthly_fee"].mean()
    )
