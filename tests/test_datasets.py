"""The case-study data: reproducible, as documented, guarded by the loaders, and useful.

- Regenerating the data reproduces the shipped files byte for byte.
- The answer key matches the raw files: every problem is counted again here, from the
  files, with rules written independently of the generator.
- The loaders refuse damaged copies (made in a temporary folder; the shipped files are
  never touched) with a message naming the file, the checksums and how to restore it.
- The label is learnable but not trivial, and the price change makes a model trained
  before it decay, while a model retrained after it recovers.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tools import generate_datasets
from utils import data
from utils.paths import repo_root

SHIPPED = repo_root() / "datasets"
NUMERIC = ["age", "monthly_fee", "tenure_months", "hours_watched", "days_active", "devices",
           "support_contacts_3m"]  # fmt: skip
CATEGORICAL = ["plan", "contract_type", "payment_method", "region"]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_FIRST = re.compile(r"^\d{2}/\d{2}/\d{4}$")
MONTH_WORD = re.compile(r"^[A-Z][a-z]{2} \d{2}, \d{4}$")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_manifest() -> dict:
    return json.loads((SHIPPED / "manifest.json").read_text(encoding="utf-8"))


def churn_model():
    """A plain logistic regression over every feature, imputing and one-hot encoding."""
    columns = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC + ["autopay"]),
        (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
    )
    return make_pipeline(columns, LogisticRegression(max_iter=1000))


def auc_of(model, frame: pd.DataFrame) -> float:
    return roc_auc_score(frame[data.TARGET], model.predict_proba(frame)[:, 1])


@pytest.fixture()
def copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the shipped data that the loaders read instead."""
    target = tmp_path / "datasets"
    shutil.copytree(SHIPPED, target)
    monkeypatch.setenv("KIT_DATASETS_DIR", str(target))
    return target


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return data.load_dataset("customers_raw")


@pytest.fixture(scope="module")
def key() -> dict:
    answer_key = data.load_answer_key()
    return {problem["id"]: problem for problem in answer_key["problems"]} | {
        note["id"]: note for note in answer_key["not_errors"]
    }


@pytest.fixture(scope="module")
def production() -> pd.DataFrame:
    return data.load_months()


# --- Reproducible, complete, small, fast ----------------------------------------------


@pytest.mark.slow
def test_regenerating_reproduces_the_shipped_files(tmp_path: Path) -> None:
    fresh = generate_datasets.generate(tmp_path)
    shipped = shipped_manifest()
    assert [e["path"] for e in fresh["files"]] == [e["path"] for e in shipped["files"]]
    recorded = shipped["generator"]["library_versions"]
    here = generate_datasets.library_versions()
    for entry in shipped["files"]:
        actual = sha256(tmp_path / entry["path"])
        if actual == entry["sha256"]:
            continue
        differs = f"{entry['path']}: manifest {entry['sha256']}, regenerated {actual}"
        binary = {"sqlite": "sqlite", "parquet": "pyarrow"}.get(entry["format"])
        # With the pinned libraries every byte must match. A different SQLite or pyarrow
        # build may lay out the same content differently, so then compare the content.
        assert binary and recorded[binary] != here[binary], f"{differs}; libraries {here}"
        tables = list(entry.get("tables", [None]))
        for table in tables:
            pd.testing.assert_frame_equal(
                data.read_unverified(tmp_path / entry["path"], entry["format"], table),
                data.read_unverified(SHIPPED / entry["path"], entry["format"], table),
            )
    if recorded == here:
        assert fresh == shipped, "the regenerated manifest differs from the shipped one"


def test_every_shipped_file_matches_the_manifest() -> None:
    manifest = shipped_manifest()
    checked = data.verify_datasets()
    assert checked == [entry["path"] for entry in manifest["files"]]
    on_disk = sorted(
        p.relative_to(SHIPPED).as_posix()
        for p in SHIPPED.rglob("*")
        if p.is_file() and p.name not in ("manifest.json", "README.md")
    )
    assert on_disk == sorted(checked), "files in datasets/ and in the manifest differ"
    for entry in manifest["files"]:
        assert entry["size"] == (SHIPPED / entry["path"]).stat().st_size
        if entry["format"] in ("csv", "jsonl", "parquet"):
            assert len(data.load_dataset(entry["name"])) == entry["rows"], entry["name"]


