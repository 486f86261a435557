"""Entry point ``retrain``: train a challenger, gate it against the champion, promote it if it wins.

1. Train the course's pipeline on the months ``--train-start`` to ``--train-end``.
2. Log it in this run and register it as a new version of ``--model-name``, with the alias
   ``challenger``.
3. Evaluate the challenger and the current ``champion`` on ``--holdout-month``, a labelled
   month after the training window, with ``mlflow.models.evaluate`` (one child run each).
4. Apply the validation gate: the challenger's ROC AUC must reach ``--min-auc`` and beat the
   champion's by ``--min-gain``. If it passes, the ``champion`` alias moves to it.

The logic lives in ``utils.retraining`` (lesson 14); this script only wires it to the
command line and records the decision on the run (tags ``gate.*``) and on the version
(tag ``validation_status``). A rejected challenger is not an error: the job succeeds, the
champion stays. Run it with ``mlflow run . -e retrain -P train_start=2025-07
-P train_end=2025-09 -P holdout_month=2025-10 --env-manager local``.
"""

from __future__ import annotations

import argparse

import mlflow
import pandas as pd
import sklearn
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from utils.data import load_months
from utils.features import SKOPS_TRUSTED_TYPES
from utils.retraining import (
    ALGORITHMS,
    evaluate_on_holdout,
    model_input,
    train_on_window,
    validation_gate,
)

#: Written explicitly so that logging skips a slow dependency inference.
PIP_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line that the MLproject file's ``command`` builds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-start", required=True, help="first training month, YYYY-MM")
    parser.add_argument("--train-end", required=True, help="last training month, YYYY-MM")
    parser.add_argument(
        "--holdout-month", required=True, help="the month both models are judged on"
    )
    parser.add_argument("--min-gain", type=float, default=0.01)
    parser.add_argument("--min-auc", type=float, default=0.75)
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="boosting")
    parser.add_argument("--model-name", default="streamco-churn")
    args = parser.parse_args(argv)
    if not args.train_start <= args.train_end < args.holdout_month:
        parser.error(
            f"the months must satisfy train_start <= train_end < holdout_month; got "
            f"{args.train_start}, {args.train_end}, {args.holdout_month}: the holdout must be a "
            "month the challenger did not train on"
        )
    return args


def main(argv: list[str] | None = None) -> None:
    """Train, register, evaluate, gate and (maybe) promote; record everything on the run."""
    args = parse_args(argv)
    client = mlflow.MlflowClient()
    name = args.model_name
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        raise SystemExit(
            f"retrain: the model '{name}' has no alias 'champion' to compare with; register a "
            "first model and set the alias (lesson 10), or pass the right --model-name"
        ) from None
    window = f"{args.train_start}..{args.train_end}"
    model = train_on_window(args.train_start, args.train_end, args.algorithm)
    holdout = load_months(args.holdout_month, args.holdout_month)

    # Inside `mlflow run`, start_run() continues the run the launcher created.
    with mlflow.start_run() as run:
        mlflow.set_tags({"trained_on": window, "champion_version": champion.version})
        X_example = model_input(holdout)[0].head(5)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X_example),
            pip_requirements=PIP_REQUIREMENTS,
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
        version = mlflow.register_model(info.model_uri, name)
        client.set_model_version_tag(name, version.version, "trained_on", window)
        client.set_registered_model_alias(name, "challenger", version.version)

        results = {}
        for alias in ("champion", "challenger"):
            with mlflow.start_run(run_name=f"evaluate-{alias}-{args.holdout_month}", nested=True):
                results[alias] = evaluate_on_holdout(f"models:/{name}@{alias}", holdout)
        decision = validation_gate(
            results["challenger"], results["champion"], args.min_gain, args.min_auc
        )
        mlflow.log_metrics(
            {
                "challenger_roc_auc": decision.challenger_auc,
                "champion_roc_auc": decision.champion_auc,
            }
        )
        status = "approved" if decision.passed else "rejected"
        mlflow.set_tags(
            {
                "gate.passed": str(decision.passed).lower(),
                "gate.message": decision.message[:5000],
                "challenger_version": version.version,
            }
        )
        client.set_model_version_tag(name, version.version, "validation_status", status)
        if decision.passed:
            client.set_model_version_tag(name, version.version, "replaces", champion.version)
            client.set_registered_model_alias(name, "champion", version.version)
            client.delete_registered_model_alias(name, "challenger")
    verdict = "promoted to champion" if decision.passed else "rejected, champion unchanged"
    print(
        f"retrain: version {version.version} ({window}) ROC AUC {decision.challenger_auc:.4f} "
        f"vs champion version {champion.version} {decision.champion_auc:.4f} on "
        f"{args.holdout_month}: {verdict} (run {run.info.run_id})"
    )


if __name__ == "__main__":
    main()
