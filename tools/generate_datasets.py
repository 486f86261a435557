"""Generate the case-study data of StreamCo, a fictional video-streaming service.

Run from the repository root::

    python -m tools.generate_datasets              # (re)write datasets/
    python -m tools.generate_datasets --out DIR    # write somewhere else
    python -m tools.generate_datasets --check      # regenerate in a temporary folder and
                                                   # compare with datasets/manifest.json

One fixed seed drives everything, and every file is written the same way on every run,
so with the pinned library versions the output is identical byte for byte.

How the data come about (``datasets/README.md`` tells the story for students):

1. A monthly simulation of the customer base from 2019-01 to 2025-12. Customers sign up,
   use the service, contact support, and cancel with a probability that depends on
   their contract, tenure, viewing, support contacts, payment set-up, plan and a hidden
   per-customer trait. From 2025-07 list prices rise, some customers downgrade, viewing
   drops a little, and month-to-month customers become sensitive to what they pay.
2. December 2024 becomes the raw training export (CSV) with quality problems injected
   on purpose and recorded in ``answer_key.json``; July-December 2024 give the billing
   database (SQLite); October-December 2024 give the support events (JSON Lines).
3. January-December 2025 become the monthly production batches (Parquet).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.data import (
    ANSWER_KEY_NAME,
    MANIFEST_NAME,
    PRICE_CHANGE_MONTH,
    RAW_CSV_DTYPES,
    SNAPSHOT_MONTH,
    read_unverified,
)
from utils.paths import repo_root

SEED = 20250701

# --- The business ---------------------------------------------------------------------

PLANS = np.array(["Basic", "Standard", "Premium", "Family"])
CONTRACTS = np.array(["month-to-month", "one-year", "two-year"])
PAYMENTS = np.array(["credit_card", "debit_card", "paypal", "bank_transfer"])
REGIONS = np.array(["North", "South", "East", "West", "Central"])
LIST_PRICE_BEFORE = np.array([7.99, 12.99, 17.99, 21.99])  # USD per month, by plan
LIST_PRICE_AFTER = np.array([9.99, 15.99, 21.99, 26.99])  # from PRICE_CHANGE_MONTH
CONTRACT_FACTOR = np.array([1.0, 0.9, 0.8])  # one-year 10 % off, two-year 20 % off
PLAN_MIX_BEFORE = [0.25, 0.38, 0.22, 0.15]  # plans chosen at sign-up
PLAN_MIX_AFTER = [0.28, 0.38, 0.20, 0.14]

# --- The simulation -------------------------------------------------------------------


def month_index(month: str) -> int:
    """Turn ``"YYYY-MM"`` into a month count (year * 12 + month - 1)."""
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def month_name(index: int) -> str:
    """Turn a month count back into ``"YYYY-MM"``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_start(index: int) -> np.datetime64:
    """First day of a month, as a ``datetime64[D]``."""
    return np.datetime64(month_name(index) + "-01", "D")


def month_days(index: int) -> int:
    """Number of days in a month."""
    return int((month_start(index + 1) - month_start(index)).astype(int))


SIM_START = month_index("2019-01")
SNAPSHOT = month_index(SNAPSHOT_MONTH)
EVENT = month_index(PRICE_CHANGE_MONTH)
BATCH_FIRST = month_index("2025-01")
BATCH_LAST = month_index("2025-12")
BILLING_FIRST = month_index("2024-07")
EVENTS_FIRST = month_index("2024-10")
INITIAL_CUSTOMERS = 6500  # customers already there in 2019-01
MONTHLY_SIGNUPS = 1200  # mean new customers per month (10 % fewer after the price change)

FIRST_NAMES = (
    "Aisha Alex Amara Ana Andrea Arjun Ben Carla Carlos Chen Chloe Daniel David Diego Elena "
    "Emma Fatima Felix Grace Hana Hugo Ines Ivan Jack James Javier Julia Kai Kenji Laura "
    "Leila Liam Lucas Lucia Maria Marta Mateo Maya Mei Mohammed Nadia Noah Nora Olivia Omar "
    "Oscar Paula Pedro Priya Rafael Rosa Ruth Sam Sara Sofia Tariq Tom Valeria Yusuf Zoe"
).split()
LAST_NAMES = (
    "Adams Ahmed Alvarez Baker Bianchi Brown Castro Chen Cohen Costa Diaz Dubois Evans "
    "Fernandez Fischer Garcia Gomez Gonzalez Green Hall Hansen Hernandez Ito Jensen Johnson "
    "Khan Kim Kowalski Lee Lopez Martin Martinez Meyer Moreno Muller Murphy Nguyen Novak "
    "Okafor Olsen Patel Perez Petrov Ramos Reyes Rossi Ruiz Santos Schmidt Silva Singh "
    "Smith Suzuki Tanaka Torres Wang Weber Williams Wilson Yilmaz"
).split()
EMAIL_DOMAINS = np.array(["example.com", "example.net", "example.org"])


@dataclass
class Simulation:
    """What the simulation leaves behind.

    Attributes:
        customers: One row per customer who ever signed up (static attributes).
        months: For each month count from 2024-07 on, the customers active that month
            with that month's features, support contacts and label.
    """

    customers: pd.DataFrame
    months: dict[int, pd.DataFrame]


