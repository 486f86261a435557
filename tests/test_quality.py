"""The quality report finds exactly the problems injected into the raw export.

The answer key (``datasets/answer_key.json``) lists every injected problem with its
count; where a report dimension covers the same problem the counts must agree. A clean
monthly batch must score (almost) 1.0 everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.data import load_answer_key, load_dataset
from utils.quality import (
    CANONICAL,
    DIMENSIONS,
    column_profile,
    date_formats,
    parse_dates,
    quality_issues,
    quality_report,
)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return load_dataset("customers_raw")


@pytest.fixture(scope="module")
def problems() -> dict[str, dict]:
    key = load_answer_key()
    return {p["id"]: p for p in key["problems"] if p["file"] == "customers_raw.csv"}


@pytest.fixture(scope="module")
def raw_issues(raw: pd.DataFrame) -> pd.DataFrame:
    return quality_issues(raw, as_of="2024-12-31")


@pytest.fixture(scope="module")
def raw_report(raw: pd.DataFrame) -> pd.DataFrame:
    return quality_report(raw, as_of="2024-12-31").set_index("dimension")


def issues_of(found: pd.DataFrame, dimension: str, column: str) -> int:
    rows = found[(found["dimension"] == dimension) & (found["column"] == column)]
    assert len(rows) == 1, f"no single {dimension} row for {column}"
    return int(rows["issues"].iloc[0])


def test_report_shape(raw_report: pd.DataFrame) -> None:
    assert list(raw_report.index) == DIMENSIONS
    assert list(raw_report.reset_index().columns) == ["dimension", "score", "issues", "detail"]
    assert raw_report["score"].between(0, 1).all()
    assert raw_report["detail"].str.len().gt(10).all()


@pytest.mark.parametrize(
    ("problem", "dimension", "column"),
    [
        ("missing_hours_watched", "completeness", "hours_watched"),
        ("missing_age", "completeness", "age"),
        ("missing_region", "completeness", "region"),
        ("impossible_age", "validity", "age"),
        ("negative_tenure", "validity", "tenure_months"),
        ("fee_in_cents", "validity", "monthly_fee"),
        ("hours_in_minutes", "validity", "hours_watched"),
        ("invalid_email", "validity", "email"),
        ("mixed_date_formats", "consistency", "signup_date"),
        ("inconsistent_plan", "consistency", "plan"),
        ("inconsistent_contract_type", "consistency", "contract_type"),
        ("inconsistent_payment_method", "consistency", "payment_method"),
        ("inconsistent_region", "consistency", "region"),
        ("duplicate_rows", "uniqueness", "(all columns)"),
        ("duplicate_ids", "uniqueness", "customer_id"),
    ],
)
def test_each_injected_problem_is_found(
    raw_issues: pd.DataFrame, problems: dict[str, dict], problem: str, dimension: str, column: str
) -> None:
    assert problems[problem]["dimension"] == dimension
    assert issues_of(raw_issues, dimension, column) == problems[problem]["count"]


def test_dimension_totals_match_the_answer_key(
    raw_report: pd.DataFrame, problems: dict[str, dict]
) -> None:
    for dimension in ("completeness", "uniqueness", "validity", "consistency"):
        expected = sum(p["count"] for p in problems.values() if p["dimension"] == dimension)
        assert raw_report.loc[dimension, "issues"] == expected, dimension
    assert raw_report.loc["timeliness", "issues"] == 0
    assert (raw_report["score"] < 1).sum() == 4


def test_no_false_alarms_on_clean_columns(raw_issues: pd.DataFrame) -> None:
    for column in ("days_active", "devices", "support_contacts_3m", "customer_id"):
        assert issues_of(raw_issues, "validity", column) == 0
    assert issues_of(raw_issues, "consistency", "autopay") == 0


def test_a_monthly_batch_scores_about_one() -> None:
    batch = load_dataset("monthly/2025-03")
    report = quality_report(batch, as_of="2025-03-31").set_index("dimension")
    assert (report["score"] > 0.998).all(), report
    assert (report.drop(index="completeness")["issues"] == 0).all()
    # the only gap in a batch: about 1.5 % of hours_watched (datasheet)
    assert report.loc["completeness", "issues"] == batch["hours_watched"].isna().sum()


def test_stacked_months_need_a_compound_key() -> None:
    months = pd.concat(
        [load_dataset("monthly/2025-01").assign(month="2025-01"),
         load_dataset("monthly/2025-02").assign(month="2025-02")],
        ignore_index=True,
    )  # fmt: skip
    by_customer = quality_report(months, as_of="2025-02-28").set_index("dimension")
    by_month = quality_report(months, key=["month", "customer_id"], as_of="2025-02-28")
    assert by_customer.loc["uniqueness", "issues"] > 5000  # customers repeat across months
    assert by_month.set_index("dimension").loc["uniqueness", "issues"] == 0


def test_future_dates_are_not_timely() -> None:
    frame = pd.DataFrame(
        {"customer_id": ["C000001", "C000002", "C000003"],
         "signup_date": ["2024-12-01", "2025-02-01", "31/01/2025"]}
    )  # fmt: skip
    report = quality_report(frame, as_of="2024-12-31").set_index("dimension")
    assert report.loc["timeliness", "issues"] == 2
    assert report.loc["timeliness", "score"] == pytest.approx(1 / 3, abs=1e-3)
    assert "after 2024-12-31" in report.loc["timeliness", "detail"]
    assert "the newest signup_date is 2025-02-01" in report.loc["timeliness", "detail"]


def test_a_handmade_messy_frame() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["C000001", "C000001", "X12", "C000004"],
            "age": [30, 30, 7, np.nan],
            "plan": ["Basic", "basic", "Premium", ""],
            "autopay": ["yes", "yes", "YES", "no"],
            "signup_date": ["2024-01-05", "05/01/2024", "yesterday", None],
        }
    )
    found = quality_issues(frame, as_of="2024-12-31")
    assert issues_of(found, "completeness", "age") == 1
    assert issues_of(found, "completeness", "plan") == 1  # an empty string is missing
    assert issues_of(found, "uniqueness", "customer_id") == 1
    assert issues_of(found, "validity", "age") == 1
    assert issues_of(found, "validity", "customer_id") == 1
    assert issues_of(found, "validity", "signup_date") == 1  # "yesterday"
    assert issues_of(found, "consistency", "plan") == 1
    assert issues_of(found, "consistency", "autopay") == 1
    assert issues_of(found, "consistency", "signup_date") == 1
    # numbers stored as text are still checked
    as_text = quality_issues(frame.astype({"age": "string"}), as_of="2024-12-31")
    assert issues_of(as_text, "validity", "age") == 1


def test_dimensions_without_columns_score_nan() -> None:
    report = quality_report(pd.DataFrame({"x": [1, 2]}), key=None).set_index("dimension")
    assert np.isnan(report.loc["validity", "score"])
    assert report.loc["validity", "detail"].startswith("nothing to check")
    assert report.loc["completeness", "score"] == 1.0


def test_canonical_vocabularies_match_the_answer_key(problems: dict[str, dict]) -> None:
    for column in ("plan", "contract_type", "payment_method", "region"):
        assert CANONICAL[column] == problems[f"inconsistent_{column}"]["canonical"]


def test_dates_in_every_format_are_parsed(raw: pd.DataFrame, problems: dict[str, dict]) -> None:
    counts = date_formats(raw["signup_date"]).value_counts().to_dict()
    assert counts == problems["mixed_date_formats"]["formats"]
    parsed = parse_dates(pd.Series(["2024-03-05", "05/03/2024", "Mar 05, 2024", "soon", None]))
    assert list(parsed[:3]) == [pd.Timestamp("2024-03-05")] * 3
    assert parsed[3:].isna().all()


def test_column_profile(raw: pd.DataFrame) -> None:
    profile = column_profile(raw).set_index("column")
    assert list(profile.index) == list(raw.columns)
    assert profile.loc["hours_watched", "missing"] == 345
    assert profile.loc["hours_watched", "missing_share"] == pytest.approx(345 / len(raw), abs=1e-4)
    assert profile.loc["autopay", "distinct"] == 2
    assert profile.loc["plan", "dtype"] == "str"
    assert profile.loc["customer_id", "examples"].count("'") == 6


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: quality_report([1, 2]), TypeError, "expected a pandas DataFrame, got list"),
        (lambda: quality_report(pd.DataFrame()), ValueError, "no columns"),
        (lambda: quality_report(pd.DataFrame({"a": [1]})), KeyError, "key=None"),
        (
            lambda: quality_report(pd.DataFrame({"a": [1]}), key=None, as_of="someday"),
            ValueError,
            "as_of must be a date",
        ),
        (lambda: column_profile("frame"), TypeError, "got str"),
        (lambda: parse_dates(["2024-01-01"]), TypeError, "pandas Series"),
    ],
)
def test_bad_input_gets_a_clear_message(call, error: type[Exception], message: str) -> None:  # noqa: ANN001
    with pytest.raises(error, match=message):
        call()
