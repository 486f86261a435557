"""Entry point ``main``: the two-step workflow, ``prepare`` then ``train``, in one command.

It opens a parent run and launches the two entry points of this project as child runs.
The ``training_data`` artifact URI of the ``prepare`` run becomes the ``data`` parameter
of the ``train`` run: MLflow fetches it for the ``path`` parameter, wherever it is stored.
Run it with ``mlflow run . -e main`` (``main`` is also the default entry point).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import mlflow
import mlflow.projects
from prepare import ARTIFACT_DIR

PROJECT_DIR = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line that the MLproject file's ``command`` builds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2025-01")
    parser.add_argument("--end", default="2025-03")
    parser.add_argument("--sample-fraction", type=float, default=1.0)
    parser.add_argument("--C", type=float, default=1.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run ``prepare``, then ``train`` on its output, as children of this run."""
    args = parse_args(argv)
    with mlflow.start_run() as parent, tempfile.TemporaryDirectory() as downloads:
        common = {
            "experiment_id": parent.info.experiment_id,
            "env_manager": "local",
            "synchronous": True,
            "storage_dir": downloads,  # where `path` parameters are fetched to
        }
        prepared = mlflow.projects.run(
            str(PROJECT_DIR),
            entry_point="prepare",
            parameters={
                "start": args.start,
                "end": args.end,
                "sample_fraction": args.sample_fraction,
            },
            **common,
        )
        data_uri = f"{mlflow.get_run(prepared.run_id).info.artifact_uri}/{ARTIFACT_DIR}"
        trained = mlflow.projects.run(
            str(PROJECT_DIR),
            entry_point="train",
            parameters={"data": data_uri, "C": args.C},
            **common,
        )
        mlflow.set_tags({"prepare_run_id": prepared.run_id, "train_run_id": trained.run_id})
    print(f"main: prepare run {prepared.run_id}, train run {trained.run_id}")


if __name__ == "__main__":
    main()
