"""Load the case-study datasets, checking every file against the manifest first.

The data describe StreamCo, a fictional video-streaming subscription service that wants
to predict which customers will cancel next month. ``datasets/README.md`` is the
datasheet; ``datasets/manifest.json`` lists every file with its sha256, size and schema.

Every loader verifies the file's checksum before reading it and checks the columns it
read against the manifest, so a lesson never works on a damaged or half-loaded file.
A problem raises :class:`DatasetError`, whose message says which file, what is wrong
and how to restore it.

Example::

    from utils.data import load_dataset, load_months, PRICE_CHANGE_MONTH

    raw = load_dataset("customers_raw")
    invoices = load_dataset("billing", table="invoices")
    production = load_months("2025-01", "2025-12")
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd

from utils.i18n import N_, _
from utils.paths import datasets_dir

__all__ = [
    "PRICE_CHANGE_MONTH",
    "SNAPSHOT_MONTH",
    "TARGET",
    "DatasetError",
    "dataset_path",
    "list_datasets",
    "load_answer_key",
    "load_dataset",
    "load_months",
    "months",
    "verify_datasets",
]

#: First month whose batch carries the new, higher list prices (in force from 1 July 2025).
PRICE_CHANGE_MONTH = "2025-07"

#: Month described by the raw training export ``customers_raw.csv``.
SNAPSHOT_MONTH = "2024-12"

#: The label: 1 if the customer cancelled during the month after the row's month.
TARGET = "churned_next_month"

MANIFEST_NAME = "manifest.json"
ANSWER_KEY_NAME = "answer_key.json"
RESTORE_HINT = N_(
    "To restore it, run `git checkout -- datasets/{file}` from the repository root, "
    "or regenerate every data file with `make datasets` "
    "(which runs `python -m tools.generate_datasets`)."
)

#: Columns of the raw export, in file order, with the dtypes the loader gives them.
#: Messy columns stay strings so that the cleaning lesson sees the mess.
RAW_CSV_DTYPES: dict[str, str] = {
    "customer_id": "str",
    "full_name": "str",
    "email": "str",
    "age": "float64",
    "region": "str",
    "signup_date": "str",
    "plan": "str",
    "monthly_fee": "float64",
    "contract_type": "str",
    "payment_method": "str",
    "autopay": "str",
    "tenure_months": "int64",
    "hours_watched": "float64",
    "days_active": "int64",
    "devices": "int64",
    "support_contacts_3m": "int64",
    "churned_next_month": "int64",
}

#: Fields of a support event, in line order, with the dtypes the loader gives them.
#: ``ts`` stays ``object``: it holds ISO 8601 strings and epoch seconds (integers).
EVENT_DTYPES: dict[str, str] = {
    "event_id": "str",
    "customer_id": "str",
    "ts": "object",
    "channel": "str",
    "topic": "str",
    "resolved": "bool",
    "satisfaction": "float64",
}

_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# Files already verified in this process: (path, size, mtime_ns, expected sha256).
_VERIFIED: set[tuple[str, int, int, str]] = set()


class DatasetError(Exception):
    """A shipped data file is missing, damaged or does not match the manifest.

    The message names the file, says what is wrong and how to restore it.

    Attributes:
        file: The file's path relative to the datasets folder, e.g. ``"billing.sqlite"``.
        problem: What is wrong, e.g. ``"is missing"``.
    """

    def __init__(self, file: str, problem: str) -> None:
        """Build the message.

        Args:
            file: The file's path relative to the datasets folder.
            problem: What is wrong, e.g. ``"is missing"``.
        """
        self.file = file
        self.problem = problem
        location = datasets_dir() / file
        message = _("datasets/{file} {problem} (looked at {location}).").format(
            file=file, problem=problem, location=location
        )
        message += " " + _(RESTORE_HINT).format(file=file)
        super().__init__(message)

    def __reduce__(self) -> tuple[type[DatasetError], tuple[str, str]]:
        """Let the error cross process boundaries (pickle) with its two arguments."""
        return (type(self), (self.file, self.problem))


def _sha256(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest() -> dict[str, Any]:
    """Read ``manifest.json`` from the datasets folder.

    Raises:
        DatasetError: If the manifest is missing or is not valid JSON.
    """
    path = datasets_dir() / MANIFEST_NAME
    if not path.is_file():
        raise DatasetError(MANIFEST_NAME, _("is missing"))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(
            MANIFEST_NAME, _("is not valid JSON ({error})").format(error=exc)
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise DatasetError(MANIFEST_NAME, _("has no 'files' list"))
    return manifest


def _entries() -> dict[str, dict[str, Any]]:
    """Return the manifest's file entries keyed by dataset name."""
    return {entry["name"]: entry for entry in _manifest()["files"]}


