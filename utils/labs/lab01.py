"""Checks for lab 01: business metrics and data quality (after lesson 02).

Tasks 1-3 turn the campaign's costs into a break-even threshold, a profit curve and a
threshold within the contact budget; tasks 4-5 assess the quality of a messy batch.
The lab's data come from here too: :data:`LAB_COSTS` and :func:`messy_batch`, so that
the checks and the notebook always agree on them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from utils.business import CampaignCosts, best_threshold, contact_share, expected_profit
from utils.checks import Feedback, task_check
from utils.data import load_dataset
from utils.i18n import N_, _
from utils.quality import CANONICAL, VALID_RANGES, quality_issues

LAB = "lab01"

#: The campaign of this lab (different from the course's DEFAULT_COSTS on purpose).
LAB_COSTS = CampaignCosts(
    offer_cost=8.0, monthly_fee=15.0, months_kept=6.0, save_rate=0.3, max_contact_share=0.12
)

#: The thresholds of task 2: 0.00, 0.05, ..., 1.00.
GRID: list[float] = [round(0.05 * i, 2) for i in range(21)]

#: The columns of task 5's report.
REPORT_COLUMNS: list[str] = ["missing", "invalid"]


def _expect_number(fb: Feedback, value: Any, what: str) -> bool:
    """Expect a real number (Python or NumPy); the message names the type received."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    ok = ok and not np.isnan(value)
    return fb.expect(
        ok,
        _("{what} is a number").format(what=what),
        _("{what} should be a number, not {type} {value!r:.40}").format(
            what=what, type=type(value).__name__, value=value
        ),
    )


