"""Lab 01's checks: right answers pass, wrong ones get a specific message, never a traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils import checks
from utils.labs import lab01
from utils.labs.lab01 import GRID, LAB_COSTS
from utils.quality import CANONICAL, VALID_RANGES

RNG = np.random.default_rng(3)
SCORES = np.round(RNG.uniform(0, 0.9, 2000), 3)
SCORES[:40] = 0.5  # scores exactly on a threshold, to tell >= from >
Y = (RNG.uniform(size=SCORES.size) < SCORES).astype(int)
Y[:40] = 1


def curve_for(
    value: float = LAB_COSTS.customer_value,
    save_rate: float = LAB_COSTS.save_rate,
    offer_on_churners: bool = True,
    strict: bool = False,
    grid: list[float] = GRID,
) -> pd.DataFrame:
    """The profit curve as a student would compute it, right or with one mistake."""
    rows = []
    for t in grid:
        contacted = SCORES > t if strict else SCORES >= t
        tp = int((contacted & (Y == 1)).sum())
        fp = int((contacted & (Y == 0)).sum())
        gain = save_rate * value - (LAB_COSTS.offer_cost if offer_on_churners else 0)
        rows.append(
            {
                "threshold": t,
                "contact_share": contacted.mean(),
                "profit": tp * gain - fp * LAB_COSTS.offer_cost,
            }
        )
    return pd.DataFrame(rows)


def problems(feedback: checks.Feedback) -> str:
    assert feedback.status == "failed", feedback
    return " ".join(feedback.problems)


def test_every_task_is_declared() -> None:
    assert checks.TASKS["lab01"] == [
        "Task 1 · Break-even threshold",
        "Task 2 · Profit curve",
        "Task 3 · Threshold within the budget",
        "Task 4 · Duplicates",
        "Task 5 · Missing and invalid values per column",
    ]


# --- Task 1 ------------------------------------------------------------------------------


def test_break_even_right_and_unfinished() -> None:
    assert lab01.check_break_even(8 / (0.3 * 90)).passed
    assert lab01.check_break_even(np.float64(0.2963)).passed
    assert lab01.check_break_even(...).status == "unfinished"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("0.3", "should be a number, not str"),
        (8 / 90, "forgot save_rate"),
        (8 / (0.3 * 15), "6 months of fee (90 USD), not one month"),
        (0.3 * 90 / 8, "upside down"),
        (0.5, "is worth +5.50 USD on average, not 0"),
    ],
)
def test_break_even_mistakes(answer: object, message: str) -> None:
    assert message in problems(lab01.check_break_even(answer))


# --- Task 2 ------------------------------------------------------------------------------


def test_profit_curve_right() -> None:
    feedback = lab01.check_profit_curve(curve_for(), Y, SCORES)
    assert feedback.passed, feedback
    assert lab01.check_profit_curve(..., Y, SCORES).status == "unfinished"


@pytest.mark.parametrize(
    ("curve", "message"),
    [
        ([0.1, 0.2], "should be a DataFrame, not a list"),
        (curve_for().drop(columns="profit"), "lacks the column(s) ['profit']"),
        (curve_for(grid=[round(t, 2) for t in np.arange(0, 1, 0.05)]), "got 20 rows"),
        (curve_for().assign(contact_share=lambda c: c["contact_share"] * len(SCORES)),
         "a share of the customers (0-1), not a count"),
        (curve_for(offer_on_churners=False), "offer's cost is also paid for the churners"),
        (curve_for(save_rate=1.0), "multiply the customer value by save_rate"),
        (curve_for(value=LAB_COSTS.monthly_fee), "months_kept months of fee"),
    ],
)  # fmt: skip
def test_profit_curve_mistakes(curve: object, message: str) -> None:
    assert message in problems(lab01.check_profit_curve(curve, Y, SCORES))


def test_strict_comparison_is_named() -> None:
    text = problems(lab01.check_profit_curve(curve_for(strict=True), Y, SCORES))
    assert "contact_share is" in text
    assert "contact customers whose score is >= the threshold, not >" in text


def test_profit_error_names_the_threshold_and_amounts() -> None:
    wrong = curve_for()
    wrong.loc[6, "profit"] += 100
    text = problems(lab01.check_profit_curve(wrong, Y, SCORES))
    assert text.startswith("at threshold 0.30 your profit is")
    assert "expected" in text


# --- Task 3 ------------------------------------------------------------------------------


def best_in_budget() -> float:
    curve = curve_for()
    within = curve[curve["contact_share"] <= LAB_COSTS.max_contact_share]
    return float(within.loc[within["profit"].idxmax(), "threshold"])


def test_threshold_right() -> None:
    assert lab01.check_threshold(best_in_budget(), Y, SCORES).passed


def test_threshold_over_the_budget() -> None:
    text = problems(lab01.check_threshold(0.2, Y, SCORES))
    share = (SCORES >= 0.2).mean()
    assert f"threshold 0.20 contacts {share:.1%} of customers; the budget allows 12%" in text


def test_threshold_too_high_says_what_it_loses() -> None:
    text = problems(lab01.check_threshold(0.85, Y, SCORES))
    assert "threshold 0.85 flags only" in text
    assert f"the budget allows 12%: threshold {best_in_budget():.2f} earns" in text


@pytest.mark.parametrize(
    ("answer", "message"),
    [("0.4", "should be a number, not str"), (1.5, "1.5 is not in [0, 1]")],
)
def test_threshold_bad_values(answer: object, message: str) -> None:
    assert message in problems(lab01.check_threshold(answer, Y, SCORES))


# --- Tasks 4 and 5 -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    return lab01.messy_batch()


def test_messy_batch_is_deterministic_and_messy(batch: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(batch, lab01.messy_batch())
    exact, repeated = lab01.expected_duplicates(batch)
    assert exact > 0 and repeated > 0
    report = lab01.expected_column_report(batch)
    assert report.loc["region", "missing"] > batch["region"].isna().sum()  # blank strings
    assert (report["invalid"] > 0).sum() >= 6


def test_duplicates(batch: pd.DataFrame) -> None:
    exact = int(batch.duplicated().sum())
    repeated = int((batch["customer_id"].duplicated() & ~batch.duplicated()).sum())
    assert lab01.check_duplicates(exact, repeated, batch).passed
    assert lab01.check_duplicates(np.int64(exact), repeated, batch).passed
    both = int(batch.duplicated(keep=False).sum())
    assert "counts both copies" in problems(lab01.check_duplicates(both, repeated, batch))
    every_id = int(batch["customer_id"].duplicated().sum())
    text = problems(lab01.check_duplicates(exact, every_id, batch))
    assert f"the {exact} exact copies included" in text
    assert "wrap it in int(...)" in problems(lab01.check_duplicates(float(exact), repeated, batch))
    assert lab01.check_duplicates(exact, ..., batch).status == "unfinished"


def student_report(batch: pd.DataFrame, blanks: bool = True, exact_spelling: bool = True,
                   missing_invalid: bool = False) -> pd.DataFrame:  # fmt: skip
    """Task 5 as a student would write it, right or with one mistake."""
    if blanks:
        text = batch.apply(lambda c: c.astype("string").str.strip().eq(""))
        blank = batch.isna() | text.fillna(False)
    else:
        blank = batch.isna()
    counts = {}
    for column in batch.columns:
        present = pd.Series(True, index=batch.index) if missing_invalid else ~blank[column]
        if column in VALID_RANGES:
            low, high = VALID_RANGES[column]
            values = pd.to_numeric(batch[column], errors="coerce")
            inside = values.between(
                -np.inf if low is None else low, np.inf if high is None else high
            )
            invalid = present & ~inside
        elif column in CANONICAL:
            values = batch[column]
            if not exact_spelling:
                values = values.astype("string").str.strip().str.lower()
            allowed = (
                CANONICAL[column] if exact_spelling else [v.lower() for v in CANONICAL[column]]
            )
            invalid = present & ~values.isin(allowed)
        else:
            invalid = pd.Series(False, index=batch.index)
        counts[column] = {"missing": int(blank[column].sum()), "invalid": int(invalid.sum())}
    return pd.DataFrame.from_dict(counts, orient="index")


def test_column_report_right(batch: pd.DataFrame) -> None:
    feedback = lab01.check_column_report(student_report(batch), batch)
    assert feedback.passed, feedback
    shuffled = student_report(batch).sample(frac=1, random_state=0)
    assert lab01.check_column_report(shuffled, batch).passed


def test_column_report_mistakes(batch: pd.DataFrame) -> None:
    text = problems(lab01.check_column_report(student_report(batch, blanks=False), batch))
    assert "region: missing is" in text and "blank strings ('' or ' ') are missing" in text
    text = problems(lab01.check_column_report(student_report(batch, exact_spelling=False), batch))
    assert "a different case or a trailing space is not the canonical spelling" in text
    text = problems(lab01.check_column_report(student_report(batch, missing_invalid=True), batch))
    assert "missing values are counted under missing, not invalid" in text


def test_column_report_shape_and_type(batch: pd.DataFrame) -> None:
    report = student_report(batch)
    assert "should be a DataFrame, not a dict" in problems(
        lab01.check_column_report(report.to_dict(), batch)
    )
    assert "lacks the column(s) ['invalid']" in problems(
        lab01.check_column_report(report.drop(columns="invalid"), batch)
    )
    assert "missing rows for ['age']" in problems(
        lab01.check_column_report(report.drop(index="age"), batch)
    )
    assert lab01.check_column_report(..., batch).status == "unfinished"