def _entry(name: str) -> dict[str, Any]:
    """Return the manifest entry of one dataset.

    Raises:
        ValueError: If no dataset has that name.
    """
    entries = _entries()
    if name not in entries:
        available = ", ".join(sorted(entries))
        raise ValueError(f"Unknown dataset {name!r}. Available datasets: {available}.")
    return entries[name]


def _verify(entry: dict[str, Any]) -> Path:
    """Check that a file exists and matches its manifest size and sha256.

    A file that passed is remembered for the rest of the process, keyed by its path,
    size and modification time, so loading it again does not hash it again.

    Args:
        entry: The file's manifest entry.

    Returns:
        The file's absolute path.

    Raises:
        DatasetError: If the file is missing, truncated or its checksum differs.
    """
    rel = entry["path"]
    path = datasets_dir() / rel
    if not path.is_file():
        raise DatasetError(rel, _("is missing"))
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, entry["sha256"])
    if key in _VERIFIED:
        return path
    actual = _sha256(path)
    if actual != entry["sha256"]:
        expected_size = entry["size"]
        sizes = {"size": stat.st_size, "expected": expected_size}
        if stat.st_size < expected_size:
            what = _("is truncated ({size} of {expected} bytes)").format(**sizes)
        elif stat.st_size > expected_size:
            what = _("has changed size ({size} bytes, expected {expected})").format(**sizes)
        else:
            what = _("has been modified")
        mismatch = _("checksum mismatch, expected sha256 {expected}, actual {actual}").format(
            expected=entry["sha256"], actual=actual
        )
        raise DatasetError(rel, f"{what}: {mismatch}")
    _VERIFIED.add(key)
    return path


def _read_csv(path: Path) -> pd.DataFrame:
    """Read the raw export faithfully: only empty cells count as missing."""
    return pd.read_csv(path, dtype=RAW_CSV_DTYPES, keep_default_na=False, na_values=[""])


def _read_jsonl(path: Path) -> pd.DataFrame:
    """Read JSON Lines, one record per line, keeping each field's values as written."""
    with path.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    frame = pd.DataFrame.from_records(records, columns=list(EVENT_DTYPES))
    return frame.astype(EVENT_DTYPES)