def _expect_count(fb: Feedback, value: Any, what: str) -> bool:
    """Expect a whole number (Python or NumPy integer)."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    tip = _("; wrap it in int(...)") if isinstance(value, float | np.floating) else ""
    return fb.expect(
        ok,
        _("{what} is a whole number").format(what=what),
        _("{what} should be a whole number (int), not a {type}{tip}").format(
            what=what, type=type(value).__name__, tip=tip
        ),
    )


def messy_batch(month: str = "2025-06", rows: int = 400, seed: int = 7) -> pd.DataFrame:
    """Return a sample of a production batch, made messy the way raw exports are.

    The sample is turned back into raw text form (``autopay`` yes/no, ``signup_date`` as
    text), then gets exact duplicate rows, repeated ids with a category spelled
    differently, missing values (some as empty strings), impossible values and
    non-canonical spellings. The same arguments always give the same frame.

    Args:
        month: The production month to sample, ``"YYYY-MM"``.
        rows: How many customers to sample before adding duplicates.
        seed: Seed of every random choice.

    Returns:
        The messy batch, rows shuffled, with a fresh index.
    """
    rng = np.random.default_rng(seed)
    batch = load_dataset(f"monthly/{month}").sample(n=rows, random_state=seed)
    batch = batch.astype({"age": "float64", "region": "object", "plan": "object"})
    batch["autopay"] = np.where(batch["autopay"], "yes", "no")
    batch["signup_date"] = batch["signup_date"].dt.strftime("%Y-%m-%d")
    batch = batch.reset_index(drop=True)

    def pick(count: int) -> np.ndarray:
        return rng.choice(batch.index.to_numpy(), size=count, replace=False)

    batch.loc[pick(7), "age"] = np.nan
    batch.loc[pick(4), "region"] = np.nan
    batch.loc[pick(3), "region"] = ""
    batch.loc[pick(2), "plan"] = " "
    batch.loc[pick(3), "age"] = [0, 150, 999]
    batch.loc[pick(2), "tenure_months"] = -batch["tenure_months"].abs().max()
    fee_rows = pick(2)
    batch.loc[fee_rows, "monthly_fee"] = batch.loc[fee_rows, "monthly_fee"] * 100
    batch.loc[pick(1), "devices"] = 0
    batch.loc[pick(1), "days_active"] = 45
    for column, spelling, count in (
        ("plan", "premium", 5),
        ("contract_type", "M2M", 4),
        ("payment_method", "CC", 3),
        ("region", "north ", 3),
    ):
        batch.loc[pick(count), column] = spelling
    exact = batch.loc[pick(6)]
    respelled = batch.loc[pick(4)].copy()
    respelled["payment_method"] = respelled["payment_method"].str.upper()
    messy = pd.concat([batch, exact, respelled])
    return messy.sample(frac=1, random_state=seed).reset_index(drop=True)


def expected_duplicates(batch: pd.DataFrame) -> tuple[int, int]:
    """Return (exact duplicate rows, rows repeating a customer_id with other values)."""
    exact = batch.astype("string").duplicated()
    repeated = batch["customer_id"].duplicated() & ~exact
    return int(exact.sum()), int(repeated.sum())


def expected_column_report(batch: pd.DataFrame) -> pd.DataFrame:
    """Return the reference report of task 5: missing and invalid values per column.

    A value is missing when it is null or blank text; it is invalid when it is present
    but outside :data:`utils.quality.VALID_RANGES` or not in
    :data:`utils.quality.CANONICAL`.
    """
    found = quality_issues(batch, as_of="2025-12-31")
    missing = found[found["dimension"] == "completeness"].set_index("column")["issues"]
    ruled = set(VALID_RANGES) | set(CANONICAL)
    invalid = found[found["dimension"].isin(["validity", "consistency"])]
    invalid = invalid[invalid["column"].isin(ruled)].groupby("column")["issues"].sum()
    report = pd.DataFrame({"missing": missing}).join(invalid.rename("invalid"))
    return report.fillna({"invalid": 0}).astype("int64").loc[list(batch.columns)]


def _profit_variants(y: np.ndarray, s: np.ndarray, t: float) -> dict[str, float]:
    """Profits under common mistakes, to recognise one in a wrong answer."""
    c = LAB_COSTS
    strict = s > t
    at = s >= t
    tp, fp = int((at & (y == 1)).sum()), int((at & (y == 0)).sum())
    tp_s, fp_s = int((strict & (y == 1)).sum()), int((strict & (y == 0)).sum())
    value = c.customer_value
    return {
        _(
            "the offer's cost is also paid for the churners you contact: gain = "
            "save_rate x customer value - offer_cost"
        ): tp * c.save_rate * value - fp * c.offer_cost,
        _(
            "only save_rate of the contacted churners stay: multiply the customer value by "
            "save_rate"
        ): tp * (value - c.offer_cost) - fp * c.offer_cost,
        _("a saved customer is worth months_kept months of fee, not one"): tp
        * (c.save_rate * c.monthly_fee - c.offer_cost)
        - fp * c.offer_cost,
        _("contact customers whose score is >= the threshold, not >"): tp_s * c.churner_gain
        - fp_s * c.offer_cost,
    }


@task_check(
    LAB,
    N_("Task 1 · Break-even threshold"),
    points=2,
    hint=N_(
        "Contacting a customer with churn probability p is worth "
        "p x save_rate x customer value - offer_cost on average; solve for the p where it is 0."
    ),
)
def check_break_even(fb: Feedback, threshold: Any) -> None:
    """Task 1: the churn probability above which an offer pays for itself."""
    if not _expect_number(fb, threshold, _("the break-even threshold")):
        return
    c = LAB_COSTS
    right = c.offer_cost / (c.save_rate * c.customer_value)
    mistakes = {
        c.offer_cost / c.customer_value: _(
            "you divided by the customer value but forgot save_rate: only {share:.0%} of "
            "contacted churners are saved"
        ).format(share=c.save_rate),
        c.offer_cost / (c.save_rate * c.monthly_fee): _(
            "a saved customer is worth {months:g} months of fee ({value:g} USD), not one month"
        ).format(months=c.months_kept, value=c.customer_value),
        (c.save_rate * c.customer_value) / c.offer_cost: _(
            "the fraction is upside down: offer cost / (save rate x customer value)"
        ),
    }
    if abs(threshold - right) < 0.005:
        fb.expect(
            True,
            _("{threshold:.3f} is where an offer starts to pay for itself").format(
                threshold=threshold
            ),
            "",
        )
        return
    for value, why in mistakes.items():
        if abs(threshold - value) < 0.005:
            fb.expect(
                False,
                "",
                _("{threshold:.3f} is not the break-even threshold: {why}").format(
                    threshold=threshold, why=why
                ),
            )
            return
    fb.expect(
        False,
        "",
        _(
            "{threshold:.3f} is not the break-even threshold; at that probability an offer "
            "is worth {worth:+.2f} USD on average, not 0"
        ).format(
            threshold=threshold, worth=threshold * c.save_rate * c.customer_value - c.offer_cost
        ),
    )


@task_check(
    LAB,
    N_("Task 2 · Profit curve"),
    points=2,
    hint=N_(
        "For each threshold t: contacted = scores >= t; tp = churners contacted, "
        "fp = others contacted; profit = tp x (save_rate x customer value - offer_cost) "
        "- fp x offer_cost."
    ),
)
def check_profit_curve(fb: Feedback, curve: Any, y_true: Any, scores: Any) -> None:
    """Task 2: a DataFrame with threshold, contact_share and profit for each threshold."""
    if not fb.expect_type(curve, pd.DataFrame, _("the profit curve")):
        return
    missing = [c for c in ("threshold", "contact_share", "profit") if c not in curve.columns]
    if not fb.expect(
        not missing,
        _("it has the columns threshold, contact_share and profit"),
        _("the curve lacks the column(s) {missing}").format(missing=missing),
    ):
        return
    thresholds = [round(float(t), 2) for t in curve["threshold"]]
    if not fb.expect(
        thresholds == GRID,
        _("it has one row per threshold 0.00, 0.05, ..., 1.00"),
        _(
            "the thresholds should be the 21 values 0.00, 0.05, ..., 1.00 in order; "
            "got {rows} rows starting {first}"
        ).format(rows=len(thresholds), first=thresholds[:3]),
    ):
        return
    y, s = np.asarray(y_true), np.asarray(scores)
    shares = np.array([contact_share(s, t) for t in GRID])
    theirs = curve["contact_share"].to_numpy(dtype=float)
    if not np.allclose(theirs, shares, atol=1e-6):
        row = int(np.argmax(~np.isclose(theirs, shares, atol=1e-6)))
        strict = np.array([float((s > t).mean()) for t in GRID])
        if np.allclose(theirs, shares * len(s)):
            why = _("contact_share is a share of the customers (0-1), not a count")
        elif np.allclose(theirs, strict, atol=1e-6):
            why = _("contact customers whose score is >= the threshold, not >")
        else:
            why = _("expected {share:.4f} (scores >= threshold, divided by all customers)").format(
                share=shares[row]
            )
        fb.expect(
            False,
            "",
            _("at threshold {threshold:.2f} contact_share is {share:.4f}: {why}").format(
                threshold=GRID[row], share=theirs[row], why=why
            ),
        )
        return
    fb.expect(True, _("contact_share is right at every threshold"), "")
    profits = np.array([expected_profit(y, s, t, LAB_COSTS) for t in GRID])
    theirs = curve["profit"].to_numpy(dtype=float)
    wrong = ~np.isclose(theirs, profits, atol=0.01)
    if not wrong.any():
        fb.expect(True, _("profit is right at every threshold"), "")
        return
    row = int(np.argmax(wrong))
    t = GRID[row]
    message = _(
        "at threshold {threshold:.2f} your profit is {profit:,.2f} USD, expected "
        "{expected:,.2f} USD"
    )
    why = ""
    for mistake, value in _profit_variants(y, s, t).items():
        if abs(theirs[row] - value) < 0.01:
            why = mistake
            message = _(
                "at threshold {threshold:.2f} your profit is {profit:,.2f} USD, expected "
                "{expected:,.2f} USD: {why}"
            )
            break
    fb.expect(
        False,
        "",
        message.format(threshold=t, profit=theirs[row], expected=profits[row], why=why),
    )


@task_check(
    LAB,
    N_("Task 3 · Threshold within the budget"),
    points=2,
    hint=N_(
        "Keep the rows of your curve whose contact_share is at most the budget, then take "
        "the threshold with the highest profit among them."
    ),
)
def check_threshold(fb: Feedback, threshold: Any, y_true: Any, scores: Any) -> None:
    """Task 3: the most profitable threshold that contacts at most the budget."""
    if not _expect_number(fb, threshold, _("the threshold")):
        return
    if not fb.expect(
        0 <= threshold <= 1,
        _("it is in [0, 1]"),
        _("{threshold} is not in [0, 1]").format(threshold=threshold),
    ):
        return
    y, s = np.asarray(y_true), np.asarray(scores)
    budget = LAB_COSTS.max_contact_share
    share = contact_share(s, threshold)
    if not fb.expect(
        share <= budget,
        _(
            "threshold {threshold:.2f} contacts {share:.1%} of customers, within the "
            "budget of {budget:.0%}"
        ).format(threshold=threshold, share=share, budget=budget),
        _(
            "threshold {threshold:.2f} contacts {share:.1%} of customers; the budget "
            "allows {budget:.0%}"
        ).format(threshold=threshold, share=share, budget=budget),
    ):
        return
    best = best_threshold(y, s, LAB_COSTS, grid=GRID)
    mine, top = expected_profit(y, s, threshold, LAB_COSTS), expected_profit(y, s, best, LAB_COSTS)
    fb.expect(
        mine >= top - 0.01,
        _(
            "it earns {profit:,.0f} USD, the most any threshold of the grid earns within the budget"
        ).format(profit=mine),
        _(
            "threshold {threshold:.2f} flags only {share:.1%} of customers; the budget allows "
            "{budget:.0%}: threshold {best:.2f} earns {more:,.0f} USD more"
        ).format(threshold=threshold, share=share, budget=budget, best=best, more=top - mine),
    )


@task_check(
    LAB,
    N_("Task 4 · Duplicates"),
    points=2,
    hint=N_(
        "batch.duplicated() marks rows equal to an earlier row; "
        "batch['customer_id'].duplicated() marks every repeated id, exact copies included."
    ),
)
def check_duplicates(fb: Feedback, exact: Any, repeated_ids: Any, batch: Any) -> None:
    """Task 4: exact duplicate rows, and repeated ids whose rows differ."""
    ok_exact = _expect_count(fb, exact, "exact_duplicates")
    ok_ids = _expect_count(fb, repeated_ids, "repeated_ids")
    if not (ok_exact and ok_ids):
        return
    want_exact, want_ids = expected_duplicates(batch)
    if exact == want_exact:
        fb.expect(
            True, _("{count} rows are exact copies of an earlier row").format(count=exact), ""
        )
    elif exact == 2 * want_exact:
        fb.expect(
            False,
            "",
            _(
                "{count} counts both copies of each duplicated row; count only the repeats "
                "(duplicated() with its default keep='first')"
            ).format(count=exact),
        )
    else:
        fb.expect(
            False, "", _("{count} is not the number of exact duplicate rows").format(count=exact)
        )
    if repeated_ids == want_ids:
        fb.expect(
            True,
            _("{count} rows repeat a customer_id with different values").format(count=repeated_ids),
            "",
        )
    elif repeated_ids == want_ids + want_exact:
        fb.expect(
            False,
            "",
            _(
                "{count} counts every repeated customer_id, the {exact} exact copies included; "
                "leave those out"
            ).format(count=repeated_ids, exact=want_exact),
        )
    else:
        fb.expect(
            False,
            "",
            _(
                "{count} is not the number of rows that repeat a customer_id with different values"
            ).format(count=repeated_ids),
        )


def _mistake(column: str, kind: str, theirs: int, batch: pd.DataFrame) -> str:
    """Explain the most likely reason a per-column count is wrong."""
    values = batch[column]
    text = values.astype("string")
    blank = values.isna() | text.str.strip().eq("").fillna(False).astype(bool)
    if kind == "missing":
        if theirs == int(values.isna().sum()):
            return _("blank strings ('' or ' ') are missing values too")
        return _("count null cells and blank strings")
    present = ~blank
    if column in CANONICAL:
        canonical = CANONICAL[column]
        bad = present & ~values.isin(canonical)
        relaxed = present & ~text.str.strip().str.lower().isin([v.lower() for v in canonical])
        if theirs == int((bad | blank).sum()):
            return _("missing values are counted under missing, not invalid")
        if theirs == int(relaxed.sum()):
            return _("a different case or a trailing space is not the canonical spelling")
        return _("count present values not exactly in CANONICAL['{column}']").format(column=column)
    if column in VALID_RANGES:
        low, high = VALID_RANGES[column]
        numbers = pd.to_numeric(values, errors="coerce")
        inside = numbers.between(
            low if low is not None else -np.inf, high if high is not None else np.inf
        )
        strict = numbers.between(
            low if low is not None else -np.inf,
            high if high is not None else np.inf,
            inclusive="neither",
        )
        if theirs == int((present & ~strict).sum()):
            return _("both ends of the range are valid values")
        if theirs == int((~inside).sum()):
            return _("missing values are counted under missing, not invalid")
        return _("count present values outside {low} to {high} (VALID_RANGES['{column}'])").format(
            low=low, high=high, column=column
        )
    return _("this column has no rule in VALID_RANGES or CANONICAL, so nothing in it is invalid")


@task_check(
    LAB,
    N_("Task 5 · Missing and invalid values per column"),
    points=2,
    hint=N_(
        "One row per column of the batch. missing: null or blank text. invalid: present "
        "but outside VALID_RANGES or not in CANONICAL; columns without a rule have 0."
    ),
)
def check_column_report(fb: Feedback, report: Any, batch: Any) -> None:
    """Task 5: a DataFrame indexed by column name with the columns missing and invalid."""
    if not fb.expect_type(report, pd.DataFrame, _("the report")):
        return
    lacking = [c for c in REPORT_COLUMNS if c not in report.columns]
    if not fb.expect(
        not lacking,
        _("it has the columns missing and invalid"),
        _("the report lacks the column(s) {lacking}").format(lacking=lacking),
    ):
        return
    want = expected_column_report(batch)
    absent = [c for c in want.index if c not in report.index]
    if not fb.expect(
        not absent,
        _("it has one row per column of the batch"),
        _(
            "the report's index should be the batch's column names; missing rows for {absent}"
        ).format(absent=absent[:4]),
    ):
        return
    problems = []
    for column in want.index:
        for kind in REPORT_COLUMNS:
            theirs = report.loc[column, kind]
            if pd.isna(theirs) or int(theirs) != want.loc[column, kind]:
                shown = _("nothing") if pd.isna(theirs) else int(theirs)
                why = _mistake(column, kind, -1 if pd.isna(theirs) else int(theirs), batch)
                problems.append(
                    _("{column}: {kind} is {shown}, expected {expected}: {why}").format(
                        column=column,
                        kind=kind,
                        shown=shown,
                        expected=want.loc[column, kind],
                        why=why,
                    )
                )
    if problems:
        for problem in problems[:4]:
            fb.expect(False, "", problem)
        if len(problems) > 4:
            fb.expect(
                False, "", _("and {count} more counts differ").format(count=len(problems) - 4)
            )
    else:
        total = want.sum()
        fb.expect(
            True,
            _(
                "all {count} columns are right: {missing} missing and {invalid} invalid values"
            ).format(count=len(want), missing=total["missing"], invalid=total["invalid"]),
            "",
        )
