"""Entry point ``train``: fit the churn model on a training table, log metrics and model.

``--data`` is a Parquet table written by ``prepare`` (or a folder holding one, such as the
``training_data`` artifact of a ``prepare`` run). The last month of the table validates
the model; the months before it train it. Run it with ``mlflow run . -e train -P data=...``
or, outside MLflow Projects, ``python train.py --data ...``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline

from utils.features import NUMERIC, SKOPS_TRUSTED_TYPES, build_model, split_features

#: Written explicitly so that logging skips a slow dependency inference.
PIP_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"]


def read_table(data: str | Path) -> pd.DataFrame:
    """Read the training table from a Parquet file or a folder holding exactly one.

    Args:
        data: A ``.parquet`` file, or a folder (searched recursively) with one in it.

    Returns:
        The table.

    Raises:
        FileNotFoundError: No Parquet file, or several, were found; the message says which.
    """
    path = Path(data)
    if path.is_dir():
        found = sorted(path.rglob("*.parquet"))
        if len(found) != 1:
            raise FileNotFoundError(
                f"expected one .parquet file under {path}, found {len(found)}: pass the file "
                "itself, or the training_data artifact of a prepare run"
            )
        path = found[0]
    if not path.is_file():
        raise FileNotFoundError(f"no training table at {path}; run the prepare entry point first")
    return pd.read_parquet(path)


def as_model_input(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Split features and label, with numeric features as floats (a column may miss values)."""
    X, y = split_features(frame)
    return X.astype({column: "float64" for column in NUMERIC}), y


def fit_and_evaluate(
    table: pd.DataFrame, C: float, max_iter: int
) -> tuple[Pipeline, dict[str, float | str]]:
    """Train on every month but the last, validate on the last one.

    Args:
        table: The training table, with a ``month`` column and at least two months.
        C: Inverse regularisation strength of the logistic regression.
        max_iter: Iterations allowed to the solver.

    Returns:
        The fitted pipeline and its validation metrics.

    Raises:
        ValueError: The table holds fewer than two months.
    """
    months = sorted(table["month"].unique())
    if len(months) < 2:
        raise ValueError(f"the table needs two months or more (train, then validate); got {months}")
    validation = table["month"] == months[-1]
    X_train, y_train = as_model_input(table[~validation])
    X_val, y_val = as_model_input(table[validation])
    model = build_model(LogisticRegression(C=C, max_iter=max_iter))
    model.fit(X_train, y_train)
    scores = model.predict_proba(X_val)[:, 1]
    metrics = {
        "val_roc_auc": float(roc_auc_score(y_val, scores)),
        "val_accuracy": float(accuracy_score(y_val, model.predict(X_val))),
        "train_rows": float(len(X_train)),
    }
    return model, {"validation_month": months[-1], **metrics}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line that the MLproject file's ``command`` builds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--max-iter", type=int, default=1000)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Train, then log the validation metrics and the model to the current run."""
    args = parse_args(argv)
    table = read_table(args.data)
    model, results = fit_and_evaluate(table, args.C, args.max_iter)
    X_example, _ = as_model_input(table.head(5))
    with mlflow.start_run():
        mlflow.set_tag("validation_month", results.pop("validation_month"))
        mlflow.log_metrics(results)
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X_example),
            input_example=X_example,
            pip_requirements=PIP_REQUIREMENTS,
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
    print(f"train: C={args.C} val_roc_auc={results['val_roc_auc']:.3f}")


if __name__ == "__main__":
    main()