def _new_customers(rng: np.random.Generator, n: int, month: int, spread: int) -> dict:
    """Draw the static attributes of ``n`` customers signing up in or before ``month``."""
    after = month >= EVENT
    plan = rng.choice(4, n, p=PLAN_MIX_AFTER if after else PLAN_MIX_BEFORE)
    payment = rng.choice(4, n, p=[0.42, 0.22, 0.20, 0.16])
    signup_month = month - rng.integers(0, spread, n) if spread else np.full(n, month)
    day = (rng.random(n) * np.array([month_days(m) for m in signup_month])).astype(int)
    starts = np.array([month_start(m) for m in signup_month], dtype="datetime64[D]")
    return {
        "plan": plan,
        "contract": rng.choice(3, n, p=[0.55, 0.28, 0.17]),
        "payment": payment,
        "autopay": rng.random(n) < np.where(payment == 3, 0.50, 0.72),
        "region": rng.choice(5, n, p=[0.20, 0.22, 0.20, 0.18, 0.20]),
        "age0": np.clip(np.round(18 + rng.gamma(4.0, 5.0, n)), 18, 85).astype(int),
        "signup_month": signup_month,
        "signup_date": starts + day,
        "viewing": rng.normal(3.0, 0.6, n) + 0.25 * (plan >= 2),
        "support": rng.gamma(2.0, 0.5, n),
        "promo": np.where(rng.random(n) < 0.15, rng.choice([1.0, 2.0, 3.0], n), 0.0),
        "trait": rng.normal(0.0, 1.0, n),
        "devices": np.minimum(1 + rng.poisson(0.6 + 0.6 * (plan >= 2), n), 6),
        "first": rng.integers(0, len(FIRST_NAMES), n),
        "last": rng.integers(0, len(LAST_NAMES), n),
        "mail_no": rng.integers(1, 100, n),
        "domain": rng.integers(0, 3, n),
        "active": np.ones(n, dtype=bool),
        "contacts_1": np.zeros(n, dtype=int),
        "contacts_2": np.zeros(n, dtype=int),
    }


def churn_logit(
    rng: np.random.Generator,
    after: bool,
    contract: np.ndarray,
    tenure: np.ndarray,
    hours: np.ndarray,
    contacts: np.ndarray,
    autopay: np.ndarray,
    payment: np.ndarray,
    devices: np.ndarray,
    age: np.ndarray,
    plan: np.ndarray,
    region: np.ndarray,
    trait: np.ndarray,
    fee: np.ndarray,
) -> np.ndarray:
    """Log-odds that each active customer cancels during the next month.

    Before the price change churn is driven by contract, tenure, viewing and support
    contacts, with smaller effects of payment set-up, devices, age, plan and region. A
    hidden trait and a monthly shock keep it far from perfectly predictable. After the
    change, tenure and viewing protect less, and the fee paid now pushes churn up,
    three times as strongly on month-to-month contracts as on the others.
    """
    habit = -0.75 * (np.log1p(hours) - 3.0) - 0.45 * np.log1p(tenure)
    z = (
        -1.3
        + 1.0 * (contract == 0)
        - 0.9 * (contract == 2)
        + habit
        + 0.28 * np.minimum(contacts, 6)
        + 0.45 * ~autopay
        + np.array([0.0, 0.15, 0.10, 0.0])[payment]
        - 0.12 * (devices - 1)
        - 0.015 * (age - 40)
        + np.array([0.25, 0.0, -0.20, -0.35])[plan]
        + 0.15 * (region == 1)
        + 0.5 * trait
        + 1.3 * rng.normal(0.0, 1.0, len(fee))
    )
    if after:
        z = z - 0.35 * habit + (0.16 + 0.32 * (contract == 0)) * (fee - 16.0)
    return z


def simulate(seed: int = SEED) -> Simulation:
    """Run the customer base month by month from 2019-01 to 2025-12.

    Args:
        seed: The random seed.

    Returns:
        The customers and the recorded months (2024-07 to 2025-12).
    """
    rng = np.random.default_rng([seed, 1])
    state = _new_customers(rng, INITIAL_CUSTOMERS, SIM_START, spread=24)
    recorded: dict[int, pd.DataFrame] = {}
    for month in range(SIM_START, BATCH_LAST + 1):
        after = month >= EVENT
        if month > SIM_START:
            joined = _new_customers(
                rng, rng.poisson(MONTHLY_SIGNUPS * (0.9 if after else 1.0)), month, 0
            )
            for key, values in joined.items():
                state[key] = np.concatenate([state[key], values])
        if month == EVENT:  # some customers downgrade when the new prices arrive
            m2m = state["contract"] == 0
            draw = rng.random(len(m2m))
            for plan, share_m2m, share_other in ((1, 0.12, 0.04), (2, 0.20, 0.05), (3, 0.15, 0.04)):
                moves = state["active"] & (state["plan"] == plan)
                moves &= draw < np.where(m2m, share_m2m, share_other)
                state["plan"][moves] = plan - 1
        idx = np.flatnonzero(state["active"])
        n = len(idx)
        plan = state["plan"][idx]
        contract = state["contract"][idx]
        prices = LIST_PRICE_AFTER if after else LIST_PRICE_BEFORE
        fee = np.round(prices[plan] * CONTRACT_FACTOR[contract] - state["promo"][idx], 2)
        hours = np.exp(state["viewing"][idx] + rng.normal(0.0, 0.35, n)) * (0.93 if after else 1.0)
        hours = np.minimum(hours, 600.0)
        days = rng.binomial(30, 1.0 - np.exp(-hours / 12.0))
        autopay = state["autopay"][idx]
        surge = 1.6 if month in (EVENT, EVENT + 1) else 1.0  # questions about the new prices
        contacts_now = rng.poisson(0.25 * state["support"][idx] * (1 + 0.5 * ~autopay) * surge)
        contacts_3m = contacts_now + state["contacts_1"][idx] + state["contacts_2"][idx]
        state["contacts_2"][idx] = state["contacts_1"][idx]
        state["contacts_1"][idx] = contacts_now
        tenure = month - state["signup_month"][idx]
        age = state["age0"][idx] + tenure // 12
        devices = state["devices"][idx]
        z = churn_logit(
            rng,
            after,
            contract,
            tenure,
            hours,
            contacts_3m,
            autopay,
            state["payment"][idx],
            devices,
            age,
            plan,
            state["region"][idx],
            state["trait"][idx],
            fee,
        )
        churned = rng.random(n) < 1.0 / (1.0 + np.exp(-z))
        if month >= BILLING_FIRST:
            recorded[month] = pd.DataFrame(
                {
                    "idx": idx,
                    "age": age,
                    "plan": PLANS[plan],
                    "monthly_fee": fee,
                    "contract_type": CONTRACTS[contract],
                    "tenure_months": tenure,
                    "hours_watched": np.round(hours, 1),
                    "days_active": days,
                    "support_contacts_3m": contacts_3m,
                    "contacts_this_month": contacts_now,
                    "churned_next_month": churned.astype(np.int64),
                }
            )
        state["active"][idx[churned]] = False
    n_all = len(state["plan"])
    first = np.array(FIRST_NAMES)[state["first"]]
    last = np.array(LAST_NAMES)[state["last"]]
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{100001 + i}" for i in range(n_all)],
            "full_name": [f"{a} {b}" for a, b in zip(first, last, strict=True)],
            "email": [
                f"{a.lower()}.{b.lower()}{k}@{d}"
                for a, b, k, d in zip(
                    first, last, state["mail_no"], EMAIL_DOMAINS[state["domain"]], strict=True
                )
            ],
            "region": REGIONS[state["region"]],
            "signup_date": state["signup_date"],
            "payment_method": PAYMENTS[state["payment"]],
            "autopay": state["autopay"],
            "devices": state["devices"],
        }
    )
    return Simulation(customers=customers, months=recorded)


