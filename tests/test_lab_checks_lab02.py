"""Lab 02's checks: the solution passes, and wrong answers get specific messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from utils.checks import Feedback
from utils.cleaning import VOCABULARY
from utils.data import load_dataset
from utils.features import CATEGORICAL, NUMERIC, build_model
from utils.labs import lab02

NEW_SPELLINGS = {
    "plan": {"basic plan": "Basic", "std.": "Standard", "prem": "Premium", "fam.": "Family"},
    "contract_type": {"1yr": "one-year", "2yr": "two-year"},
    "payment_method": {"credit": "credit_card", "pay pal": "paypal", "bank": "bank_transfer"},
    "region": {"centre": "Central", "e.": "East", "sth": "South", "w.": "West"},
}


def problems(feedback: Feedback) -> str:
    assert feedback.status == "failed", f"expected a failure, got: {feedback}"
    return "\n".join(feedback.problems)


def map_categories(frame: pd.DataFrame, extra: dict | None = None) -> pd.DataFrame:
    out = frame.copy()
    for column, mapping in VOCABULARY.items():
        full = {**mapping, **(extra or {}).get(column, {})}
        out[column] = out[column].str.strip().str.lower().map(full)
    return out


def clean_types(deduped: pd.DataFrame, fix_fees: bool = True) -> pd.DataFrame:
    clean = deduped.copy()
    signup = pd.Series(pd.NaT, index=clean.index, dtype="datetime64[us]")
    for fmt in ["%Y-%m-%d", "%d/%m/%Y", "%b %d, %Y"]:
        signup = signup.fillna(pd.to_datetime(clean["signup_date"], format=fmt, errors="coerce"))
    clean["signup_date"] = signup
    clean["autopay"] = clean["autopay"].map({"yes": True, "no": False})
    age = clean["age"].where(clean["age"].between(18, 100))
    clean["age"] = age.fillna(age.median()).round()
    clean["tenure_months"] = clean["tenure_months"].abs()
    if fix_fees:
        cents = clean["monthly_fee"] > 100
        clean.loc[cents, "monthly_fee"] = (clean.loc[cents, "monthly_fee"] / 100).round(2)
    types = load_dataset("monthly/2025-01").dtypes.to_dict()
    return clean.astype(types).reset_index(drop=True)


def good_model() -> Pipeline:
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    preprocess = ColumnTransformer(
        [("numeric", numeric, NUMERIC), ("categorical", categorical, CATEGORICAL)]
    )
    return Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(max_iter=1000))])


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    return lab02.messy_batch()


@pytest.fixture(scope="module")
def categories(messy: pd.DataFrame) -> pd.DataFrame:
    return map_categories(messy, NEW_SPELLINGS)


@pytest.fixture(scope="module")
def deduped(categories: pd.DataFrame) -> pd.DataFrame:
    return categories.drop_duplicates(subset="customer_id", keep="first")


@pytest.fixture(scope="module")
def data() -> tuple:
    return lab02.pipeline_data()


@pytest.fixture(scope="module")
def scored(data: tuple) -> tuple[Pipeline, np.ndarray]:
    X_train, _, y_train, _ = data
    model = good_model()
    scores = cross_val_score(model, X_train, y_train, cv=lab02.cv_splitter(), scoring="roc_auc")
    return model, scores


# --- The raw batch ----------------------------------------------------------------------------


def test_the_raw_batch_is_the_same_every_time(messy: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(lab02.messy_batch(), messy)


def test_the_raw_batch_has_every_injected_problem(messy: pd.DataFrame) -> None:
    truth = lab02.true_batch()
    assert messy["customer_id"].nunique() == len(truth)
    assert messy.duplicated().sum() == lab02.COUNTS["exact_duplicates"]
    repeated_ids = messy["customer_id"].duplicated().sum()
    assert repeated_ids == lab02.COUNTS["exact_duplicates"] + lab02.COUNTS["id_duplicates"]
    assert (messy["tenure_months"] < 0).any() and (messy["monthly_fee"] > 100).any()
    assert sorted(messy.loc[~messy["age"].between(18, 100), "age"].dropna().unique()) == sorted(
        set(lab02.IMPOSSIBLE_AGES)
    )
    assert messy["signup_date"].str.contains("/").any() and set(messy["autopay"]) == {"yes", "no"}


# --- Task 1 -----------------------------------------------------------------------------------


def test_categories_solution_passes(categories: pd.DataFrame) -> None:
    assert lab02.check_categories(categories).passed


def test_categories_wrong_type_is_named() -> None:
    assert "categories should be a DataFrame, not a list" in problems(lab02.check_categories([1]))


def test_categories_left_as_they_are_are_listed(messy: pd.DataFrame) -> None:
    text = problems(lab02.check_categories(messy))
    assert "column plan still has 'Std.' (30)" in text
    assert "column region still has" in text


def test_an_incomplete_mapping_names_the_spellings_it_lost(messy: pd.DataFrame) -> None:
    text = problems(lab02.check_categories(map_categories(messy)))
    assert "region has 49 more missing values than the raw batch" in text
    assert "'Centre', 'E.', 'Sth' and 1 more" in text


def test_dropping_rows_in_task_1_is_refused(categories: pd.DataFrame) -> None:
    text = problems(lab02.check_categories(categories.head(100)))
    assert "categories has 100 rows, the raw batch 6,817" in text


# --- Task 2 -----------------------------------------------------------------------------------


def test_duplicates_solution_passes(deduped: pd.DataFrame) -> None:
    assert lab02.check_duplicates(deduped).passed


def test_exact_duplicates_only_leave_repeated_ids(messy: pd.DataFrame) -> None:
    text = problems(lab02.check_duplicates(messy.drop_duplicates()))
    assert text.startswith("12 duplicate customer ids remain, e.g. C")


def test_dropping_every_copy_is_named(categories: pd.DataFrame) -> None:
    text = problems(
        lab02.check_duplicates(categories.drop_duplicates(subset="customer_id", keep=False))
    )
    assert "52 customers were dropped entirely" in text


def test_duplicates_wrong_type_is_named(deduped: pd.DataFrame) -> None:
    text = problems(lab02.check_duplicates(deduped["customer_id"]))
    assert "deduped should be a DataFrame, not a Series" in text


# --- Task 3 -----------------------------------------------------------------------------------


def test_clean_solution_passes(deduped: pd.DataFrame) -> None:
    assert lab02.check_clean(clean_types(deduped)).passed


def test_wrong_dtypes_are_named(deduped: pd.DataFrame) -> None:
    text = problems(lab02.check_clean(deduped))
    assert "age is float64 (a batch has int64)" in text
    assert "autopay is str (a batch has bool)" in text


def test_fees_in_cents_are_named_with_the_cause(deduped: pd.DataFrame) -> None:
    text = problems(lab02.check_clean(clean_types(deduped, fix_fees=False)))
    assert "monthly_fee differs from the true value for 7 customers" in text
    assert "typed in cents" in text


def test_guessed_dates_are_named(deduped: pd.DataFrame) -> None:
    clean = clean_types(deduped)
    guessed = pd.to_datetime(deduped["signup_date"], format="mixed", dayfirst=False)
    clean["signup_date"] = guessed.astype("datetime64[us]").to_numpy()
    text = problems(lab02.check_clean(clean))
    assert "signup_date differs from the true value" in text and "day first" in text


def test_impossible_ages_are_named(deduped: pd.DataFrame) -> None:
    clean = clean_types(deduped)
    clean.loc[0, "age"] = 999
    assert "1 ages are missing or outside 18-100" in problems(lab02.check_clean(clean))


def test_a_clean_with_duplicates_is_refused(categories: pd.DataFrame) -> None:
    text = problems(lab02.check_clean(clean_types(categories)))
    assert "each customer of the batch exactly once" in text


# --- Task 4 -----------------------------------------------------------------------------------


def test_pipeline_solution_passes(scored: tuple) -> None:
    assert lab02.check_pipeline(*scored).passed


def test_a_bare_classifier_is_refused(scored: tuple) -> None:
    text = problems(lab02.check_pipeline(LogisticRegression(), scored[1]))
    assert "model should be a Pipeline, not a LogisticRegression" in text
    assert "refits the preprocessing on each fold" in text


def test_a_scaler_fitted_before_the_split_is_named(data: tuple, scored: tuple) -> None:
    X_train = data[0]
    model = good_model()
    scaler = StandardScaler().fit(X_train[NUMERIC].fillna(0))
    model.named_steps["preprocess"].transformers[0][1].steps[1] = ("standardscaler", scaler)
    text = problems(lab02.check_pipeline(model, scored[1]))
    assert (
        "your pipeline's preprocess/numeric/standardscaler (StandardScaler) was fitted before "
        "the split: fit it inside the pipeline"
    ) in text


def test_a_pipeline_fitted_in_a_later_task_is_named(data: tuple, scored: tuple) -> None:
    X_train, _, y_train, _ = data
    model = good_model().fit(X_train, y_train)
    text = problems(lab02.check_pipeline(model, scored[1]))
    assert "preprocess (ColumnTransformer) was fitted before the split" in text
    assert "run this task's cell again" in text


def test_a_pipeline_that_cannot_take_raw_features_is_named(scored: tuple) -> None:
    bare = Pipeline([("scale", StandardScaler()), ("classifier", LogisticRegression())])
    text = problems(lab02.check_pipeline(bare, scored[1]))
    assert "no ColumnTransformer" in text and "fails on the raw features X_train" in text


def test_scores_from_elsewhere_are_named(scored: tuple) -> None:
    model, scores = scored
    text = problems(lab02.check_pipeline(model, scores + 0.05))
    assert "your cv_scores average" in text and "with the lab's cv gives" in text


def test_scores_of_the_wrong_shape_are_named(scored: tuple) -> None:
    text = problems(lab02.check_pipeline(scored[0], 0.78))
    assert "cv_scores should be the 5 fold scores" in text


# --- Task 5 -----------------------------------------------------------------------------------


def test_test_score_solution_passes(data: tuple) -> None:
    X_train, X_test, y_train, y_test = data
    fitted = clone(build_model()).fit(X_train, y_train)
    auc = roc_auc_score(y_test, fitted.predict_proba(X_test)[:, 1])
    assert lab02.check_test_score(fitted, auc).passed


def test_a_pipeline_fitted_on_every_row_is_named(data: tuple) -> None:
    X_train, X_test, y_train, y_test = data
    everything = build_model().fit(pd.concat([X_train, X_test]), pd.concat([y_train, y_test]))
    auc = roc_auc_score(y_test, everything.predict_proba(X_test)[:, 1])
    text = problems(lab02.check_test_score(everything, auc))
    assert "fit it on X_train and y_train only" in text


def test_a_wrong_test_auc_is_named(data: tuple) -> None:
    X_train, _, y_train, _ = data
    fitted = build_model().fit(X_train, y_train)
    assert "test_auc is 0.5000, but fitted scores" in problems(lab02.check_test_score(fitted, 0.5))


def test_an_unfitted_pipeline_and_a_text_score_are_named(data: tuple) -> None:
    assert "has not been fitted" in problems(lab02.check_test_score(build_model(), 0.7))
    text = problems(lab02.check_test_score(build_model(), "0.75"))
    assert "test_auc should be a float or floating, not a str" in text


def test_every_task_reports_unfinished_on_ellipsis() -> None:
    assert lab02.check_categories(...).status == "unfinished"
    assert lab02.check_pipeline(..., ...).status == "unfinished"
    assert lab02.check_test_score(..., ...).status == "unfinished"
