"""Data-quality report for StreamCo customer data: five dimensions, one row each.

``quality_report(frame)`` scores a frame on completeness, uniqueness, validity,
consistency and timeliness, with the number of offending cells or rows and one readable
sentence per dimension. The rules come from the datasheet (``datasets/README.md``) and are
applied to whichever of the known columns the frame has, so the same report works on the
raw export, on a cleaned frame and on a monthly batch:

- **completeness**: every cell of every column; a cell is missing when it is null or an
  empty string.
- **uniqueness**: every row; a row is a duplicate when its key (``customer_id``) was
  already seen in an earlier row, whether the rest of the row is identical or not.
- **validity**: plausible values (:data:`VALID_RANGES`, :data:`VALID_VALUES`), the
  shape of identifiers and e-mail addresses (:data:`PATTERNS`), and dates that can be
  read at all (:data:`DATE_FORMATS`).
- **consistency**: one spelling per category (:data:`CANONICAL`) and one date format
  (ISO ``YYYY-MM-DD``, or a real datetime column).
- **timeliness**: no date after the moment the data describe (``as_of``).

Each score is ``1 - issues / cells (or rows) checked``, so 1.0 means no problem found.
A dimension with nothing to check (the frame has none of its columns) scores NaN.
``quality_issues(frame)`` gives the same findings column by column, and
``column_profile(frame)`` a quick profile of every column. Introduced in notebook 02;
used again in notebook 03 and lab 01.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import pandas as pd

__all__ = [
    "CANONICAL",
    "DATE_COLUMNS",
    "DATE_FORMATS",
    "DIMENSIONS",
    "PATTERNS",
    "VALID_RANGES",
    "VALID_VALUES",
    "column_profile",
    "date_formats",
    "parse_dates",
    "quality_issues",
    "quality_report",
]

#: The five dimensions, in the order the report lists them.
DIMENSIONS: list[str] = ["completeness", "uniqueness", "validity", "consistency", "timeliness"]

#: The one accepted spelling of each category (datasheet, "Unit / values").
CANONICAL: dict[str, list[str]] = {
    "region": ["Central", "East", "North", "South", "West"],
    "plan": ["Basic", "Family", "Premium", "Standard"],
    "contract_type": ["month-to-month", "one-year", "two-year"],
    "payment_method": ["bank_transfer", "credit_card", "debit_card", "paypal"],
    "autopay": ["no", "yes"],
}

#: Plausible numeric ranges, both ends included (``None``: no limit on that side).
#: Customers are adults; tenure and counts cannot be negative; a fee above 100 USD is
#: no StreamCo plan (it was typed in cents); a month has at most 744 hours.
VALID_RANGES: dict[str, tuple[float | None, float | None]] = {
    "age": (18, 100),
    "monthly_fee": (0, 100),
    "tenure_months": (0, None),
    "hours_watched": (0, 744),
    "days_active": (0, 31),
    "devices": (1, 6),
    "support_contacts_3m": (0, None),
}

#: Columns that may hold only a few exact values.
VALID_VALUES: dict[str, list[int]] = {"churned_next_month": [0, 1]}

#: Regular expressions that identifiers and addresses must match.
PATTERNS: dict[str, str] = {
    "customer_id": r"^C\d{6}$",
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
}
_PATTERN_RULES: dict[str, str] = {
    "customer_id": "is not C followed by 6 digits",
    "email": "is not an e-mail address",
}

#: Date formats found in the sources: the first is the canonical one.
DATE_FORMATS: dict[str, str] = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "Mon DD, YYYY": "%b %d, %Y",
}

#: Columns holding calendar dates.
DATE_COLUMNS: list[str] = ["signup_date"]

_ISO = next(iter(DATE_FORMATS))
_REPORT_COLUMNS = ["dimension", "score", "issues", "detail"]
_ISSUE_COLUMNS = ["dimension", "column", "rule", "issues", "checked"]


def _require_frame(frame: object) -> pd.DataFrame:
    """Refuse anything but a non-empty DataFrame, with a message saying what to pass."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"expected a pandas DataFrame, got {type(frame).__name__}; "
            "load one with utils.data.load_dataset(...) or pd.DataFrame(...)"
        )
    if frame.empty and len(frame.columns) == 0:
        raise ValueError("the frame has no columns; there is nothing to assess")
    return frame


