"""Clean the raw customer export into the shape of a monthly batch, in one call.

Lesson 03 builds this cleaning step by step on ``load_dataset("customers_raw")`` and ends
by showing that :func:`clean_customers` gives the same result; lesson 04 and later
lessons start from it. Introduced in notebook 03.

The rules, in the order they run:

1. **Personal data**: ``full_name`` and ``email`` are dropped (no model needs them).
2. **Categories**: every spelling of ``plan``, ``contract_type``, ``payment_method`` and
   ``region`` is mapped to the vocabulary of the monthly batches (:data:`VOCABULARY`).
3. **Types**: ``signup_date`` is parsed from its three formats (with
   ``utils.quality.parse_dates``), ``autopay`` yes/no becomes a boolean (``age`` becomes an
   integer at the end, once fixed).
4. **Duplicates**: one row per ``customer_id``; the first row in file order wins. Once
   the categories are fixed its repeats are identical to it (exact copies, or copies
   with one category spelled differently), so nothing is lost.
5. **Impossible values**: an age outside 18-100 becomes missing; a negative tenure loses
   its sign (its absolute value matches ``signup_date``).
6. **Outliers with a cause** (unit errors): a fee above 100 USD was typed in cents and is
   divided by 100; more than 744 viewing hours (a 31-day month) were minutes and are
   divided by 60. Heavy but possible viewing (200-744 hours) is real use and is kept,
   neither capped nor dropped.
7. **Missing values**: ``age`` is filled with the median valid age (a batch's ``age`` is
   a whole number with no gaps). ``hours_watched`` and ``region`` stay missing: the shared
   pipeline (``utils.features.build_preprocessor``) imputes them from training data only.
"""

from __future__ import annotations

import warnings

import pandas as pd

from utils.data import TARGET
from utils.quality import parse_dates

#: The columns of a monthly batch, in order, with their dtypes: the output of cleaning.
DTYPES: dict[str, str] = {
    "customer_id": "str",
    "age": "int64",
    "region": "str",
    "signup_date": "datetime64[us]",
    "plan": "str",
    "monthly_fee": "float64",
    "contract_type": "str",
    "payment_method": "str",
    "autopay": "bool",
    "tenure_months": "int64",
    "hours_watched": "float64",
    "days_active": "int64",
    "devices": "int64",
    "support_contacts_3m": "int64",
    TARGET: "int64",
}
#: The columns cleaning needs (the label is optional: a batch to score has none).
REQUIRED: list[str] = [column for column in DTYPES if column != TARGET]
#: Personal columns of the raw export; dropped, since no model needs them.
PERSONAL: list[str] = ["full_name", "email"]

#: Every known spelling of each category, written lower-case without outer spaces,
#: mapped to the canonical value used by the monthly batches.
VOCABULARY: dict[str, dict[str, str]] = {
    "plan": {
        "basic": "Basic",
        "standard": "Standard",
        "std": "Standard",
        "premium": "Premium",
        "prem.": "Premium",
        "family": "Family",
        "family plan": "Family",
    },
    "contract_type": {
        "month-to-month": "month-to-month",
        "month to month": "month-to-month",
        "m2m": "month-to-month",
        "monthly": "month-to-month",
        "one-year": "one-year",
        "one year": "one-year",
        "1 year": "one-year",
        "12 months": "one-year",
        "two-year": "two-year",
        "two year": "two-year",
        "2 years": "two-year",
        "24 months": "two-year",
    },
    "payment_method": {
        "credit_card": "credit_card",
        "credit card": "credit_card",
        "cc": "credit_card",
        "debit_card": "debit_card",
        "debit card": "debit_card",
        "debit": "debit_card",
        "paypal": "paypal",
        "bank_transfer": "bank_transfer",
        "bank transfer": "bank_transfer",
        "bt": "bank_transfer",
    },
    "region": {name.lower(): name for name in ["North", "South", "East", "West", "Central"]},
}

#: Valid ages: customers are adults; anything else is a typing error or a placeholder.
AGE_RANGE: tuple[int, int] = (18, 100)
#: The highest plausible monthly fee in USD; the top list price is 26.99.
FEE_MAX: float = 100.0
#: Hours in a 31-day month: more viewing than this was reported in minutes.
HOURS_MAX: float = 744.0
#: How ``autopay`` answers are read.
AUTOPAY: dict[str, bool] = {"yes": True, "no": False, "true": True, "false": False}