def test_all_committed_data_is_under_10_mb() -> None:
    total = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert 1_000_000 < total < 10 * 1024 * 1024, f"datasets/ holds {total / 1e6:.2f} MB"


def test_each_dataset_loads_in_under_a_second() -> None:
    data._VERIFIED.clear()  # time the first load, checksum included
    timings = {}
    for name in data.list_datasets():
        tables = ["invoices", "price_list"] if name == "billing" else [None]
        for table in tables:
            start = time.perf_counter()
            data.load_dataset(name, table=table)
            timings[f"{name}:{table}"] = time.perf_counter() - start
    start = time.perf_counter()
    data.load_months()
    timings["load_months"] = time.perf_counter() - start
    slow = {name: round(seconds, 3) for name, seconds in timings.items() if seconds >= 1.0}
    assert not slow, f"loading took a second or more: {slow}"


def test_names_and_months_are_listed() -> None:
    names = data.list_datasets()
    assert {"customers_raw", "billing", "support_events"} <= set(names)
    assert data.months() == [f"2025-{m:02d}" for m in range(1, 13)]
    assert [f"monthly/{m}" for m in data.months()] == [n for n in names if n.startswith("monthly/")]
    assert data.PRICE_CHANGE_MONTH in data.months()
    path = data.dataset_path("billing")
    assert path == data.datasets_dir() / "billing.sqlite" and path.is_file()


def test_load_months_selects_and_labels_months() -> None:
    frame = data.load_months("2025-03", "2025-05")
    assert list(frame.columns[:2]) == ["month", "customer_id"]
    assert frame["month"].unique().tolist() == ["2025-03", "2025-04", "2025-05"]
    assert len(frame) == sum(len(data.load_dataset(f"monthly/2025-0{m}")) for m in (3, 4, 5))
    assert data.load_months(start="2025-12")["month"].unique().tolist() == ["2025-12"]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: data.load_dataset("customers"), ["Unknown dataset", "customers_raw"]),
        (lambda: data.load_dataset("billing"), ["several tables", "invoices", "price_list"]),
        (lambda: data.load_dataset("billing", table="payments"), ["no table 'payments'"]),
        (lambda: data.load_dataset("customers_raw", table="x"), ["single table"]),
        (lambda: data.load_months("2025-7"), ["'YYYY-MM'", "'2025-7'"]),
        (lambda: data.load_months("2025-09", "2025-02"), ["is after"]),
        (lambda: data.load_months("2026-01"), ["available months: 2025-01 to 2025-12"]),
    ],
)
def test_bad_arguments_get_a_clear_message(call, words: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    for word in words:
        assert word in str(caught.value)


def test_loaders_do_not_import_mlflow() -> None:
    code = "import sys, utils.data; sys.exit('mlflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=repo_root()).returncode == 0


def test_dataset_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(data.DatasetError("billing.sqlite", "is missing")))
    assert (error.file, error.problem) == ("billing.sqlite", "is missing")
    assert "git checkout -- datasets/billing.sqlite" in str(error)


def test_generator_refuses_a_file_as_output_folder(tmp_path: Path, capsys) -> None:
    target = tmp_path / "not_a_folder"
    target.write_text("x")
    assert generate_datasets.main(["--out", str(target)]) == 2
    assert "is a file; give a folder" in capsys.readouterr().err


# --- The loaders refuse damaged copies ------------------------------------------------


def assert_restore_hint(message: str, rel: str) -> None:
    assert f"datasets/{rel}" in message
    assert f"git checkout -- datasets/{rel}" in message
    assert "make datasets" in message


def test_a_missing_file_is_reported(copied: Path) -> None:
    (copied / "monthly" / "2025-03.parquet").unlink()
    with pytest.raises(data.DatasetError) as caught:
        data.load_dataset("monthly/2025-03")
    assert "is missing" in str(caught.value)
    assert_restore_hint(str(caught.value), "monthly/2025-03.parquet")
    with pytest.raises(data.DatasetError, match="2025-03.parquet is missing"):
        data.load_months()


def test_a_missing_manifest_is_reported(copied: Path) -> None:
    (copied / "manifest.json").unlink()
    with pytest.raises(data.DatasetError) as caught:
        data.list_datasets()
    assert "is missing" in str(caught.value)
    assert_restore_hint(str(caught.value), "manifest.json")