def _as_timestamp(as_of: str | date | datetime | pd.Timestamp | None) -> pd.Timestamp:
    """Return ``as_of`` as a day-resolution timestamp, today when it is None."""
    if as_of is None:
        return pd.Timestamp.today().normalize()
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        raise ValueError(f"as_of must be a date such as '2024-12-31', got {as_of!r}") from None
    if pd.isna(stamp):
        raise ValueError(f"as_of must be a date such as '2024-12-31', got {as_of!r}")
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _missing(series: pd.Series) -> pd.Series:
    """Null cells, and strings that are empty once spaces are stripped."""
    missing = series.isna()
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        text = series.astype("string")
        missing = missing | text.str.strip().eq("").fillna(False).astype(bool)
    return missing.astype(bool)


def date_formats(values: pd.Series) -> pd.Series:
    """Name the format of each date value.

    Args:
        values: Dates as strings (any mix of :data:`DATE_FORMATS`) or a datetime column.

    Returns:
        A Series aligned with ``values``: the format's name (e.g. ``"DD/MM/YYYY"``),
        ``"datetime"`` for real datetime values, ``None`` for missing values and
        ``"unknown"`` for text that matches no known format.

    Raises:
        TypeError: If ``values`` is not a pandas Series.
    """
    if not isinstance(values, pd.Series):
        raise TypeError(f"expected a pandas Series of dates, got {type(values).__name__}")
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(
            ["datetime" if pd.notna(v) else None for v in values], index=values.index, dtype=object
        )
    result = pd.Series(None, index=values.index, dtype=object)
    present = ~_missing(values)
    result[present] = "unknown"
    text = values.astype("string")
    for name, fmt in DATE_FORMATS.items():
        todo = present & result.eq("unknown")
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        result[parsed.index[parsed.notna()]] = name
    return result


def parse_dates(values: pd.Series) -> pd.Series:
    """Parse dates written in any of :data:`DATE_FORMATS`, each with its own format.

    Guessing one format for a whole column would read ``05/03/2021`` as 3 May in some rows
    and 5 March in others; here each known format is tried explicitly, day first.

    Args:
        values: Date strings in a mix of the known formats, or a datetime column.

    Returns:
        A ``datetime64`` Series aligned with ``values``; ``NaT`` where the value is
        missing or matches no known format.

    Raises:
        TypeError: If ``values`` is not a pandas Series.
    """
    if not isinstance(values, pd.Series):
        raise TypeError(f"expected a pandas Series of dates, got {type(values).__name__}")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    text = values.astype("string")
    todo = ~_missing(values)
    for fmt in DATE_FORMATS.values():
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        found = parsed.notna()
        result[parsed.index[found]] = parsed[found].astype("datetime64[us]")
        todo = todo & result.isna()
    return result


