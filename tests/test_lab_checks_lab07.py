"""Lab 07's checks give specific feedback on a wrong project, a run in the wrong place, the
wrong S3 keys and a version from another run.

Task 1 is checked on folders written here. Tasks 2-4 read a real local AWS stack (with the
SQLite backend, to start fast), started once for the module, holding: a run that looks like
the project's (tags, parameters, metric and a logged model), a plain run with other
parameters, a failed run, and a registered version of each of the first two.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from importlib.metadata import version as installed
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.tracking import fluent
from sklearn.linear_model import LogisticRegression

from utils import checks
from utils.aws_stack import local_aws_stack
from utils.labs import lab07

GOOD_MLPROJECT = """\
name: churn_on_aws
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      start: {type: string, default: "2025-01"}
      end: {type: string, default: "2025-03"}
      C: {type: float, default: 1.0}
    command: "python train.py --start {start} --end {end} --C {C}"
"""
GOOD_PYTHON_ENV = f"""\
python: "{sys.version_info.major}.{sys.version_info.minor}"
dependencies:
  - mlflow=={installed("mlflow")}
  - scikit-learn=={installed("scikit-learn")}
  - pandas=={installed("pandas")}
"""


def problems(feedback: checks.Feedback) -> str:
    assert feedback.status == "failed", str(feedback)
    return " | ".join(feedback.problems)


def project(tmp_path: Path, mlproject: str = GOOD_MLPROJECT, env: str = GOOD_PYTHON_ENV) -> Path:
    """Write a project folder with train.py and the two given files."""
    folder = tmp_path / "churn_on_aws"
    lab07.write_training_script(folder)
    (folder / "MLproject").write_text(mlproject)
    (folder / "python_env.yaml").write_text(env)
    return folder


# --- Unfinished answers ------------------------------------------------------------------


def test_every_check_reports_unfinished_answers() -> None:
    feedbacks = [
        lab07.check_project(Path("."), ..., ...),
        lab07.check_project_run(..., ...),
        lab07.check_model_in_bucket(..., ..., ...),
        lab07.check_registered_version(..., ..., ...),
    ]
    assert [f.status for f in feedbacks] == ["unfinished"] * 4
    assert {f.task for f in feedbacks} == set(checks.TASKS["lab07"])


# --- Task 1 ------------------------------------------------------------------------------


def test_a_right_project_passes(tmp_path: Path) -> None:
    folder = project(tmp_path)
    feedback = lab07.check_project(folder, GOOD_MLPROJECT, GOOD_PYTHON_ENV)
    assert feedback.passed, str(feedback)


def test_the_training_script_is_valid_python() -> None:
    compile(lab07.TRAIN_SCRIPT, "train.py", "exec")
    assert "--start" in lab07.TRAIN_SCRIPT and "--C" in lab07.TRAIN_SCRIPT


def test_a_wrong_type_is_named(tmp_path: Path) -> None:
    folder = project(tmp_path)
    assert "MLPROJECT should be a str, not a dict" in problems(
        lab07.check_project(folder, {"name": "x"}, GOOD_PYTHON_ENV)
    )
    assert "project_dir should be a Path or str, not an int" in problems(
        lab07.check_project(3, GOOD_MLPROJECT, GOOD_PYTHON_ENV)
    )


def test_files_not_written_are_reported(tmp_path: Path) -> None:
    folder = project(tmp_path)
    other = GOOD_MLPROJECT.replace("churn_on_aws", "renamed")
    assert "churn_on_aws/MLproject differs from your text" in problems(
        lab07.check_project(folder, other, GOOD_PYTHON_ENV)
    )
    (folder / "python_env.yaml").unlink()
    assert "holds no file `python_env.yaml`" in problems(
        lab07.check_project(folder, GOOD_MLPROJECT, GOOD_PYTHON_ENV)
    )


def test_bad_yaml_gives_the_line(tmp_path: Path) -> None:
    broken = GOOD_MLPROJECT.replace("  main:", "\tmain:")
    folder = project(tmp_path, broken)
    message = problems(lab07.check_project(folder, broken, GOOD_PYTHON_ENV))
    assert "MLproject is not valid YAML at line 4" in message


def test_a_string_typed_C_is_named(tmp_path: Path) -> None:
    text = GOOD_MLPROJECT.replace("C: {type: float", "C: {type: string")
    folder = project(tmp_path, text)
    message = problems(lab07.check_project(folder, text, GOOD_PYTHON_ENV))
    assert "the parameter 'C' has type 'string', not 'float'" in message


def test_a_missing_parameter_and_a_case_slip_are_named(tmp_path: Path) -> None:
    text = GOOD_MLPROJECT.replace("      C: {type: float", "      c: {type: float").replace(
        "--C {C}", "--C {c}"
    )
    folder = project(tmp_path, text)
    message = problems(lab07.check_project(folder, text, GOOD_PYTHON_ENV))
    assert "the parameter 'C' (float) is missing ('c' is not 'C'" in message
    assert "does not pass --C {C}" in message


def test_a_wrong_entry_point_lists_what_is_there(tmp_path: Path) -> None:
    text = GOOD_MLPROJECT.replace("  main:", "  train:")
    folder = project(tmp_path, text)
    message = problems(lab07.check_project(folder, text, GOOD_PYTHON_ENV))
    assert "no entry point 'main'" in message and "(it has ['train'])" in message


def test_a_command_that_skips_the_script_or_a_flag(tmp_path: Path) -> None:
    text = GOOD_MLPROJECT.replace(" --end {end}", "")
    folder = project(tmp_path, text)
    assert "does not pass --end {end}" in problems(
        lab07.check_project(folder, text, GOOD_PYTHON_ENV)
    )
    text = GOOD_MLPROJECT.replace("python train.py", "python main.py")
    folder = project(tmp_path, text)
    assert "does not run `python train.py`" in problems(
        lab07.check_project(folder, text, GOOD_PYTHON_ENV)
    )


def test_conda_instead_of_python_env(tmp_path: Path) -> None:
    text = GOOD_MLPROJECT.replace("python_env: python_env.yaml", "conda_env: conda.yaml")
    folder = project(tmp_path, text)
    message = problems(lab07.check_project(folder, text, GOOD_PYTHON_ENV))
    assert "`python_env: python_env.yaml` instead of conda_env" in message


def test_an_unquoted_python_version_and_missing_pins(tmp_path: Path) -> None:
    env = "python: 3.11\ndependencies:\n  - mlflow\n  - scikit-learn==0.1\n  - pandas==3.1.1\n"
    folder = project(tmp_path, env=env)
    message = problems(lab07.check_project(folder, GOOD_MLPROJECT, env))
    assert 'write the Python version in quotes, python: "3.11"' in message
    assert f"should pin mlflow=={installed('mlflow')}" in message
    assert f"scikit-learn=={installed('scikit-learn')}" in message


# --- Tasks 2-4: a real stack ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, template_db: Path) -> Iterator[dict[str, Any]]:
    """A running stack with a project-like run, a plain run, a failed run and two versions."""
    store = tmp_path_factory.mktemp("lab07-store")
    shutil.copy(template_db, store / "mlflow.db")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["x1", "x2"])
    model = LogisticRegression().fit(X, (X["x1"] > 0).astype(int))
    saved_uri = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_STORE_DIR", str(store))
        patch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        patch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
        with local_aws_stack("lab07-test", backend="sqlite") as aws:
            try:
                mlflow.set_tracking_uri(aws.tracking_url)
                experiment_id = mlflow.create_experiment("lab07_student")
                mlflow.set_experiment(experiment_id=experiment_id)

                def log(params: dict[str, str], project_run: bool) -> tuple[str, Any]:
                    tags = {"mlflow.source.type": "PROJECT", "mlflow.project.entryPoint": "main"}
                    with mlflow.start_run(tags=tags if project_run else {}) as run:
                        mlflow.log_params(params)
                        mlflow.log_metric("val_roc_auc", 0.79)
                        mlflow.log_text("not the model", "notes/readme.txt")
                        info = mlflow.sklearn.log_model(
                            model, name="model", pip_requirements=["scikit-learn"]
                        )
                    version = mlflow.register_model(info.model_uri, lab07.MODEL_NAME)
                    return run.info.run_id, version

                project_id, project_version = log(
                    {"start": "2025-01", "end": "2025-03", "C": "0.5"}, True
                )
                plain_id, plain_version = log(
                    {"start": "2025-01", "end": "2025-03", "C": "1.0"}, False
                )
                with mlflow.start_run() as failed:
                    pass
                MlflowClient(aws.tracking_url).set_terminated(failed.info.run_id, "FAILED")
                patch.setenv("MLFLOW_EXPERIMENT_ID", experiment_id)
                yield {
                    "aws": aws,
                    "experiment_id": experiment_id,
                    "project": project_id,
                    "project_version": project_version,
                    "plain": plain_id,
                    "plain_version": plain_version,
                    "failed": failed.info.run_id,
                }
            finally:
                mlflow.set_tracking_uri(saved_uri)


def model_keys(stack: dict[str, Any], run_id: str) -> list[str]:
    aws = stack["aws"]
    client = MlflowClient(aws.tracking_url)
    model = client.search_logged_models(
        experiment_ids=[stack["experiment_id"]], filter_string=f"source_run_id = '{run_id}'"
    )[0]
    prefix = lab07.model_prefix(model.artifact_location)
    listing = aws.s3_client().list_objects_v2(Bucket=aws.bucket, Prefix=prefix + "/")
    return [item["Key"] for item in listing["Contents"]]


@pytest.mark.slow
def test_task2_passes_for_the_project_run_and_names_the_stack(stack: dict[str, Any]) -> None:
    feedback = lab07.check_project_run(stack["project"], stack["aws"])
    assert feedback.passed, str(feedback)
    assert "aws should be an AwsStack, not a str" in problems(
        lab07.check_project_run(stack["project"], stack["aws"].tracking_url)
    )


@pytest.mark.slow
def test_task2_wrong_answers(stack: dict[str, Any]) -> None:
    aws = stack["aws"]

    class Submitted:
        run_id = stack["project"]

    assert "pass the run's id, submitted.run_id" in problems(
        lab07.check_project_run(Submitted(), aws)
    )
    assert "is not a run id" in problems(lab07.check_project_run("my-run", aws))
    assert "the run is FAILED, not FINISHED" in problems(
        lab07.check_project_run(stack["failed"], aws)
    )
    assert "was not started as a project" in problems(lab07.check_project_run(stack["plain"], aws))


@pytest.mark.slow
def test_task2_wrong_parameters_and_experiment(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = stack["aws"]
    client = MlflowClient(aws.tracking_url)
    other = client.create_experiment(f"other-{np.random.default_rng().integers(1e9)}")
    run = client.create_run(
        other, tags={"mlflow.source.type": "PROJECT", "mlflow.project.entryPoint": "main"}
    )
    client.log_param(run.info.run_id, "C", "1.0")
    client.set_terminated(run.info.run_id)
    message = problems(lab07.check_project_run(run.info.run_id, aws))
    assert f"belongs to experiment {other}, not to this lab's ({stack['experiment_id']})" in message
    assert "C=1.0 (expected 0.5)" in message and "start=(missing) (expected 2025-01)" in message
    assert "the metric val_roc_auc is None" in message


@pytest.mark.slow
def test_task2_a_run_in_the_local_store_is_found_there(
    stack: dict[str, Any], tmp_path: Path, template_db: Path
) -> None:
    shutil.copy(template_db, tmp_path / "local.db")
    local_uri = f"sqlite:///{tmp_path / 'local.db'}"
    local = MlflowClient(local_uri)
    run = local.create_run(local.create_experiment("lab07_student", (tmp_path / "a").as_uri()))
    saved = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(local_uri)
    try:
        message = problems(lab07.check_project_run(run.info.run_id, stack["aws"]))
    finally:
        mlflow.set_tracking_uri(saved)
    assert f"has no run {run.info.run_id}. It is in {local_uri}, not on the stack" in message
    assert "mlflow.set_tracking_uri(aws.tracking_url)" in message


@pytest.mark.slow
def test_task3_passes_with_the_model_keys(stack: dict[str, Any]) -> None:
    keys = model_keys(stack, stack["project"])
    feedback = lab07.check_model_in_bucket(keys, stack["project"], stack["aws"])
    assert feedback.passed, str(feedback)


@pytest.mark.slow
def test_task3_wrong_keys(stack: dict[str, Any]) -> None:
    aws, run_id = stack["aws"], stack["project"]
    keys = model_keys(stack, run_id)
    listing = aws.s3_client().list_objects_v2(Bucket=aws.bucket, Prefix="mlflow/")
    assert "keep the keys, [item['Key'] for item in listing['Contents']]" in problems(
        lab07.check_model_in_bucket(listing, run_id, aws)
    )
    assert "model_keys should be a list or tuple or set, not a str" in problems(
        lab07.check_model_in_bucket(keys[0], run_id, aws)
    )
    run_folder = [f"mlflow/{stack['experiment_id']}/{run_id}/artifacts/notes/readme.txt"]
    message = problems(lab07.check_model_in_bucket(run_folder, run_id, aws))
    assert "not under the model's prefix" in message and "the run's own artifacts" in message
    partial = [key for key in keys if key.endswith(("MLmodel", "model.skops"))]
    message = problems(lab07.check_model_in_bucket(partial, run_id, aws))
    assert f"you listed 2 of the model's {len(keys)} files" in message and "conda.yaml" in message
    typo = [*keys[:-1], keys[-1] + "x"]
    assert "is not in the bucket lab07-test" in problems(
        lab07.check_model_in_bucket(typo, run_id, aws)
    )
    other_model = model_keys(stack, stack["plain"])
    assert "not under the model's prefix" in problems(
        lab07.check_model_in_bucket(other_model, run_id, aws)
    )


@pytest.mark.slow
def test_task4_passes_for_the_project_version(stack: dict[str, Any]) -> None:
    feedback = lab07.check_registered_version(
        stack["project_version"], stack["project"], stack["aws"]
    )
    assert feedback.passed, str(feedback)


@pytest.mark.slow
def test_task4_wrong_versions(stack: dict[str, Any], tmp_path: Path) -> None:
    aws, run_id = stack["aws"], stack["project"]
    assert "not a version number" in problems(lab07.check_registered_version("1", run_id, aws))
    message = problems(lab07.check_registered_version(stack["plain_version"], run_id, aws))
    assert f"comes from run {stack['plain'][:8]}, not from the project run" in message
    version = stack["project_version"]
    renamed = type(version)(name="other-model", version=version.version, creation_timestamp=0)
    assert "not of 'lab07-churn'" in problems(lab07.check_registered_version(renamed, run_id, aws))
    missing = type(version)(name=lab07.MODEL_NAME, version="99", creation_timestamp=0)
    assert "the stack's registry has no version 99" in problems(
        lab07.check_registered_version(missing, run_id, aws)
    )


def test_checks_refuse_something_that_is_not_the_stack() -> None:
    run_id = "0" * 32
    assert "aws should be an AwsStack, not a dict" in problems(
        lab07.check_model_in_bucket(["k"], run_id, {"url": "x"})
    )
