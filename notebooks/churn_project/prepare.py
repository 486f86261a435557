"""Entry point ``prepare``: build the training table for a range of months and log it.

The table holds every column of the monthly batches (month, features, label) except the
customer id: the model does not need it, and a training table should not carry personal
data it does not need. It is written to ``--output-dir`` (a temporary folder when empty)
and logged as the run's artifact ``training_data/training_table.parquet``, so that a later
run can read it by URI. Run it with ``mlflow run . -e prepare`` or, outside MLflow
Projects, ``python prepare.py``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import mlflow
import pandas as pd

from utils.data import TARGET, load_months

#: Where the table goes in the run's artifacts, and its file name.
ARTIFACT_DIR = "training_data"
TABLE_FILE = "training_table.parquet"


def build_table(start: str, end: str, sample_fraction: float = 1.0, seed: int = 42) -> pd.DataFrame:
    """Return the training table for the months ``start`` to ``end``.

    Args:
        start: First month, ``"YYYY-MM"``.
        end: Last month, ``"YYYY-MM"``, included.
        sample_fraction: Share of each month's rows to keep, in (0, 1].
        seed: Seed of the sampling.

    Returns:
        One row per customer and month.

    Raises:
        ValueError: ``sample_fraction`` is not in (0, 1].
    """
    if not 0 < sample_fraction <= 1:
        raise ValueError(f"sample_fraction must be in (0, 1]; got {sample_fraction}")
    table = load_months(start, end).drop(columns=["customer_id"])
    if sample_fraction < 1:
        table = table.groupby("month").sample(frac=sample_fraction, random_state=seed)
    return table.reset_index(drop=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line that the MLproject file's ``command`` builds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2025-01")
    parser.add_argument("--end", default="2025-03")
    parser.add_argument("--sample-fraction", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output-dir", default="", help="empty: a temporary folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Build the table, write it, and log it with a few figures about it."""
    args = parse_args(argv)
    table = build_table(args.start, args.end, args.sample_fraction, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.output_dir or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / TABLE_FILE
        table.to_parquet(path, index=False)
        # Inside `mlflow run`, start_run() continues the run the launcher created.
        with mlflow.start_run():
            mlflow.log_metrics({"rows": len(table), "churn_rate": float(table[TARGET].mean())})
            mlflow.set_tag("months", ",".join(sorted(table["month"].unique())))
            mlflow.log_artifact(str(path), artifact_path=ARTIFACT_DIR)
    print(f"prepare: {len(table)} rows for {args.start}..{args.end} -> {ARTIFACT_DIR}/{TABLE_FILE}")


if __name__ == "__main__":
    main()