def _read_sqlite(path: Path, table: str) -> pd.DataFrame:
    """Read one whole table of a SQLite file (opened read-only)."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as con:
        return pd.read_sql_query(f'SELECT * FROM "{table}"', con)


def read_unverified(path: Path, fmt: str, table: str | None = None) -> pd.DataFrame:
    """Read a data file the way the loaders do, without any checks.

    The generator uses it to record each file's schema in the manifest; lessons should
    call :func:`load_dataset` instead.

    Args:
        path: The file to read.
        fmt: ``"csv"``, ``"jsonl"``, ``"parquet"`` or ``"sqlite"``.
        table: The table to read, for ``"sqlite"``.

    Returns:
        The file's contents.

    Raises:
        ValueError: If the format is unknown, or a SQLite table is not given.
    """
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "parquet":
        return pd.read_parquet(path, engine="pyarrow")
    if fmt == "sqlite":
        if table is None:
            raise ValueError("Reading a SQLite file needs a table name.")
        return _read_sqlite(path, table)
    raise ValueError(f"Unknown data format {fmt!r}; expected csv, jsonl, parquet or sqlite.")


def _schema_problems(frame: pd.DataFrame, columns: list[dict[str, str]]) -> list[str]:
    """Compare a frame's columns and dtypes with the manifest's; describe the differences."""
    expected = [(col["name"], col["dtype"]) for col in columns]
    actual = [(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]
    if actual == expected:
        return []
    expected_names = [name for name, _ in expected]
    actual_names = [name for name, _ in actual]
    problems = []
    missing = [name for name in expected_names if name not in actual_names]
    extra = [name for name in actual_names if name not in expected_names]
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unexpected columns {extra}")
    if not missing and not extra and actual_names != expected_names:
        problems.append(f"columns out of order: expected {expected_names}, got {actual_names}")
    expected_types = dict(expected)
    for name, dtype in actual:
        if name in expected_types and expected_types[name] != dtype:
            problems.append(f"column {name!r} is {dtype}, expected {expected_types[name]}")
    return problems


def list_datasets() -> list[str]:
    """Return the names of the shipped datasets.

    Returns:
        Names such as ``"customers_raw"``, ``"billing"``, ``"support_events"`` and
        ``"monthly/2025-01"``, sorted. The answer key is read with
        :func:`load_answer_key`, not listed here.

    Raises:
        DatasetError: If the manifest is missing or unreadable.
    """
    return sorted(name for name, entry in _entries().items() if entry["format"] != "json")


def dataset_path(name: str) -> Path:
    """Return the verified path of a dataset's file, for reading it with other tools.

    Use it, for example, to open the billing database with :mod:`sqlite3` and run SQL.
    Open it read-only (``sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)``) or work
    on a copy, so the shipped file stays intact.

    Args:
        name: A name from :func:`list_datasets`, e.g. ``"billing"``.

    Returns:
        The absolute path of the file, after checking its checksum.

    Raises:
        ValueError: If no dataset has that name.
        DatasetError: If the file is missing or damaged.
    """
    return _verify(_entry(name))


def load_dataset(name: str, table: str | None = None) -> pd.DataFrame:
    """Verify a dataset's file, load it, and check its columns against the manifest.

    Args:
        name: A name from :func:`list_datasets`, e.g. ``"customers_raw"``,
            ``"support_events"`` or ``"monthly/2025-03"``.
        table: For ``"billing"`` (a SQLite database with several tables), the table to
            read: ``"invoices"`` or ``"price_list"``. Leave it out for other datasets.

    Returns:
        The whole file as a DataFrame. The raw export keeps its messy columns as strings.

    Raises:
        ValueError: If the name or table is unknown, or a table is needed and missing.
        DatasetError: If the file is missing, damaged, or its columns differ from the
            manifest's.
    """
    entry = _entry(name)
    fmt = entry["format"]
    if fmt == "json":
        raise ValueError(f"{name!r} is not a table; read it with load_answer_key().")
    if fmt == "sqlite":
        tables = sorted(entry["tables"])
        if table is None:
            raise ValueError(
                f"Dataset {name!r} is a SQLite database with several tables ({', '.join(tables)}); "
                f"choose one, e.g. load_dataset({name!r}, table={tables[0]!r})."
            )
        if table not in entry["tables"]:
            raise ValueError(
                f"Dataset {name!r} has no table {table!r}. Its tables: {', '.join(tables)}."
            )
        columns = entry["tables"][table]["columns"]
    else:
        if table is not None:
            raise ValueError(f"Dataset {name!r} is a single table; call it without table=.")
        columns = entry["columns"]
    path = _verify(entry)
    try:
        frame = read_unverified(path, fmt, table)
    except (ValueError, KeyError, OSError, sqlite3.Error, json.JSONDecodeError) as exc:
        raise DatasetError(
            entry["path"], _("could not be read ({error})").format(error=exc)
        ) from None
    problems = _schema_problems(frame, columns)
    if problems:
        where = _("table {table}: ").format(table=repr(table)) if table else ""
        raise DatasetError(
            entry["path"], _("has a schema mismatch, ") + where + "; ".join(problems)
        )
    return frame


def months() -> list[str]:
    """Return the months that have a production batch.

    Returns:
        Months as ``"YYYY-MM"`` strings, oldest first.

    Raises:
        DatasetError: If the manifest is missing or unreadable.
    """
    return sorted(name.split("/", 1)[1] for name in _entries() if name.startswith("monthly/"))


def _check_month(value: str, label: str) -> str:
    """Validate a ``"YYYY-MM"`` argument."""
    if not isinstance(value, str) or not _MONTH_RE.match(value):
        raise ValueError(
            f"{label} must be a month written 'YYYY-MM', e.g. '2025-03'; got {value!r}."
        )
    return value


def load_months(start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Load the monthly production batches from ``start`` to ``end``, both included.

    Args:
        start: First month, ``"YYYY-MM"``; the first available month when left out.
        end: Last month, ``"YYYY-MM"``; the last available month when left out.

    Returns:
        The batches stacked in month order, with a first column ``month`` (``"YYYY-MM"``)
        and a fresh index.

    Raises:
        ValueError: If a month is badly written, ``start`` is after ``end``, or no batch
            falls in the range.
        DatasetError: If a batch file is missing or damaged.
    """
    available = months()
    if start is not None:
        _check_month(start, "start")
    if end is not None:
        _check_month(end, "end")
    if start is not None and end is not None and start > end:
        raise ValueError(f"start ({start}) is after end ({end}).")
    chosen = [
        month
        for month in available
        if (start is None or month >= start) and (end is None or month <= end)
    ]
    if not chosen:
        span = f"{available[0]} to {available[-1]}" if available else "none"
        raise ValueError(
            f"No monthly batch between {start or 'the start'} and {end or 'the end'}; "
            f"available months: {span}."
        )
    frames = []
    for month in chosen:
        frame = load_dataset(f"monthly/{month}")
        frame.insert(0, "month", month)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def load_answer_key() -> dict[str, Any]:
    """Load the answer key: every quality problem injected into the raw sources.

    Returns:
        The parsed ``answer_key.json``; its ``"problems"`` list says what each problem
        is, where it is (file, columns), how many rows it touches and which ids.

    Raises:
        DatasetError: If the file is missing or damaged.
    """
    entry = _entry("answer_key")
    path = _verify(entry)
    return json.loads(path.read_text(encoding="utf-8"))


def verify_datasets() -> list[str]:
    """Check every file listed in the manifest: present, right size and sha256.

    Returns:
        The relative paths of the files checked.

    Raises:
        DatasetError: At the first file that is missing or damaged.
    """
    checked = []
    for entry in _manifest()["files"]:
        _verify(entry)
        checked.append(entry["path"])
    return checked