def _numbers(series: pd.Series) -> pd.Series:
    """The column as numbers; text that is no number becomes NaN."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    return pd.to_numeric(series.astype("string").str.strip(), errors="coerce").astype(float)


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"outside {low:g}-{high:g}"
    if low is not None:
        return f"below {low:g}"
    return f"above {high:g}"


def _key_columns(frame: pd.DataFrame, key: str | Sequence[str] | None) -> list[str]:
    """Validate the key argument and return it as a list of columns."""
    if key is None:
        return []
    columns = [key] if isinstance(key, str) else list(key)
    if not all(isinstance(c, str) for c in columns):
        raise TypeError(f"key must be a column name or a list of names, got {key!r}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(
            f"the key column(s) {missing} are not in the frame (its columns: "
            f"{list(frame.columns)}); pass key=... naming the identifier, or key=None to "
            "look for exact duplicate rows only"
        )
    return columns


def quality_issues(
    frame: pd.DataFrame,
    key: str | Sequence[str] | None = "customer_id",
    as_of: str | date | datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """List every quality finding column by column: one row per rule that was checked.

    Args:
        frame: Customer data in the StreamCo schema: the raw export, a cleaned frame or a
            monthly batch. Columns the rules do not know are checked for completeness only.
        key: The column (or columns) that identify a row, e.g. ``"customer_id"``; for
            several stacked months pass ``["month", "customer_id"]``. ``None`` checks for
            exact duplicate rows only.
        as_of: The moment the data describe, e.g. ``"2024-12-31"`` for the December 2024
            export; dates after it are not timely. Today when left out.

    Returns:
        A DataFrame with columns ``dimension``, ``column``, ``rule`` (what was checked),
        ``issues`` (offending cells or rows) and ``checked`` (cells or rows examined).

    Raises:
        TypeError: If ``frame`` is not a DataFrame or ``key`` is not column names.
        KeyError: If a key column is not in the frame.
        ValueError: If the frame has no columns or ``as_of`` is not a date.
    """
    frame = _require_frame(frame)
    keys = _key_columns(frame, key)
    stamp = _as_timestamp(as_of)
    rows: list[dict[str, object]] = []

    def add(dimension: str, column: str, rule: str, issues: int, checked: int) -> None:
        rows.append(
            {
                "dimension": dimension,
                "column": column,
                "rule": rule,
                "issues": int(issues),
                "checked": int(checked),
            }
        )

    # Completeness: every column.
    for column in frame.columns:
        add("completeness", str(column), "missing", _missing(frame[column]).sum(), len(frame))

    # Uniqueness: rows.
    exact = frame.astype("string").duplicated() if len(frame) else pd.Series(dtype=bool)
    add("uniqueness", "(all columns)", "exact duplicate of an earlier row", exact.sum(), len(frame))
    if keys:
        repeated = frame.duplicated(subset=keys) & ~exact
        label = "+".join(keys)
        add("uniqueness", label, f"{label} repeated with different values", repeated.sum(),
            len(frame))  # fmt: skip

    # Validity: ranges, allowed values, patterns, readable dates.
    for column, (low, high) in VALID_RANGES.items():
        if column not in frame.columns:
            continue
        present = ~_missing(frame[column])
        numbers = _numbers(frame[column])
        bad = present & (
            numbers.isna()
            | (numbers < low if low is not None else False)
            | (numbers > high if high is not None else False)
        )
        add("validity", column, _range_text(low, high), bad.sum(), present.sum())
    for column, allowed in VALID_VALUES.items():
        if column not in frame.columns:
            continue
        present = ~_missing(frame[column])
        bad = present & ~_numbers(frame[column]).isin(allowed)
        add("validity", column, f"not one of {allowed}", bad.sum(), present.sum())
    for column, pattern in PATTERNS.items():
        if column not in frame.columns:
            continue
        present = ~_missing(frame[column])
        text = frame[column].astype("string")
        matches = text.str.match(pattern).fillna(False).astype(bool)
        rule = _PATTERN_RULES.get(column, f"does not match {pattern}")
        add("validity", column, rule, (present & ~matches).sum(),
            present.sum())  # fmt: skip
    formats = {c: date_formats(frame[c]) for c in DATE_COLUMNS if c in frame.columns}
    for column, found in formats.items():
        present = found.notna()
        add("validity", column, "not a date in a known format", found.eq("unknown").sum(),
            present.sum())  # fmt: skip

    # Consistency: one spelling per category, one date format.
    for column, canonical in CANONICAL.items():
        if column not in frame.columns:
            continue
        if pd.api.types.is_bool_dtype(frame[column]):
            add("consistency", column, "not in canonical spelling", 0, len(frame))
            continue
        present = ~_missing(frame[column])
        bad = present & ~frame[column].isin(canonical)
        add("consistency", column, f"not one of {canonical}", bad.sum(), present.sum())
    for column, found in formats.items():
        readable = found.notna() & found.ne("unknown")
        bad = readable & ~found.isin([_ISO, "datetime"])
        add("consistency", column, f"date not written {_ISO}", bad.sum(), readable.sum())

    # Timeliness: nothing dated after as_of.
    for column in formats:
        dates = parse_dates(frame[column])
        present = dates.notna()
        add("timeliness", column, f"after {stamp:%Y-%m-%d}", (dates > stamp).sum(), present.sum())
    if "month" in frame.columns:
        months = pd.to_datetime(frame["month"].astype("string"), format="%Y-%m", errors="coerce")
        present = months.notna()
        late = months > stamp
        add("timeliness", "month", f"month after {stamp:%Y-%m-%d}", late.sum(), present.sum())

    return pd.DataFrame(rows, columns=_ISSUE_COLUMNS)


def _share(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.1%}" if denominator else "n/a"


def _listing(found: pd.DataFrame, limit: int = 5) -> str:
    """``'age 167, region 67'``: the columns with issues, largest first."""
    found = found[found["issues"] > 0].sort_values("issues", ascending=False)
    parts = [f"{row.column} {row.issues:,}" for row in found.head(limit).itertuples()]
    more = len(found) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _detail(dimension: str, found: pd.DataFrame, frame: pd.DataFrame, stamp: pd.Timestamp) -> str:
    """One sentence per dimension, in plain words."""
    issues, checked = int(found["issues"].sum()), int(found["checked"].sum())
    if found.empty:
        return "nothing to check: the frame has none of the columns this dimension's rules cover"
    if dimension == "completeness":
        if not issues:
            return f"all {checked:,} cells are filled in"
        return f"{issues:,} of {checked:,} cells are missing: {_listing(found)}"
    if dimension == "uniqueness":
        rows = len(frame)
        exact = int(found.loc[found["column"] == "(all columns)", "issues"].sum())
        other = issues - exact
        key = next((c for c in found["column"] if c != "(all columns)"), None)
        if not issues:
            return f"all {rows:,} rows are unique" + (f" on {key}" if key else "")
        text = f"{issues:,} of {rows:,} rows repeat an earlier row: {exact:,} exact duplicates"
        return text + (f" and {other:,} that repeat {key} with different values" if key else "")
    if dimension == "validity":
        if not issues:
            return f"all {checked:,} checked values are plausible"
        bad = found[found["issues"] > 0].sort_values("issues", ascending=False)
        parts = [f"{r.column} {r.rule} ({r.issues:,})" for r in bad.itertuples()]
        return f"{issues:,} of {checked:,} checked values break a rule: " + "; ".join(parts)
    if dimension == "consistency":
        if not issues:
            return f"all {checked:,} categories and dates use the canonical spelling and format"
        return f"{issues:,} of {checked:,} values are not in canonical form: {_listing(found)}"
    newest = [
        f"the newest {c} is {parse_dates(frame[c]).max():%Y-%m-%d}"
        for c in DATE_COLUMNS
        if c in frame.columns and parse_dates(frame[c]).notna().any()
    ]
    tail = f" ({'; '.join(newest)})" if newest else ""
    if not issues:
        return f"no date after {stamp:%Y-%m-%d} among {checked:,} checked{tail}"
    return f"{issues:,} of {checked:,} dates are after {stamp:%Y-%m-%d}: {_listing(found)}{tail}"


def quality_report(
    frame: pd.DataFrame,
    key: str | Sequence[str] | None = "customer_id",
    as_of: str | date | datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Score a frame on the five data-quality dimensions.

    Args:
        frame: Customer data in the StreamCo schema (raw export, cleaned frame or
            monthly batch); the rules apply to whichever known columns it has.
        key: The column (or columns) that identify a row; ``["month", "customer_id"]``
            for several stacked months; ``None`` for exact duplicate rows only.
        as_of: The moment the data describe (e.g. ``"2024-12-31"``); dates after it are
            not timely. Today when left out.

    Returns:
        One row per dimension (completeness, uniqueness, validity, consistency,
        timeliness) with columns ``dimension``, ``score`` (0-1, 1 is best; NaN when
        nothing could be checked), ``issues`` (offending cells or rows) and ``detail``
        (one sentence).

    Raises:
        TypeError: If ``frame`` is not a DataFrame or ``key`` is not column names.
        KeyError: If a key column is not in the frame.
        ValueError: If the frame has no columns or ``as_of`` is not a date.

    Example:
        >>> from utils.data import load_dataset
        >>> report = quality_report(load_dataset("customers_raw"), as_of="2024-12-31")
        >>> int(report.set_index("dimension").loc["uniqueness", "issues"])
        62
    """
    found = quality_issues(frame, key=key, as_of=as_of)
    stamp = _as_timestamp(as_of)
    rows = []
    for dimension in DIMENSIONS:
        part = found[found["dimension"] == dimension]
        issues = int(part["issues"].sum())
        if dimension == "uniqueness":
            checked = len(frame)
        else:
            checked = int(part["checked"].sum())
        score = 1 - issues / checked if checked else float("nan")
        rows.append(
            {
                "dimension": dimension,
                "score": round(score, 4) if checked else score,
                "issues": issues,
                "detail": _detail(dimension, part, frame, stamp),
            }
        )
    return pd.DataFrame(rows, columns=_REPORT_COLUMNS)


