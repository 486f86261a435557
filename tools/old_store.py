"""Make the tracking store that lesson 08 upgrades: ``notebooks/stores/mlflow-2.22.db``.

Lesson 08 (section 12) shows what happens when a store made by an older MLflow meets the
kit's: the newer MLflow refuses it until ``mlflow db upgrade`` runs, and the runs come
through the upgrade intact. The store it uses was made once, by MLflow 2.22.4, with the
small workload below, and ships with the kit (about 300 KB), so the lesson runs offline.

Re-making it needs the network once, for that old MLflow, and is never part of a lesson
or a test: ``python -m tools.old_store`` builds a throw-away virtual environment with
``mlflow==2.22.4``, runs :data:`WORKLOAD` in it and writes the file. The workload is
recorded in the store too, so the lesson can check every value after the upgrade.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORE = ROOT / "notebooks" / "stores" / "mlflow-2.22.db"
OLD_MLFLOW = "2.22.4"

#: Run by the old MLflow, with the database path as its only argument.
WORKLOAD = """
import sys

import mlflow
from mlflow import MlflowClient

uri = f"sqlite:///{sys.argv[1]}"
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)
experiment_id = client.create_experiment("churn-2025", artifact_location="/tmp/old-artifacts")
for index, (c, auc) in enumerate([(0.1, 0.761), (1.0, 0.792), (10.0, 0.787)]):
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"logreg-C{c}") as run:
        mlflow.log_params({"model": "logistic_regression", "C": c})
        for step, value in enumerate([auc - 0.02, auc - 0.01, auc]):
            mlflow.log_metric("val_roc_auc", value, step=step)
        mlflow.set_tag("semester", "2025-spring")
client.create_registered_model("churn-2025")
best = client.search_runs([experiment_id], order_by=["metrics.val_roc_auc DESC"])[0]
client.create_model_version("churn-2025", f"runs:/{best.info.run_id}/model", best.info.run_id)
client.transition_model_version_stage("churn-2025", "1", "Production")
print(mlflow.__version__, experiment_id, best.info.run_id)
"""


def make(target: Path = STORE, python: str = sys.executable) -> None:
    """Build a virtual environment with the old MLflow and run the workload into ``target``."""
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = venv / "bin" / "pip"
        subprocess.run(
            [str(pip), "install", "--quiet", f"mlflow=={OLD_MLFLOW}", "sqlalchemy<2.1"], check=True
        )
        run(venv / "bin" / "python", target)


def run(old_python: Path, target: Path) -> None:
    """Run the workload with an interpreter that has the old MLflow, into a new ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "mlflow.db"
        subprocess.run([str(old_python), "-c", WORKLOAD, str(database)], check=True)
        subprocess.run(
            [
                str(old_python),
                "-c",
                "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('VACUUM')",
                str(database),
            ],
            check=True,
        )
        target.write_bytes(database.read_bytes())
    print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)")


def main(argv: list[str] | None = None) -> int:
    """Re-make the old store (needs the network once, for the old MLflow)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-python", type=Path, help="an interpreter that already has it")
    args = parser.parse_args(argv)
    if args.old_python:
        run(args.old_python, STORE)
    else:
        make()
    return 0


if __name__ == "__main__":
    sys.exit(main())
