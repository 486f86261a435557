"""The kit's custom churn model: cleans spellings, scores, decides, survives a round trip."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from utils.data import load_dataset
from utils.features import build_model, split_features
from utils.pyfunc import (
    CONTACT,
    NO_ACTION,
    TEXT_COLUMNS,
    ChurnModel,
    category_vocabulary,
    normalise_categories,
)


@pytest.fixture(scope="module")
def january() -> tuple[pd.DataFrame, pd.Series]:
    return split_features(load_dataset("monthly/2025-01"))


@pytest.fixture(scope="module")
def model(january: tuple[pd.DataFrame, pd.Series]) -> ChurnModel:
    X, y = january
    return ChurnModel(build_model().fit(X, y), category_vocabulary(X))


def test_vocabulary_maps_lower_case_to_the_training_spelling(
    january: tuple[pd.DataFrame, pd.Series],
) -> None:
    vocabulary = category_vocabulary(january[0])
    assert set(vocabulary) == set(TEXT_COLUMNS)
    assert vocabulary["plan"]["premium"] == "Premium"
    assert vocabulary["payment_method"]["credit_card"] == "credit_card"


def test_vocabulary_names_missing_columns(january: tuple[pd.DataFrame, pd.Series]) -> None:
    with pytest.raises(KeyError, match=r"lacks the columns \['plan'\]"):
        category_vocabulary(january[0].drop(columns="plan"))


def test_normalise_fixes_case_and_spaces_keeps_unknowns_and_gaps() -> None:
    vocabulary = {"plan": {"premium": "Premium", "basic": "Basic"}}
    frame = pd.DataFrame({"plan": [" PREMIUM ", "basic", "Gold ", None], "age": [1, 2, 3, 4]})
    clean = normalise_categories(frame, vocabulary)
    assert clean["plan"].tolist()[:3] == ["Premium", "Basic", "Gold"]
    assert pd.isna(clean["plan"].iloc[3])
    assert frame["plan"].iloc[0] == " PREMIUM "  # the input is not modified
    assert clean["age"].tolist() == [1, 2, 3, 4]


def test_predict_cleans_then_scores_and_decides(
    model: ChurnModel, january: tuple[pd.DataFrame, pd.Series]
) -> None:
    X = january[0].sample(200, random_state=0)
    messy = X.assign(plan=X["plan"].str.upper(), region=" " + X["region"].str.lower())
    output = model.predict(None, messy)
    assert list(output.columns) == ["churn_probability", "decision"]
    assert output.index.equals(X.index)
    assert np.allclose(output["churn_probability"], model.pipeline.predict_proba(X)[:, 1])
    expected = np.where(output["churn_probability"] >= 0.5, CONTACT, NO_ACTION)
    assert (output["decision"] == expected).all()


def test_load_context_reads_the_threshold(model: ChurnModel) -> None:
    model.load_context(SimpleNamespace(model_config={"threshold": 0.2}))
    assert model.threshold == 0.2
    model.load_context(SimpleNamespace(model_config=None))
    assert model.threshold == 0.2  # no config: keep what it had
    model.threshold = 0.5


@pytest.mark.slow
def test_logged_model_round_trip_uses_model_config(
    model: ChurnModel,
    january: tuple[pd.DataFrame, pd.Series],
    tmp_path: Path,
) -> None:
    X = january[0]
    example = X.head(3)
    path = tmp_path / "churn_model"
    shutil.rmtree(path, ignore_errors=True)
    mlflow.pyfunc.save_model(
        path,
        python_model=model,
        signature=infer_signature(example, model.predict(None, example)),
        input_example=example,
        model_config={"threshold": 0.2},
        pip_requirements=["scikit-learn==1.9.1", "pandas==3.1.1"],
    )
    loaded: Any = mlflow.pyfunc.load_model(str(path))
    output = loaded.predict(X.sample(300, random_state=1))
    contact = output["churn_probability"] >= 0.2
    assert contact.any() and (~contact).any()
    assert (output["decision"] == np.where(contact, CONTACT, NO_ACTION)).all()