def month_frame(sim: Simulation, month: int) -> pd.DataFrame:
    """Join a recorded month with the customers' static attributes.

    Returns:
        One row per active customer, sorted by customer id, with the batch columns plus
        ``contacts_this_month`` and the customer's name and email.
    """
    frame = sim.months[month]
    static = sim.customers.iloc[frame["idx"].to_numpy()].reset_index(drop=True)
    joined = pd.concat([static, frame.drop(columns="idx").reset_index(drop=True)], axis=1)
    return joined.sort_values("customer_id", ignore_index=True)


# --- Production batches ---------------------------------------------------------------

BATCH_COLUMNS = [c for c in RAW_CSV_DTYPES if c not in ("full_name", "email")]


def build_batch(sim: Simulation, month: int, rng: np.random.Generator) -> pd.DataFrame:
    """One month's production batch: clean categories and types, a few gaps in viewing.

    The production pipeline drops names and emails. About 1.5 % of ``hours_watched``
    values are missing at random (the viewing feed sometimes fails).
    """
    frame = month_frame(sim, month)[BATCH_COLUMNS].copy()
    gaps = rng.random(len(frame)) < 0.015
    frame.loc[gaps, "hours_watched"] = np.nan
    frame["signup_date"] = frame["signup_date"].astype("datetime64[us]")
    for column in ("age", "tenure_months", "days_active", "devices", "support_contacts_3m"):
        frame[column] = frame[column].astype(np.int64)
    frame["autopay"] = frame["autopay"].astype(bool)
    for column in ("customer_id", "region", "plan", "contract_type", "payment_method"):
        frame[column] = frame[column].astype("str")
    return frame.reset_index(drop=True)


# --- The raw export and its problems --------------------------------------------------