def column_profile(frame: pd.DataFrame, examples: int = 3) -> pd.DataFrame:
    """Profile every column: type, missing values, distinct values and a few examples.

    Args:
        frame: Any DataFrame.
        examples: How many distinct example values to show per column.

    Returns:
        One row per column, in the frame's order, with columns ``column``, ``dtype``,
        ``missing`` (count), ``missing_share`` (0-1), ``distinct`` (distinct non-missing
        values) and ``examples`` (the first distinct values, as text).

    Raises:
        TypeError: If ``frame`` is not a DataFrame.
        ValueError: If the frame has no columns, or ``examples`` is negative.
    """
    frame = _require_frame(frame)
    if not isinstance(examples, int) or examples < 0:
        raise ValueError(f"examples must be a whole number >= 0, got {examples!r}")
    rows = []
    for column in frame.columns:
        series = frame[column]
        missing = _missing(series)
        present = series[~missing]
        distinct = present.astype("string").unique() if len(present) else []
        rows.append(
            {
                "column": str(column),
                "dtype": str(series.dtype),
                "missing": int(missing.sum()),
                "missing_share": round(float(missing.mean()), 4) if len(series) else 0.0,
                "distinct": len(distinct),
                "examples": ", ".join(repr(str(v)) for v in list(distinct)[:examples]),
            }
        )
    return pd.DataFrame(
        rows, columns=["column", "dtype", "missing", "missing_share", "distinct", "examples"]
    )