def standardise_categories(values: pd.Series, column: str) -> pd.Series:
    """Map every known spelling of a category to its canonical value.

    Args:
        values: One categorical column, e.g. ``raw["plan"]``.
        column: Its name, a key of :data:`VOCABULARY`.

    Returns:
        The column with canonical values; missing values stay missing. A spelling no rule
        knows is kept (without outer spaces) and named in a warning, so that it shows up
        instead of silently becoming another category.
    """
    stripped = values.str.strip()
    mapped = stripped.str.lower().map(VOCABULARY[column])
    unknown = sorted(set(stripped[mapped.isna() & stripped.notna()]))
    if unknown:
        warnings.warn(
            f"{column} has values no rule maps, kept as they are: {unknown}; add them to "
            f"utils.cleaning.VOCABULARY[{column!r}] if they are spellings of a known value",
            UserWarning,
            stacklevel=3,
        )
    return mapped.fillna(stripped)


def parse_autopay(values: pd.Series) -> pd.Series:
    """Turn yes/no answers into booleans (booleans pass through).

    Args:
        values: ``autopay`` as ``"yes"``/``"no"`` text or as booleans.

    Returns:
        A ``bool`` column.

    Raises:
        ValueError: A value is neither yes nor no (or missing); the message names it.
    """
    if pd.api.types.is_bool_dtype(values):
        return values.astype(bool)
    flags = values.astype("str").str.strip().str.lower().map(AUTOPAY)
    if flags.isna().any():
        odd = sorted(set(values[flags.isna()].astype("str")))
        raise ValueError(f"autopay must be yes or no; found {odd}. Fix or drop those rows first.")
    return flags.astype(bool)


def clean_customers(raw: pd.DataFrame, age_fill: int | None = None) -> pd.DataFrame:
    """Clean a raw customer export into the columns and dtypes of a monthly batch.

    The rules are listed in this module's docstring. The input is not modified, and a
    frame that is already clean (a monthly batch) comes back unchanged.

    Args:
        raw: The raw export (``load_dataset("customers_raw")``) or any frame with its
            columns; the personal columns and the label are optional.
        age_fill: The age that replaces missing and impossible ages. By default the
            median of the valid ages in ``raw``; pass the training median when cleaning
            new data.

    Returns:
        A new frame with the columns of :data:`DTYPES` (the label only if ``raw`` has
        it), one row per customer, on a fresh index.

    Raises:
        TypeError: ``raw`` is not a DataFrame.
        ValueError: Required columns are missing (they are named), no valid age is left
            to fill with, or ``autopay`` holds something other than yes/no.
    """
    if not isinstance(raw, pd.DataFrame):
        raise TypeError(
            "clean_customers expects a pandas DataFrame such as "
            f"load_dataset('customers_raw'), not a {type(raw).__name__}"
        )
    missing = [column for column in REQUIRED if column not in raw.columns]
    if missing:
        raise ValueError(
            f"clean_customers needs the columns {missing}, which the frame lacks; pass the "
            "raw export (load_dataset('customers_raw')) or a frame with its columns"
        )
    columns = [column for column in DTYPES if column in raw.columns]
    frame = raw[columns].copy()  # drops full_name and email; never touches `raw`

    for column in VOCABULARY:
        frame[column] = standardise_categories(frame[column], column)
    frame["signup_date"] = parse_dates(frame["signup_date"]).astype("datetime64[us]")
    frame["autopay"] = parse_autopay(frame["autopay"])
    frame = frame.drop_duplicates(subset="customer_id", keep="first")

    age = pd.to_numeric(frame["age"], errors="coerce")
    low, high = AGE_RANGE
    age = age.where(age.between(low, high))
    frame["tenure_months"] = frame["tenure_months"].abs()
    fee = frame["monthly_fee"]
    frame["monthly_fee"] = fee.where(fee <= FEE_MAX, (fee / 100).round(2))
    hours = frame["hours_watched"]
    frame["hours_watched"] = hours.where(~(hours > HOURS_MAX), (hours / 60).round(1))

    if age_fill is None:
        if age.notna().sum() == 0:
            raise ValueError("no valid age (18-100) to fill missing ages with; pass age_fill=")
        age_fill = int(age.median())
    frame["age"] = age.fillna(age_fill).round()
    dtypes = {column: DTYPES[column] for column in columns}
    return frame.astype(dtypes).reset_index(drop=True)