SPELLINGS: dict[str, dict[str, list[str]]] = {
    "plan": {
        "Basic": ["basic", "BASIC"],
        "Standard": ["standard", "Std", "STANDARD"],
        "Premium": ["premium", "PREMIUM", "Prem."],
        "Family": ["family", "Family plan"],
    },
    "contract_type": {
        "month-to-month": ["Month-to-month", "monthly", "M2M", "month to month"],
        "one-year": ["One year", "1 year", "12 months"],
        "two-year": ["Two year", "2 years", "24 months"],
    },
    "payment_method": {
        "credit_card": ["Credit card", "CC", "credit card", "CREDIT_CARD"],
        "debit_card": ["Debit card", "debit"],
        "paypal": ["PayPal", "Paypal"],
        "bank_transfer": ["Bank transfer", "bank transfer", "BT"],
    },
    "region": {
        "North": ["north", " North", "NORTH"],
        "South": ["south", "South ", "SOUTH"],
        "East": ["east", " East", "EAST"],
        "West": ["west", "West ", "WEST"],
        "Central": ["central", "Central ", "CENTRAL"],
    },
}
SPELLING_RATES = {"plan": 0.05, "contract_type": 0.07, "payment_method": 0.10, "region": 0.04}
MONTH_ABBR = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
IMPOSSIBLE_AGES = ["0", "2", "150", "199", "999", "-1", "120", "134"]
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
DATE_PATTERNS = {
    "YYYY-MM-DD": r"^\d{4}-\d{2}-\d{2}$",
    "DD/MM/YYYY": r"^\d{2}/\d{2}/\d{4}$",
    "Mon DD, YYYY": r"^[A-Z][a-z]{2} \d{2}, \d{4}$",
}


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Format the snapshot as the CSV will show it: every cell a string."""
    text = pd.DataFrame(index=frame.index)
    for column in RAW_CSV_DTYPES:
        values = frame[column]
        if column == "monthly_fee":
            text[column] = [f"{v:.2f}" for v in values]
        elif column == "hours_watched":
            text[column] = [f"{v:.1f}" for v in values]
        elif column == "signup_date":
            text[column] = [f"{d.year:04d}-{d.month:02d}-{d.day:02d}" for d in values]
        elif column == "autopay":
            text[column] = np.where(values, "yes", "no")
        else:
            text[column] = [str(v) for v in values]
    return text.astype(object)


class _Picker:
    """Draws rows for each problem, keeping problems on the same column apart."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.rng = rng
        self.n = n
        self.taken: dict[str, set[int]] = {}
        self.touched: set[int] = set()

    def pick(self, column: str, size: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Pick ``size`` rows, among ``allowed``, not yet used for ``column``."""
        pool = np.arange(self.n) if allowed is None else np.flatnonzero(allowed)
        used = self.taken.setdefault(column, set())
        pool = np.array([i for i in pool if i not in used], dtype=int)
        rows = np.sort(self.rng.choice(pool, size=size, replace=False))
        used.update(rows.tolist())
        self.touched.update(rows.tolist())
        return rows


def _ids(text: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """The customer ids of some rows, sorted."""
    return sorted(text.loc[rows, "customer_id"].tolist())


def build_raw_export(
    snapshot: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Turn the clean December 2024 snapshot into the messy export, and say what changed.

    Args:
        snapshot: The clean snapshot (one row per active customer).
        rng: Random generator for this step.

    Returns:
        The export as strings (``None`` for empty cells), in file row order, and the list
        of injected problems for the answer key.
    """
    text = _as_text(snapshot)
    n = len(text)
    file = "customers_raw.csv"
    pick = _Picker(rng, n)
    problems: list[dict[str, Any]] = []

    def record(
        pid: str,
        dimension: str,
        column: str | None,
        description: str,
        detect: str,
        ids: list[str],
        **extra: Any,
    ) -> None:
        problems.append(
            {
                "id": pid,
                "dimension": dimension,
                "file": file,
                "columns": [column] if column else [],
                "description": description,
                "how_to_detect": detect,
                "count": len(ids),
                "ids": ids,
                **extra,
            }
        )

    # Missing values: viewing is missing far more often for customers about to leave.
    churner = snapshot["churned_next_month"].to_numpy() == 1
    miss = np.flatnonzero(rng.random(n) < np.where(churner, 0.15, 0.03))
    pick.taken["hours_watched"] = set(miss.tolist())
    pick.touched.update(miss.tolist())
    text.loc[miss, "hours_watched"] = None
    record(
        "missing_hours_watched",
        "completeness",
        "hours_watched",
        "hours_watched is empty, not at random: the app's viewing telemetry is missing far "
        "more often for customers who cancel the next month (they had stopped opening the "
        "app). Dropping these rows would drop churners; impute and keep a missing flag.",
        "hours_watched is null",
        _ids(text, miss),
        missing_rate_churned=None,
        missing_rate_stayed=None,
    )
    rows = pick.pick("age", int(round(0.025 * n)))
    text.loc[rows, "age"] = None
    record(
        "missing_age",
        "completeness",
        "age",
        "age is empty (an optional field at sign-up), missing at random.",
        "age is null",
        _ids(text, rows),
    )
    rows = pick.pick("region", int(round(0.01 * n)))
    text.loc[rows, "region"] = None
    record(
        "missing_region",
        "completeness",
        "region",
        "region is empty (address not captured), missing at random.",
        "region is null",
        _ids(text, rows),
    )

    # Impossible values and outliers, each with a plausible cause.
    rows = pick.pick("age", len(IMPOSSIBLE_AGES))
    text.loc[rows, "age"] = IMPOSSIBLE_AGES
    record(
        "impossible_age",
        "validity",
        "age",
        "age outside 18-100 (typing errors and placeholder values such as 0 and 999); "
        "customers must be adults.",
        "age < 18 or age > 100",
        _ids(text, rows),
    )
    rows = pick.pick("tenure_months", 10, snapshot["tenure_months"].to_numpy() >= 1)
    text.loc[rows, "tenure_months"] = [f"-{v}" for v in text.loc[rows, "tenure_months"]]
    record(
        "negative_tenure",
        "validity",
        "tenure_months",
        "tenure_months is negative (sign flipped by a faulty export); the absolute value "
        "matches signup_date.",
        "tenure_months < 0",
        _ids(text, rows),
    )
    rows = pick.pick("monthly_fee", 8)
    text.loc[rows, "monthly_fee"] = [f"{float(v) * 100:.2f}" for v in text.loc[rows, "monthly_fee"]]
    record(
        "fee_in_cents",
        "validity",
        "monthly_fee",
        "monthly_fee entered in cents instead of dollars (100 times too large); the "
        "December invoice in billing.sqlite shows the true amount.",
        "monthly_fee > 100",
        _ids(text, rows),
    )
    rows = pick.pick("hours_watched", 6, snapshot["hours_watched"].to_numpy() >= 15)
    text.loc[rows, "hours_watched"] = [
        f"{float(v) * 60:.1f}" for v in text.loc[rows, "hours_watched"]
    ]
    record(
        "hours_in_minutes",
        "validity",
        "hours_watched",
        "hours_watched reported in minutes instead of hours, so above the 744 hours a "
        "month has. Heavy but possible viewing (up to a few hundred hours) is real and "
        "is not an error.",
        "hours_watched > 744",
        _ids(text, rows),
    )
    rows = pick.pick("email", 10)
    broken = []
    for k, row in enumerate(rows):
        email = text.at[row, "email"]
        user, domain = email.split("@")
        broken.append([f"{user}.{domain}", f"{user}@", f"{user}@@{domain}"][k % 3])
    text.loc[rows, "email"] = broken
    record(
        "invalid_email",
        "validity",
        "email",
        "email is not a valid address (missing or doubled @, missing domain).",
        f"email does not match {EMAIL_RE}",
        _ids(text, rows),
    )

    # Mixed date formats: two legacy sign-up systems wrote dates their own way.
    dates = pd.to_datetime(text["signup_date"], format="%Y-%m-%d")
    draw = rng.random(n)
    day_first = np.flatnonzero(draw < 0.09)
    month_words = np.flatnonzero((draw >= 0.09) & (draw < 0.13))
    text.loc[day_first, "signup_date"] = [
        f"{d.day:02d}/{d.month:02d}/{d.year}" for d in dates[day_first]
    ]
    text.loc[month_words, "signup_date"] = [
        f"{MONTH_ABBR[d.month - 1]} {d.day:02d}, {d.year}" for d in dates[month_words]
    ]  # spelled out here: strftime's %b would follow the machine's locale
    pick.touched.update(day_first.tolist() + month_words.tolist())
    record(
        "mixed_date_formats",
        "consistency",
        "signup_date",
        "signup_date mixes three formats: YYYY-MM-DD (most rows), DD/MM/YYYY (day "
        "first) and 'Mon DD, YYYY'. The ids listed are the rows not in YYYY-MM-DD.",
        "signup_date does not match ^\\d{4}-\\d{2}-\\d{2}$",
        _ids(text, np.concatenate([day_first, month_words])),
        formats={
            "YYYY-MM-DD": None,
            "DD/MM/YYYY": len(day_first),
            "Mon DD, YYYY": len(month_words),
        },
        patterns=DATE_PATTERNS,
    )

    # Inconsistent spellings of categories.
    for column, variants in SPELLINGS.items():
        present = text[column].notna().to_numpy()
        rows = pick.pick(column, int(round(SPELLING_RATES[column] * n)), present)
        for row in rows:
            options = variants[text.at[row, column]]
            text.at[row, column] = options[int(rng.integers(0, len(options)))]
        record(
            f"inconsistent_{column}",
            "consistency",
            column,
            f"{column} spelled in several ways for the same category (case, spaces, "
            "abbreviations from a legacy CRM).",
            f"{column} not one of {sorted(variants)}",
            _ids(text, rows),
            canonical=sorted(variants),
            variants={v: c for c, vs in variants.items() for v in vs},
        )

    # Duplicates: exact copies, and second records of a customer with other spellings.
    clean_rows = np.array([i for i in range(n) if i not in pick.touched])
    sources = rng.choice(clean_rows, size=62, replace=False)
    exact, near = np.sort(sources[:48]), np.sort(sources[48:])
    copies = text.loc[exact].copy()
    near_copies = text.loc[near].copy()
    for k, row in enumerate(near):
        column = ("payment_method", "plan", "contract_type")[k % 3]
        value = text.at[row, column]
        near_copies.at[row, column] = SPELLINGS[column][value][0]
        spelled = next(p for p in problems if p["id"] == f"inconsistent_{column}")
        spelled["ids"] = sorted(spelled["ids"] + [text.at[row, "customer_id"]])
        spelled["count"] = len(spelled["ids"])
    record(
        "duplicate_rows",
        "uniqueness",
        None,
        "Exact duplicate rows: the same customer exported twice.",
        "rows equal in every column to an earlier row",
        _ids(text, exact),
    )
    record(
        "duplicate_ids",
        "uniqueness",
        "customer_id",
        "A customer appears twice with the same data except one category spelled "
        "differently (payment_method, plan or contract_type); after the spellings are "
        "fixed the two rows are identical.",
        "customer_id repeated in rows that are not exact duplicates",
        _ids(text, near),
    )
    text = pd.concat([text, copies, near_copies], ignore_index=True)
    text = text.iloc[rng.permutation(len(text))].reset_index(drop=True)
    # Figures over the rows of the file as written (duplicates included).
    dated = next(p for p in problems if p["id"] == "mixed_date_formats")
    dated["formats"]["YYYY-MM-DD"] = len(text) - dated["count"]
    missing = next(p for p in problems if p["id"] == "missing_hours_watched")
    gone = text["churned_next_month"] == "1"
    empty = text["hours_watched"].isna()
    missing["missing_rate_churned"] = round(float(empty[gone].mean()), 4)
    missing["missing_rate_stayed"] = round(float(empty[~gone].mean()), 4)
    return text, problems


# --- Billing (SQLite) -----------------------------------------------------------------


def build_invoices(
    sim: Simulation, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Monthly invoices July-December 2024, amounts in cents, some issued twice."""
    parts = []
    for month in range(BILLING_FIRST, SNAPSHOT + 1):
        frame = month_frame(sim, month)
        start = month_start(month)
        issued = np.maximum(frame["signup_date"].to_numpy().astype("datetime64[D]"), start)
        p_fail = 0.015 + 0.05 * ~frame["autopay"].to_numpy() + 0.05 * frame["churned_next_month"]
        draw = rng.random(len(frame))
        status = np.where(draw < p_fail, "failed", np.where(draw > 0.996, "refunded", "paid"))
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": frame["customer_id"].to_numpy(),
                    "invoice_month": month_name(month),
                    "issued_on": issued.astype(str),
                    "amount": np.rint(frame["monthly_fee"].to_numpy() * 100).astype(np.int64),
                    "currency": "USD",
                    "status": status,
                }
            )
        )
    invoices = pd.concat(parts, ignore_index=True)
    twice = np.sort(rng.choice(len(invoices), size=24, replace=False))
    repeat = np.ones(len(invoices), dtype=int)
    repeat[twice] = 2
    invoices = invoices.loc[invoices.index.repeat(repeat)].reset_index(drop=True)
    invoices.insert(0, "invoice_id", np.arange(1, len(invoices) + 1, dtype=np.int64))
    again = invoices.duplicated(subset=["customer_id", "invoice_month"], keep="first")
    duplicate_ids = invoices.loc[again, "invoice_id"].tolist()
    problems = [
        {
            "id": "duplicate_invoices",
            "dimension": "uniqueness",
            "file": "billing.sqlite",
            "table": "invoices",
            "columns": ["customer_id", "invoice_month"],
            "description": "An invoice issued twice for the same customer and month (a billing "
            "job re-run); the repeat has the next invoice_id.",
            "how_to_detect": "customer_id and invoice_month repeated; ids are the repeats' "
            "invoice_id",
            "count": len(duplicate_ids),
            "ids": duplicate_ids,
            "customer_ids": sorted(invoices.loc[again, "customer_id"].tolist()),
        },
        {
            "id": "amount_in_cents",
            "dimension": "consistency",
            "file": "billing.sqlite",
            "table": "invoices",
            "columns": ["amount"],
            "description": "invoices.amount is in cents (integer), while monthly_fee in "
            "customers_raw.csv is in dollars: the December invoice amount equals "
            "monthly_fee * 100. Divide by 100 before comparing or joining.",
            "how_to_detect": "join December 2024 invoices to customers_raw.csv on customer_id "
            "and compare amount with monthly_fee",
            "count": len(invoices),
            "ids": [],
        },
    ]
    return invoices, problems


def price_list() -> pd.DataFrame:
    """List prices per plan in cents, before and after the price change."""
    rows = []
    for valid_from, prices in (
        ("2019-01-01", LIST_PRICE_BEFORE),
        (PRICE_CHANGE_MONTH + "-01", LIST_PRICE_AFTER),
    ):
        for plan, price in zip(PLANS, prices, strict=True):
            rows.append((str(plan), valid_from, int(round(price * 100)), "USD"))
    return pd.DataFrame(rows, columns=["plan", "valid_from", "list_price", "currency"])


def write_sqlite(path: Path, invoices: pd.DataFrame, prices: pd.DataFrame) -> None:
    """Write the billing database with a fixed sequence of statements, then VACUUM."""
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute(
            "CREATE TABLE invoices (invoice_id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, "
            "invoice_month TEXT NOT NULL, issued_on TEXT NOT NULL, amount INTEGER NOT NULL, "
            "currency TEXT NOT NULL, status TEXT NOT NULL)"
        )
        con.execute(
            "CREATE TABLE price_list (plan TEXT NOT NULL, valid_from TEXT NOT NULL, "
            "list_price INTEGER NOT NULL, currency TEXT NOT NULL)"
        )
        con.executemany(
            "INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), str(r[5]), str(r[6]))
                for r in invoices.itertuples(index=False)
            ],
        )
        con.executemany(
            "INSERT INTO price_list VALUES (?, ?, ?, ?)",
            [(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in prices.itertuples(index=False)],
        )
        con.commit()
        con.execute("VACUUM")
    finally:
        con.close()


# --- Support events (JSON Lines) ------------------------------------------------------

PHONE_SYSTEM_MIGRATION = np.datetime64("2024-11-15T00:00:00", "s")
TOPICS = np.array(["billing", "technical", "account", "content", "cancellation"])
CHANNELS = np.array(["chat", "phone", "email"])


def build_events(
    sim: Simulation, known_ids: set[str], rng: np.random.Generator
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Support contacts October-December 2024, one JSON record each, with problems."""
    parts = []
    for month in range(EVENTS_FIRST, SNAPSHOT + 1):
        frame = month_frame(sim, month)
        counts = frame["contacts_this_month"].to_numpy()
        rows = np.repeat(np.arange(len(frame)), counts)
        seconds = (rng.random(len(rows)) * month_days(month) * 86400).astype(np.int64)
        leaving = frame["churned_next_month"].to_numpy()[rows] == 1
        topic_p = np.where(
            leaving[:, None], [0.30, 0.15, 0.10, 0.10, 0.35], [0.30, 0.35, 0.15, 0.15, 0.05]
        )
        topic = (rng.random(len(rows))[:, None] > np.cumsum(topic_p, axis=1)).sum(axis=1)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": frame["customer_id"].to_numpy()[rows],
                    "ts": month_start(month).astype("datetime64[s]") + seconds,
                    "channel": CHANNELS[rng.choice(3, len(rows), p=[0.45, 0.30, 0.25])],
                    "topic": TOPICS[topic],
                }
            )
        )
    test_n = 18
    window = (
        month_days(EVENTS_FIRST) + month_days(EVENTS_FIRST + 1) + month_days(SNAPSHOT)
    ) * 86400
    parts.append(
        pd.DataFrame(
            {
                "customer_id": [f"TEST-{k % 3 + 1:04d}" for k in range(test_n)],
                "ts": month_start(EVENTS_FIRST).astype("datetime64[s]")
                + (rng.random(test_n) * window).astype(np.int64),
                "channel": "chat",
                "topic": "technical",
            }
        )
    )
    events = pd.concat(parts, ignore_index=True)
    events = events.sort_values(["ts", "customer_id"], kind="stable", ignore_index=True)
    events["event_id"] = [f"EV{k + 1:07d}" for k in range(len(events))]
    tech = events["topic"].to_numpy() == "technical"
    resolved = rng.random(len(events)) < np.where(tech, 0.70, 0.85)
    answered = rng.random(len(events)) < 0.40
    score = np.where(
        resolved,
        rng.choice([3, 4, 5], len(events), p=[0.2, 0.4, 0.4]),
        rng.choice([1, 2, 3], len(events), p=[0.4, 0.4, 0.2]),
    )
    epoch = (events["channel"].to_numpy() == "phone") & (
        events["ts"].to_numpy() < PHONE_SYSTEM_MIGRATION
    )
    records = []
    for k, row in enumerate(events.itertuples(index=False)):
        stamp = row.ts
        records.append(
            {
                "event_id": row.event_id,
                "customer_id": row.customer_id,
                "ts": int(stamp.timestamp()) if epoch[k] else stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "channel": row.channel,
                "topic": row.topic,
                "resolved": bool(resolved[k]),
                "satisfaction": int(score[k]) if answered[k] else None,
            }
        )
    again = np.sort(rng.choice(len(records), size=int(round(0.015 * len(records))), replace=False))
    lines: list[dict[str, Any]] = []
    again_set = set(again.tolist())
    for k, record in enumerate(records):
        lines.append(record)
        if k in again_set:
            lines.append(dict(record))
    test_ids = sorted(r["event_id"] for r in records if r["customer_id"].startswith("TEST-"))
    former = sorted(
        r["event_id"]
        for r in records
        if not r["customer_id"].startswith("TEST-") and r["customer_id"] not in known_ids
    )
    file = "support_events.jsonl"
    problems = [
        {
            "id": "duplicate_events",
            "dimension": "uniqueness",
            "file": file,
            "columns": ["event_id"],
            "description": "The same event delivered twice (the event bus delivers at least "
            "once): identical lines with the same event_id, the repeat right after the first.",
            "how_to_detect": "event_id repeated",
            "count": len(again),
            "ids": sorted(records[k]["event_id"] for k in again),
        },
        {
            "id": "epoch_timestamps",
            "dimension": "consistency",
            "file": file,
            "columns": ["ts"],
            "description": "ts is an ISO 8601 UTC string ('2024-11-20T14:03:09Z') except for phone "
            "contacts logged before the phone system's migration on 2024-11-15, which carry "
            "Unix epoch seconds (an integer).",
            "how_to_detect": "ts is an integer, not a string; ids are distinct events, "
            "lines counts the lines including repeated deliveries",
            "count": int(epoch.sum()),
            "lines": sum(isinstance(r["ts"], int) for r in lines),
            "ids": sorted(r["event_id"] for r, e in zip(records, epoch, strict=True) if e),
        },
        {
            "id": "test_accounts",
            "dimension": "validity",
            "file": file,
            "columns": ["customer_id"],
            "description": "Events of internal test accounts (customer_id 'TEST-0001' to "
            "'TEST-0003'), which are not customers and must be filtered out.",
            "how_to_detect": "customer_id starts with 'TEST-'",
            "count": len(test_ids),
            "ids": test_ids,
        },
    ]
    notes = [
        {
            "id": "former_customers_in_events",
            "file": file,
            "count": len(former),
            "description": "Not an error: events of customers who cancelled in October or "
            "November 2024 and so are not in customers_raw.csv. A join from the export keeps "
            "only current customers.",
        },
    ]
    return lines, problems + notes