def test_a_truncated_file_is_reported(copied: Path) -> None:
    path = copied / "customers_raw.csv"
    expected = sha256(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(data.DatasetError) as caught:
        data.load_dataset("customers_raw")
    message = str(caught.value)
    assert "is truncated" in message
    assert f"expected sha256 {expected}" in message and f"actual {sha256(path)}" in message
    assert_restore_hint(message, "customers_raw.csv")


def test_an_edited_byte_is_reported(copied: Path) -> None:
    path = copied / "billing.sqlite"
    expected = sha256(path)
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    for call in (lambda: data.load_dataset("billing", table="invoices"),
                 lambda: data.dataset_path("billing")):  # fmt: skip
        with pytest.raises(data.DatasetError) as caught:
            call()
        message = str(caught.value)
        assert "has been modified" in message
        assert f"expected sha256 {expected}" in message and f"actual {sha256(path)}" in message
        assert_restore_hint(message, "billing.sqlite")


def rename_a_column(path: Path) -> None:
    """Rewrite a monthly batch with ``hours_watched`` renamed: a schema change."""
    frame = pd.read_parquet(path).rename(columns={"hours_watched": "hours"})
    frame.to_parquet(path, index=False)


def test_a_schema_change_is_caught_by_the_checksum(copied: Path) -> None:
    path = copied / "monthly" / "2025-08.parquet"
    expected = sha256(path)
    rename_a_column(path)
    with pytest.raises(data.DatasetError) as caught:
        data.load_dataset("monthly/2025-08")
    message = str(caught.value)
    assert f"expected sha256 {expected}" in message and f"actual {sha256(path)}" in message
    assert_restore_hint(message, "monthly/2025-08.parquet")


def test_a_schema_change_with_an_updated_checksum_is_caught_by_the_schema(copied: Path) -> None:
    path = copied / "monthly" / "2025-08.parquet"
    rename_a_column(path)
    manifest_path = copied / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        if entry["path"] == "monthly/2025-08.parquet":
            entry["sha256"], entry["size"] = sha256(path), path.stat().st_size
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(data.DatasetError) as caught:
        data.load_dataset("monthly/2025-08")
    message = str(caught.value)
    assert "schema mismatch" in message
    assert "missing columns ['hours_watched']" in message
    assert "unexpected columns ['hours']" in message
    assert_restore_hint(message, "monthly/2025-08.parquet")


def test_a_file_changed_after_loading_is_checked_again(copied: Path) -> None:
    path = copied / "support_events.jsonl"
    assert len(data.load_dataset("support_events")) > 0
    before = path.stat().st_mtime_ns
    path.write_bytes(path.read_bytes().replace(b'"chat"', b'"chaT"', 1))
    # Edits by hand land far apart in time; make that explicit for a coarse file clock.
    os.utime(path, ns=(before + 10**9, before + 10**9))
    with pytest.raises(data.DatasetError, match="has been modified"):
        data.load_dataset("support_events")


# --- The answer key matches the raw files ---------------------------------------------


def ids(frame: pd.DataFrame, mask: pd.Series, column: str = "customer_id") -> list[str]:
    return sorted(frame.loc[mask, column].tolist())


def test_every_problem_in_the_key_is_recounted_here(key: dict) -> None:
    recounted = {
        "missing_hours_watched", "missing_age", "missing_region", "impossible_age",
        "negative_tenure", "fee_in_cents", "hours_in_minutes", "invalid_email",
        "mixed_date_formats", "inconsistent_plan", "inconsistent_contract_type",
        "inconsistent_payment_method", "inconsistent_region", "duplicate_rows",
        "duplicate_ids", "duplicate_invoices", "amount_in_cents", "duplicate_events",
        "epoch_timestamps", "test_accounts", "former_customers_in_events",
        "former_customers_in_billing", "heavy_viewers",
    }  # fmt: skip
    assert set(key) == recounted
    for problem in data.load_answer_key()["problems"]:
        assert {"id", "dimension", "file", "columns", "description", "how_to_detect",
                "count", "ids"} <= set(problem), problem["id"]  # fmt: skip
        assert problem["dimension"] in {"completeness", "uniqueness", "validity", "consistency"}


def test_answer_key_missing_values(raw: pd.DataFrame, key: dict) -> None:
    for column in ("hours_watched", "age", "region"):
        problem = key[f"missing_{column}"]
        assert problem["ids"] == ids(raw, raw[column].isna()), column
        assert problem["count"] == raw[column].isna().sum() > 0
    # Not at random: viewing is missing far more often among customers who churned.
    empty = raw["hours_watched"].isna()
    churned = raw[data.TARGET] == 1
    rates = key["missing_hours_watched"]
    assert rates["missing_rate_churned"] == round(float(empty[churned].mean()), 4)
    assert rates["missing_rate_stayed"] == round(float(empty[~churned].mean()), 4)
    assert empty[churned].mean() > 3 * empty[~churned].mean()


def test_answer_key_impossible_values_and_outliers(raw: pd.DataFrame, key: dict) -> None:
    rules = {
        "impossible_age": (raw["age"] < 18) | (raw["age"] > 100),
        "negative_tenure": raw["tenure_months"] < 0,
        "fee_in_cents": raw["monthly_fee"] > 100,
        "hours_in_minutes": raw["hours_watched"] > 24 * 31,
        "invalid_email": ~raw["email"].str.match(EMAIL).astype(bool),
    }
    for name, mask in rules.items():
        assert key[name]["ids"] == ids(raw, mask), name
        assert key[name]["count"] == mask.sum() > 0, name
    heavy = (raw["hours_watched"] > 200) & (raw["hours_watched"] <= 24 * 31)
    assert key["heavy_viewers"]["count"] == raw.loc[heavy, "customer_id"].nunique()


def test_answer_key_date_formats(raw: pd.DataFrame, key: dict) -> None:
    dates = raw["signup_date"]
    counts = {
        "YYYY-MM-DD": dates.str.match(ISO_DATE).sum(),
        "DD/MM/YYYY": dates.str.match(DAY_FIRST).sum(),
        "Mon DD, YYYY": dates.str.match(MONTH_WORD).sum(),
    }
    problem = key["mixed_date_formats"]
    assert problem["formats"] == counts
    assert sum(counts.values()) == len(raw), "a date in none of the three formats"
    assert problem["ids"] == ids(raw, ~dates.str.match(ISO_DATE).astype(bool))
    # Every format parses to a real date that agrees with tenure_months.
    formats = {ISO_DATE: "%Y-%m-%d", DAY_FIRST: "%d/%m/%Y", MONTH_WORD: "%b %d, %Y"}
    parsed = pd.Series(pd.NaT, index=dates.index, dtype="datetime64[us]")
    for pattern, date_format in formats.items():
        match = dates.str.match(pattern).astype(bool)
        parsed[match] = pd.to_datetime(dates[match], format=date_format)
    assert parsed.notna().all()
    months_since = (2024 - parsed.dt.year) * 12 + (12 - parsed.dt.month)
    assert (months_since == raw["tenure_months"].abs()).all()


def test_answer_key_spellings(raw: pd.DataFrame, key: dict, production: pd.DataFrame) -> None:
    for column in ("plan", "contract_type", "payment_method", "region"):
        problem = key[f"inconsistent_{column}"]
        canonical = sorted(production[column].unique())  # the clean pipeline's categories
        assert problem["canonical"] == canonical, column
        odd = raw[column].notna() & ~raw[column].isin(canonical)
        assert problem["ids"] == ids(raw, odd), column
        assert problem["count"] == odd.sum() > 0
        assert set(raw.loc[odd, column]) == set(problem["variants"]), column
        assert set(problem["variants"].values()) <= set(canonical)


def test_answer_key_duplicates(raw: pd.DataFrame, key: dict) -> None:
    exact = raw.duplicated(keep="first")
    assert key["duplicate_rows"]["ids"] == ids(raw, exact)
    assert key["duplicate_rows"]["count"] == exact.sum() > 0
    repeated = raw["customer_id"].duplicated(keep="first") & ~exact
    assert key["duplicate_ids"]["ids"] == ids(raw, repeated)
    # Once spellings are fixed with the key's variants, those repeats are exact copies.
    fixed = raw.copy()
    for column in ("plan", "contract_type", "payment_method"):
        fixed[column] = fixed[column].replace(key[f"inconsistent_{column}"]["variants"])
    near = fixed[fixed["customer_id"].isin(key["duplicate_ids"]["ids"])]
    assert near.duplicated(keep=False).all()
    assert raw["customer_id"].nunique() == data.load_answer_key()["rows"]["distinct_customers"]


def test_answer_key_billing(raw: pd.DataFrame, key: dict) -> None:
    invoices = data.load_dataset("billing", table="invoices")
    again = invoices.duplicated(subset=["customer_id", "invoice_month"], keep="first")
    assert key["duplicate_invoices"]["ids"] == sorted(invoices.loc[again, "invoice_id"])
    assert key["duplicate_invoices"]["count"] == again.sum() > 0
    assert key["amount_in_cents"]["count"] == len(invoices)
    # Amounts are cents: December's invoice is monthly_fee * 100 for every customer.
    december = invoices[(invoices["invoice_month"] == "2024-12") & ~again]
    joined = raw.drop_duplicates("customer_id").merge(december, on="customer_id", how="left")
    assert joined["amount"].notna().all(), "a customer without a December invoice"
    cents = joined["customer_id"].isin(key["fee_in_cents"]["ids"])
    fee_cents = (joined["monthly_fee"] * 100).round().astype("int64")
    assert (fee_cents[~cents] == joined.loc[~cents, "amount"]).all()
    assert (joined.loc[cents, "monthly_fee"].round() == joined.loc[cents, "amount"]).all()
    former = ~invoices["customer_id"].isin(raw["customer_id"])
    assert key["former_customers_in_billing"]["count"] == former.sum() > 0
    prices = data.load_dataset("billing", table="price_list")
    assert sorted(prices["valid_from"].unique())[-1] == f"{data.PRICE_CHANGE_MONTH}-01"


def test_answer_key_support_events(raw: pd.DataFrame, key: dict) -> None:
    events = data.load_dataset("support_events")
    repeated = events["event_id"].duplicated(keep="first")
    assert key["duplicate_events"]["ids"] == sorted(events.loc[repeated, "event_id"])
    assert events.drop(columns="ts").duplicated().sum() == key["duplicate_events"]["count"] > 0
    as_int = events["ts"].map(lambda value: isinstance(value, int))
    assert key["epoch_timestamps"]["ids"] == sorted(events.loc[as_int, "event_id"].unique())
    assert key["epoch_timestamps"]["lines"] == as_int.sum() > 0
    assert set(events.loc[as_int, "channel"]) == {"phone"}
    test = events["customer_id"].str.startswith("TEST-")
    assert key["test_accounts"]["ids"] == sorted(events.loc[test, "event_id"].unique())
    unique = events[~repeated & ~test]
    former = ~unique["customer_id"].isin(raw["customer_id"])
    assert key["former_customers_in_events"]["count"] == former.sum() > 0
    # Timeliness: once both formats are read, every event falls in October-December 2024.
    stamps = pd.to_datetime(
        events["ts"].map(lambda v: pd.Timestamp(v, unit="s") if isinstance(v, int) else v),
        utc=True,
    )
    assert stamps.min() >= pd.Timestamp("2024-10-01", tz="UTC")
    assert stamps.max() < pd.Timestamp("2025-01-01", tz="UTC")
    # Joinable: support_contacts_3m is the number of distinct events per customer.
    per_customer = unique.groupby("customer_id").size()
    customers = raw.drop_duplicates("customer_id").set_index("customer_id")
    counted = per_customer.reindex(customers.index, fill_value=0)
    assert (counted == customers["support_contacts_3m"]).all()


# --- The monthly batches and the drift ------------------------------------------------


def test_monthly_batches_are_clean_and_alike(production: pd.DataFrame, raw: pd.DataFrame) -> None:
    columns = [c for c in raw.columns if c not in ("full_name", "email")]
    assert list(production.columns) == ["month", *columns]
    assert not production.duplicated(["month", "customer_id"]).any()
    assert production["age"].between(18, 100).all()
    assert (production["tenure_months"] >= 0).all()
    assert production["monthly_fee"].between(1, 40).all()
    assert production["hours_watched"].max() <= 24 * 31
    gaps = production["hours_watched"].isna().mean()
    assert 0.005 < gaps < 0.03, f"{gaps:.3f} of hours_watched missing"
    rates = production.groupby("month")[data.TARGET].mean()
    assert rates.between(0.15, 0.30).all(), rates.round(3).to_dict()
    assert 0.15 <= raw.drop_duplicates("customer_id")[data.TARGET].mean() <= 0.30


def test_the_price_change_happens_in_the_stated_month(production: pd.DataFrame) -> None:
    list_fee = production.groupby(["plan", "month"])["monthly_fee"].max().unstack("month")
    rises = list_fee.diff(axis=1).gt(0.5)  # a list price rise, plan by plan
    changed = sorted(rises.columns[rises.all(axis=0)])
    assert changed == [data.PRICE_CHANGE_MONTH]
    before = production[production["month"] < data.PRICE_CHANGE_MONTH]
    after = production[production["month"] >= data.PRICE_CHANGE_MONTH]
    assert after["monthly_fee"].mean() > 1.05 * before["monthly_fee"].mean()
    assert (after["plan"] == "Basic").mean() > (before["plan"] == "Basic").mean() + 0.05
    assert after["hours_watched"].mean() < 0.95 * before["hours_watched"].mean()


def test_a_model_trained_before_the_price_change_decays_and_retraining_recovers() -> None:
    early = data.load_months("2025-01", "2025-05")
    last_before = data.load_months("2025-06", "2025-06")
    recent = data.load_months("2025-07", "2025-09")
    later = data.load_months("2025-10", "2025-12")
    old = churn_model().fit(early, early[data.TARGET])
    before, after = auc_of(old, last_before), auc_of(old, later)
    retrained = auc_of(churn_model().fit(recent, recent[data.TARGET]), later)
    figures = f"before {before:.3f}, after {after:.3f}, retrained {retrained:.3f}"
    assert before - after >= 0.05, figures
    assert retrained - after >= 0.5 * (before - after), figures


def test_the_label_is_learnable_but_not_trivial() -> None:
    train = data.load_months("2025-01", "2025-03")
    test = data.load_months("2025-04", "2025-06")
    model = churn_model().fit(train, train[data.TARGET])
    auc = auc_of(model, test)
    assert 0.72 <= auc <= 0.95, f"held-out AUC {auc:.3f}"
    prior = np.full(len(test), train[data.TARGET].mean())
    baseline_loss = log_loss(test[data.TARGET], prior)
    model_loss = log_loss(test[data.TARGET], model.predict_proba(test)[:, 1])
    assert model_loss < baseline_loss - 0.05, f"log loss {model_loss:.3f} vs {baseline_loss:.3f}"


def test_the_raw_export_is_learnable_once_cleaned(raw: pd.DataFrame, key: dict) -> None:
    clean = raw.drop_duplicates().drop_duplicates("customer_id").copy()
    for column in CATEGORICAL:
        clean[column] = clean[column].replace(key[f"inconsistent_{column}"]["variants"])
    clean["autopay"] = clean["autopay"] == "yes"
    clean.loc[clean["age"].lt(18) | clean["age"].gt(100), "age"] = np.nan
    clean["tenure_months"] = clean["tenure_months"].abs()
    clean.loc[clean["monthly_fee"] > 100, "monthly_fee"] /= 100
    clean.loc[clean["hours_watched"] > 24 * 31, "hours_watched"] /= 60
    train, test = train_test_split(clean, test_size=0.3, random_state=0,
                                   stratify=clean[data.TARGET])  # fmt: skip
    auc = auc_of(churn_model().fit(train, train[data.TARGET]), test)
    assert 0.72 <= auc <= 0.95, f"held-out AUC {auc:.3f}"


def test_the_datasheet_agrees_with_the_data(key: dict) -> None:
    text = (SHIPPED / "README.md").read_text(encoding="utf-8")
    listed = {
        match[1]: int(match[2].replace(",", ""))
        for match in re.finditer(r"^\| `(\w+)` \| [^|]+ \| ([\d,]+) \|", text, re.MULTILINE)
    }
    problems = data.load_answer_key()["problems"]
    assert listed == {problem["id"]: problem["count"] for problem in problems}
    prices = data.load_dataset("billing", table="price_list")
    for plan, rows in prices.groupby("plan"):
        old, new = (rows.sort_values("valid_from")["list_price"] / 100).tolist()
        assert f"| {plan} | {old:.2f} | {new:.2f} |" in text, plan
    assert f'PRICE_CHANGE_MONTH = "{data.PRICE_CHANGE_MONTH}"' in text
