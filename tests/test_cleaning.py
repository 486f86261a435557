"""The cleaning of the raw export: every injected problem fixed, clean data left alone."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from utils.cleaning import DTYPES, PERSONAL, VOCABULARY, clean_customers
from utils.data import TARGET, load_answer_key, load_dataset, months
from utils.features import FEATURES, split_features


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return load_dataset("customers_raw")


@pytest.fixture(scope="module")
def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return clean_customers(raw)


@pytest.fixture(scope="module")
def key() -> dict[str, dict]:
    return {problem["id"]: problem for problem in load_answer_key()["problems"]}


def by_id(frame: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return frame.set_index("customer_id").loc[ids]


def test_output_has_the_columns_and_dtypes_of_a_monthly_batch(clean: pd.DataFrame) -> None:
    batch = load_dataset("monthly/2025-01")
    assert clean.dtypes.equals(batch.dtypes)
    assert not set(PERSONAL) & set(clean.columns)
    X, y = split_features(clean)
    assert list(X.columns) == FEATURES and len(y) == len(clean)


def test_one_row_per_customer(clean: pd.DataFrame, raw: pd.DataFrame) -> None:
    assert clean["customer_id"].is_unique
    assert len(clean) == load_answer_key()["rows"]["distinct_customers"]
    assert set(clean["customer_id"]) == set(raw["customer_id"])


def test_the_first_row_of_a_repeated_id_wins(raw: pd.DataFrame, key: dict) -> None:
    customer = key["duplicate_ids"]["ids"][0]
    rows = raw[raw["customer_id"] == customer]
    swapped = pd.concat([rows.iloc[[1]], rows.iloc[[0]]])
    cleaned = clean_customers(swapped, age_fill=40)
    assert len(cleaned) == 1
    assert cleaned.iloc[0].equals(clean_customers(rows.iloc[[1]], age_fill=40).iloc[0])


def test_repeats_are_identical_once_cleaned_so_the_rule_loses_nothing(
    clean: pd.DataFrame, raw: pd.DataFrame
) -> None:
    last_wins = clean_customers(raw.iloc[::-1]).sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(last_wins, clean.sort_values("customer_id", ignore_index=True))


def test_categories_use_the_batch_vocabulary(clean: pd.DataFrame, key: dict) -> None:
    for column in ["plan", "contract_type", "payment_method", "region"]:
        canonical = set(key[f"inconsistent_{column}"]["canonical"])
        assert set(clean[column].dropna()) == canonical, column
        assert set(VOCABULARY[column].values()) == canonical
        for variant, value in key[f"inconsistent_{column}"]["variants"].items():
            assert VOCABULARY[column][variant.strip().lower()] == value


def test_injected_categories_are_fixed_row_by_row(
    clean: pd.DataFrame, raw: pd.DataFrame, key: dict
) -> None:
    first = raw.drop_duplicates("customer_id").set_index("customer_id")
    for column in ["plan", "contract_type", "payment_method", "region"]:
        problem = key[f"inconsistent_{column}"]
        ids = problem["ids"]
        expected = first.loc[ids, column].map(problem["variants"]).fillna(first.loc[ids, column])
        assert by_id(clean, ids)[column].tolist() == expected.tolist(), column


def test_impossible_ages_become_the_median_and_others_are_kept(
    clean: pd.DataFrame, raw: pd.DataFrame, key: dict
) -> None:
    first = raw.drop_duplicates("customer_id")
    median = int(first["age"].where(first["age"].between(18, 100)).median())
    fixed = key["impossible_age"]["ids"] + key["missing_age"]["ids"]
    assert (by_id(clean, fixed)["age"] == median).all()
    assert clean["age"].between(18, 100).all()
    untouched = raw[~raw["customer_id"].isin(fixed)].drop_duplicates("customer_id")
    assert (by_id(clean, list(untouched["customer_id"]))["age"].values == untouched["age"]).all()


def test_a_given_age_fill_is_used(raw: pd.DataFrame, key: dict) -> None:
    cleaned = clean_customers(raw, age_fill=33)
    assert (by_id(cleaned, key["impossible_age"]["ids"])["age"] == 33).all()


def test_sign_and_unit_errors_are_fixed(clean: pd.DataFrame, raw: pd.DataFrame, key: dict) -> None:
    first = raw.drop_duplicates("customer_id").set_index("customer_id")
    ids = key["negative_tenure"]["ids"]
    assert (by_id(clean, ids)["tenure_months"] == -first.loc[ids, "tenure_months"]).all()
    assert (clean["tenure_months"] >= 0).all()
    ids = key["fee_in_cents"]["ids"]
    assert by_id(clean, ids)["monthly_fee"].tolist() == pytest.approx(
        (first.loc[ids, "monthly_fee"] / 100).tolist()
    )
    assert clean["monthly_fee"].max() < 30
    ids = key["hours_in_minutes"]["ids"]
    assert by_id(clean, ids)["hours_watched"].tolist() == pytest.approx(
        (first.loc[ids, "hours_watched"] / 60).tolist(), abs=0.05
    )
    assert clean["hours_watched"].max() <= 744


def test_heavy_viewers_are_real_and_kept(clean: pd.DataFrame) -> None:
    assert (clean["hours_watched"] > 200).sum() == 12


def test_fees_agree_with_the_december_invoices(clean: pd.DataFrame) -> None:
    invoices = load_dataset("billing", table="invoices")
    december = invoices[invoices["invoice_month"] == "2024-12"].drop_duplicates("customer_id")
    amounts = december.set_index("customer_id")["amount"] / 100
    joined = clean.set_index("customer_id")["monthly_fee"]
    assert (joined - amounts.reindex(joined.index)).abs().max() < 0.005


def test_every_date_format_is_parsed(clean: pd.DataFrame, raw: pd.DataFrame, key: dict) -> None:
    assert clean["signup_date"].notna().all()
    months_since = (2024 - clean["signup_date"].dt.year) * 12 + 12 - clean["signup_date"].dt.month
    assert (months_since == clean["tenure_months"]).all()
    one = raw[raw["signup_date"].str.match(r"^\d{2}/\d{2}/\d{4}$")].iloc[0]
    day, month, year = map(int, re.findall(r"\d+", one["signup_date"]))
    parsed = by_id(clean, [one["customer_id"]])["signup_date"].iloc[0]
    assert (parsed.year, parsed.month, parsed.day) == (year, month, day)


def test_autopay_becomes_a_boolean(clean: pd.DataFrame, raw: pd.DataFrame) -> None:
    first = raw.drop_duplicates("customer_id").set_index("customer_id")
    assert (clean.set_index("customer_id")["autopay"] == (first["autopay"] == "yes")).all()


def test_missing_values_left_for_the_pipeline(clean: pd.DataFrame, key: dict) -> None:
    assert set(clean.loc[clean["hours_watched"].isna(), "customer_id"]) == set(
        key["missing_hours_watched"]["ids"]
    )
    assert set(clean.loc[clean["region"].isna(), "customer_id"]) == set(
        key["missing_region"]["ids"]
    )


def test_the_input_is_not_modified(raw: pd.DataFrame) -> None:
    before = raw.copy()
    clean_customers(raw)
    pd.testing.assert_frame_equal(raw, before)


@pytest.mark.parametrize("month", months())
def test_a_clean_monthly_batch_comes_back_unchanged(month: str) -> None:
    batch = load_dataset(f"monthly/{month}")
    pd.testing.assert_frame_equal(clean_customers(batch), batch)


def test_cleaning_twice_changes_nothing(clean: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(clean_customers(clean), clean)


def test_the_label_is_optional(raw: pd.DataFrame) -> None:
    cleaned = clean_customers(raw.drop(columns=TARGET).head(50))
    assert list(cleaned.columns) == [c for c in DTYPES if c != TARGET]


def test_unknown_spellings_are_kept_and_named(raw: pd.DataFrame) -> None:
    odd = raw.head(3).copy()
    odd.loc[odd.index[0], "plan"] = " Platinum "
    with pytest.warns(UserWarning, match=r"plan has values no rule maps.*'Platinum'"):
        cleaned = clean_customers(odd)
    assert cleaned["plan"].iloc[0] == "Platinum"


def test_a_frame_missing_columns_is_refused_by_name(raw: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"needs the columns \['plan', 'autopay'\]"):
        clean_customers(raw.drop(columns=["plan", "autopay"]))


@pytest.mark.parametrize("value", [None, [1, 2], "customers_raw.csv"])
def test_something_other_than_a_frame_is_refused(value: object) -> None:
    with pytest.raises(
        TypeError, match=f"expects a pandas DataFrame.*not a {type(value).__name__}"
    ):
        clean_customers(value)  # type: ignore[arg-type]


def test_odd_autopay_answers_are_named(raw: pd.DataFrame) -> None:
    odd = raw.head(3).copy()
    odd.loc[odd.index[1], "autopay"] = "maybe"
    with pytest.raises(ValueError, match=r"autopay must be yes or no; found \['maybe'\]"):
        clean_customers(odd)