# --- Writing files deterministically --------------------------------------------------


def write_csv(path: Path, text: pd.DataFrame) -> None:
    """Write string cells as CSV: ``\\n`` line ends, empty cells for missing values."""
    text.to_csv(path, index=False, lineterminator="\n", na_rep="", encoding="utf-8")


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Write one compact JSON object per line, keys in a fixed order."""
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=True) + "\n")


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write one Parquet file: zstd, one row group, no index, statistics kept."""
    frame.to_parquet(
        path, engine="pyarrow", index=False, compression="zstd", row_group_size=len(frame) + 1
    )


def write_json(path: Path, data: Any) -> None:
    """Write pretty JSON with sorted keys and a final newline."""
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True) + "\n", encoding="utf-8"
    )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _columns(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Column names and dtypes in order, as the manifest stores them."""
    return [{"name": str(name), "dtype": str(dtype)} for name, dtype in frame.dtypes.items()]


def manifest_entry(out: Path, name: str, rel: str, fmt: str) -> dict[str, Any]:
    """Describe one written file: checksum, size, format and schema as the loader reads it."""
    path = out / rel
    entry: dict[str, Any] = {
        "name": name,
        "path": rel,
        "format": fmt,
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
    }
    if fmt == "sqlite":
        entry["tables"] = {}
        for table in ("invoices", "price_list"):
            frame = read_unverified(path, fmt, table)
            entry["tables"][table] = {"rows": len(frame), "columns": _columns(frame)}
    elif fmt != "json":
        frame = read_unverified(path, fmt)
        entry["rows"] = len(frame)
        entry["columns"] = _columns(frame)
    return entry


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose output ends up in the files."""
    import pyarrow

    return {
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def generate(out: Path, seed: int = SEED) -> dict[str, Any]:
    """Write every data file, the answer key and the manifest into ``out``.

    Args:
        out: The folder to write into (created if needed).
        seed: The random seed.

    Returns:
        The manifest written to ``out/manifest.json``.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "monthly").mkdir(exist_ok=True)
    sim = simulate(seed)

    snapshot = month_frame(sim, SNAPSHOT)
    raw, raw_problems = build_raw_export(snapshot, np.random.default_rng([seed, 2]))
    write_csv(out / "customers_raw.csv", raw)

    invoices, bill_problems = build_invoices(sim, np.random.default_rng([seed, 3]))
    write_sqlite(out / "billing.sqlite", invoices, price_list())

    known = set(snapshot["customer_id"])
    events, event_problems = build_events(sim, known, np.random.default_rng([seed, 4]))
    write_jsonl(out / "support_events.jsonl", events)

    rng = np.random.default_rng([seed, 5])
    batch_names = []
    for month in range(BATCH_FIRST, BATCH_LAST + 1):
        rel = f"monthly/{month_name(month)}.parquet"
        write_parquet(out / rel, build_batch(sim, month, rng))
        batch_names.append(rel)

    notes = [p for p in event_problems if p["id"].startswith("former_")]
    hours = pd.to_numeric(raw["hours_watched"])
    heavy = (hours > 200) & (hours <= 24 * 31)
    answer_key = {
        "about": "Every quality problem injected into the raw sources on purpose "
        "(customers_raw.csv, billing.sqlite, support_events.jsonl). For each: the data-"
        "quality dimension, where it is, how to detect it, how many rows and which ids "
        "(customer_id, invoice_id or event_id). The monthly batches are clean apart from "
        "about 1.5 % missing hours_watched.",
        "snapshot_month": SNAPSHOT_MONTH,
        "rows": {
            "customers_raw.csv": len(raw),
            "distinct_customers": len(snapshot),
            "billing.sqlite/invoices": len(invoices),
            "support_events.jsonl": len(events),
        },
        "problems": raw_problems
        + bill_problems
        + [p for p in event_problems if not p["id"].startswith("former_")],
        "not_errors": notes
        + [
            {
                "id": "former_customers_in_billing",
                "file": "billing.sqlite",
                "count": int((~invoices["customer_id"].isin(known)).sum()),
                "description": "Not an error: invoices of customers who cancelled between July "
                "and November 2024 and so are not in customers_raw.csv.",
            },
            {
                "id": "heavy_viewers",
                "file": "customers_raw.csv",
                "count": int(raw.loc[heavy, "customer_id"].nunique()),
                "description": "Not an error: customers who watched more than 200 hours in the "
                "month. Real heavy use, not outliers to remove.",
            },
        ],
    }
    write_json(out / ANSWER_KEY_NAME, answer_key)

    entries = [
        manifest_entry(out, "answer_key", ANSWER_KEY_NAME, "json"),
        manifest_entry(out, "billing", "billing.sqlite", "sqlite"),
        manifest_entry(out, "customers_raw", "customers_raw.csv", "csv"),
        *(manifest_entry(out, rel.removesuffix(".parquet"), rel, "parquet") for rel in batch_names),
        manifest_entry(out, "support_events", "support_events.jsonl", "jsonl"),
    ]
    manifest = {
        "about": "Every data file shipped in datasets/, with its sha256, size in bytes, format "
        "and schema (column names in order with the dtypes utils.data returns). Written by "
        "`python -m tools.generate_datasets`; see README.md.",
        "generator": {
            "command": "python -m tools.generate_datasets",
            "seed": seed,
            "library_versions": library_versions(),
        },
        "price_change_month": PRICE_CHANGE_MONTH,
        "snapshot_month": SNAPSHOT_MONTH,
        "files": entries,
    }
    write_json(out / MANIFEST_NAME, manifest)
    return manifest


def check(shipped: Path) -> list[str]:
    """Regenerate in a temporary folder and compare each file with the shipped manifest.

    Args:
        shipped: The folder holding the shipped ``manifest.json``.

    Returns:
        One line per file whose sha256 differs or is missing; empty when all match.
    """
    expected = json.loads((shipped / MANIFEST_NAME).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
    fresh_sha = {entry["path"]: entry["sha256"] for entry in fresh["files"]}
    problems = []
    for entry in expected["files"]:
        got = fresh_sha.get(entry["path"])
        if got != entry["sha256"]:
            problems.append(f"{entry['path']}: manifest {entry['sha256']}, regenerated {got}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: generate the data, or check that regenerating reproduces them.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 if ``--check`` found differences, 2 on bad input.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tools.generate_datasets",
        description="Generate the case-study datasets (deterministic: same seed, same bytes).",
    )
    default = repo_root() / "datasets"
    parser.add_argument(
        "--out", type=Path, default=default, help=f"folder to write into (default: {default})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate in a temporary folder and compare with the manifest "
        "in --out instead of writing",
    )
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    if out.exists() and not out.is_dir():
        print(f"error: --out {out} is a file; give a folder.", file=sys.stderr)
        return 2
    if args.check:
        if not (out / MANIFEST_NAME).is_file():
            print(f"error: no {MANIFEST_NAME} in {out}; generate the data first.", file=sys.stderr)
            return 2
        problems = check(out)
        if problems:
            print("Regenerated files differ from the manifest:\n  " + "\n  ".join(problems))
            print(f"Library versions here: {library_versions()}")
            return 1
        print(f"All files listed in {out / MANIFEST_NAME} regenerate identically.")
        return 0
    try:
        manifest = generate(out)
    except OSError as exc:
        print(f"error: could not write the datasets into {out}: {exc}", file=sys.stderr)
        return 2
    total = sum(entry["size"] for entry in manifest["files"])
    print(
        f"Wrote {len(manifest['files'])} files ({total / 1e6:.2f} MB) and {MANIFEST_NAME} to {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
