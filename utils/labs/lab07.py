"""Checks of lab 07: an MLflow Project run against the local AWS-style stack (after notebook 15).

The lab starts :func:`utils.aws_stack.local_aws_stack` and gives the training script,
:data:`TRAIN_SCRIPT`. The student packages it as an MLflow Project (an ``MLproject`` file
and a ``python_env.yaml``), runs it with ``mlflow.projects.run`` against the stack's
tracking server, finds the logged model's files in the S3 bucket with boto3, and registers
the model. The checks read the stack itself: the run on its tracking server, the objects
in its bucket, the version in its registry. Introduced in lab 07.
"""

from __future__ import annotations

import re
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from utils.checks import Feedback, task_check
from utils.i18n import N_, _
from utils.registry import model_name_for

LAB = "lab07"
#: The registered model of the lab (prefixed with the student's name on a class server).
MODEL_NAME: str = model_name_for("lab07-churn")
#: The entry point the project must declare, and its parameters with their types.
ENTRY_POINT = "main"
PARAMETERS: dict[str, str] = {"start": "string", "end": "string", "C": "float"}
#: The parameters Task 2 runs the project with.
RUN_PARAMETERS: dict[str, Any] = {"start": "2025-01", "end": "2025-03", "C": 0.5}
#: The packages ``python_env.yaml`` must pin, at the versions of the kit's environment.
PINNED_PACKAGES: tuple[str, ...] = ("mlflow", "scikit-learn", "pandas")
#: Files every logged MLflow model holds.
MODEL_FILES: tuple[str, ...] = ("MLmodel", "model.skops", "python_env.yaml", "requirements.txt")

#: The training script the project runs (the lab writes it as ``train.py``).
TRAIN_SCRIPT = '''\
"""Train the churn model on a range of months, validate it on the next month, log it."""

import argparse

import mlflow
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from utils.data import load_months
from utils.features import NUMERIC, SKOPS_TRUSTED_TYPES, build_model, split_features
from utils.monitoring import add_months


def model_input(frame):
    X, y = split_features(frame)
    return X.astype({column: "float64" for column in NUMERIC}), y


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--start", required=True, help="first training month, e.g. 2025-01")
parser.add_argument("--end", required=True, help="last training month, e.g. 2025-03")
parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
args = parser.parse_args()

validation_month = add_months(args.end, 1)
X_train, y_train = model_input(load_months(args.start, args.end))
X_val, y_val = model_input(load_months(validation_month, validation_month))
model = build_model(LogisticRegression(C=args.C, max_iter=1000)).fit(X_train, y_train)
val_roc_auc = roc_auc_score(y_val, model.predict_proba(X_val)[:, 1])

with mlflow.start_run() as run:  # the run that mlflow.projects.run created
    mlflow.log_params({"start": args.start, "end": args.end, "C": args.C})
    mlflow.log_param("validation_month", validation_month)
    mlflow.log_metric("val_roc_auc", val_roc_auc)
    example = X_train.head(5)
    mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(example, model.predict_proba(example)),
        input_example=example,
        pyfunc_predict_fn="predict_proba",
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"],
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
    )
print(f"train.py: run {run.info.run_id}, val_roc_auc={val_roc_auc:.3f}")
'''

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def write_training_script(folder: Path) -> Path:
    """Write :data:`TRAIN_SCRIPT` as ``train.py`` into ``folder`` (created if needed).

    Args:
        folder: The project folder.

    Returns:
        The path of ``train.py``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.py"
    path.write_text(TRAIN_SCRIPT, encoding="utf-8")
    return path


# --- Task 1 -------------------------------------------------------------------------------


def _load_yaml(fb: Feedback, text: str, what: str) -> Any | None:
    """Parse ``text`` as YAML, or record where it breaks."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if mark is not None:
            message = _(
                "{what} is not valid YAML at line {line}: {problem}. Indent with spaces, "
                "two per level, and put a space after every ':'"
            )
        else:
            message = _(
                "{what} is not valid YAML: {problem}. Indent with spaces, "
                "two per level, and put a space after every ':'"
            )
        fb.problems.append(
            message.format(
                what=what, line=mark.line + 1 if mark is not None else "", problem=problem
            )
        )
        return None


def _check_parameters(fb: Feedback, declared: Any) -> None:
    """The entry point declares :data:`PARAMETERS` with their types."""
    if not isinstance(declared, dict) or not declared:
        fb.problems.append(
            _("the entry point '{entry}' declares no parameters: add {parameters}").format(
                entry=ENTRY_POINT,
                parameters=", ".join(f"{name} ({kind})" for name, kind in PARAMETERS.items()),
            )
        )
        return
    for name, kind in PARAMETERS.items():
        if name not in declared:
            close = [other for other in declared if other.lower() == name.lower()]
            if close:
                text = _(
                    "the parameter '{name}' ({kind}) is missing ('{close}' is not '{name}': "
                    "names are case-sensitive)"
                )
            else:
                text = _("the parameter '{name}' ({kind}) is missing")
            fb.problems.append(text.format(name=name, kind=kind, close=close[0] if close else ""))
            continue
        spec = declared[name]
        got = spec.get("type", "string") if isinstance(spec, dict) else spec
        if got != kind:
            if kind == "float":
                text = _(
                    "the parameter '{name}' has type '{got}', not '{kind}'; with 'string', "
                    "MLflow would pass any text and train.py would fail later"
                )
            else:
                text = _("the parameter '{name}' has type '{got}', not '{kind}'")
            fb.problems.append(text.format(name=name, got=got, kind=kind))
    if all(name in declared for name in PARAMETERS):
        fb.good.append(
            _("the entry point declares {parameters}").format(
                parameters=", ".join(f"{n}: {k}" for n, k in PARAMETERS.items())
            )
        )


def _check_command(fb: Feedback, command: Any) -> None:
    """The command runs train.py and hands every parameter to its flag."""
    if not isinstance(command, str) or not command.strip():
        fb.problems.append(
            _(
                "the entry point '{entry}' has no command: "
                'command: "python train.py --start {{start}} --end {{end}} --C {{C}}"'
            ).format(entry=ENTRY_POINT)
        )
        return
    if not re.search(r"\bpython3?\s+train\.py\b", command):
        fb.problems.append(
            _("the command '{command}' does not run `python train.py`").format(command=command)
        )
        return
    missing = [
        f"--{name} {{{name}}}"
        for name in PARAMETERS
        if not re.search(rf"--{name}[\s=]+\{{{name}\}}", command)
    ]
    fb.expect(
        not missing,
        _("the command runs train.py with every parameter"),
        _(
            "the command does not pass {missing}: train.py reads --start, --end and "
            "--C, and MLflow fills in {{name}} with each parameter's value"
        ).format(missing=", ".join(missing)),
    )


def _check_python_env(fb: Feedback, text: str) -> None:
    """python_env.yaml names the Python version and pins the kit's packages."""
    import sys

    env = _load_yaml(fb, text, "python_env.yaml")
    if env is None:
        return
    if not isinstance(env, dict):
        fb.problems.append(
            _("python_env.yaml should be a mapping with keys python and dependencies")
        )
        return
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    python = env.get("python")
    if python is None:
        fb.problems.append(
            _('python_env.yaml has no `python:` version: add python: "{running}"').format(
                running=running
            )
        )
    elif isinstance(python, float):
        fb.problems.append(
            _(
                'write the Python version in quotes, python: "{python}": YAML reads an '
                "unquoted 3.10 as the number 3.1"
            ).format(python=python)
        )
    elif not str(python).startswith(running):
        fb.problems.append(
            _("python_env.yaml asks for Python {python}; the kit runs {running}").format(
                python=python, running=running
            )
        )
    else:
        fb.good.append(_("python_env.yaml asks for Python {python}").format(python=python))
    dependencies = env.get("dependencies") or []
    if not isinstance(dependencies, list):
        fb.problems.append(_("`dependencies:` in python_env.yaml should be a list of pins"))
        return
    pins = {}
    for line in map(str, dependencies):
        name, _sep, pinned = line.partition("==")
        pins[name.strip().lower()] = pinned.strip()
    wrong = []
    for package in PINNED_PACKAGES:
        wanted = installed_version(package)
        if pins.get(package) != wanted:
            wrong.append(f"{package}=={wanted}")
    fb.expect(
        not wrong,
        _("python_env.yaml pins mlflow, scikit-learn and pandas at the kit's versions"),
        _(
            "python_env.yaml should pin {pins} (the versions of the kit's "
            "environment, so that the project rebuilds the same one)"
        ).format(pins=", ".join(wrong)),
    )


@task_check(
    LAB,
    N_("Task 1 · Package the training as a project"),
    points=3,
    hint=N_(
        "MLproject: `name: ...`, `python_env: python_env.yaml`, then entry_points: main: "
        "parameters: start/end (string), C (float), command: "
        '"python train.py --start {start} --end {end} --C {C}".'
    ),
)
def check_project(fb: Feedback, project_dir: Any, mlproject: Any, python_env: Any) -> None:
    """The folder holds train.py, MLproject and python_env.yaml, and they fit together."""
    if not fb.expect_type(project_dir, (Path, str), "project_dir"):
        return
    if not fb.expect_type(mlproject, str, "MLPROJECT") or not fb.expect_type(
        python_env, str, "PYTHON_ENV"
    ):
        return
    folder = Path(project_dir)
    if not fb.expect(
        (folder / "train.py").is_file(),
        _("the folder {folder}/ holds train.py").format(folder=folder.name),
        _("{folder} holds no train.py: run the setup cell, which writes it").format(folder=folder),
    ):
        return
    for name, text in (("MLproject", mlproject), ("python_env.yaml", python_env)):
        path = folder / name
        if not path.is_file():
            fb.problems.append(
                _("{folder}/ holds no file `{name}`: run the cell that writes it").format(
                    folder=folder.name, name=name
                )
            )
            return
        if path.read_text(encoding="utf-8") != text:
            fb.problems.append(
                _(
                    "{folder}/{name} differs from your text: run the cell that writes it again"
                ).format(folder=folder.name, name=name)
            )
            return
    spec = _load_yaml(fb, mlproject, "MLproject")
    if spec is None:
        return
    if not isinstance(spec, dict):
        fb.problems.append(
            _("MLproject should be a mapping with keys name, python_env, entry_points")
        )
        return
    fb.expect(
        bool(spec.get("name")),
        _("the project is named '{name}'").format(name=spec.get("name")),
        _("MLproject has no `name:`"),
    )
    env_file = spec.get("python_env")
    if env_file is None:
        other = [key for key in ("conda_env", "docker_env") if key in spec]
        if other:
            text = _(
                "MLproject should say `python_env: python_env.yaml` instead of {other} (this "
                "lab runs without conda or Docker)"
            )
        else:
            text = _("MLproject should say `python_env: python_env.yaml`")
        fb.problems.append(text.format(other=other[0] if other else ""))
    else:
        fb.expect(
            (folder / str(env_file)).is_file(),
            _("python_env points at {file}, which exists").format(file=env_file),
            _("python_env points at {file}, which is not in {folder}/").format(
                file=env_file, folder=folder.name
            ),
        )
    entry_points = spec.get("entry_points")
    if not isinstance(entry_points, dict) or ENTRY_POINT not in entry_points:
        found = sorted(entry_points) if isinstance(entry_points, dict) else []
        if found:
            text = _(
                "MLproject has no entry point '{entry}' under `entry_points:` (it has {found})"
            )
        else:
            text = _("MLproject has no entry point '{entry}' under `entry_points:`")
        fb.problems.append(text.format(entry=ENTRY_POINT, found=found))
    else:
        entry = entry_points[ENTRY_POINT] or {}
        _check_parameters(fb, entry.get("parameters"))
        _check_command(fb, entry.get("command"))
    _check_python_env(fb, python_env)


# --- Reading the stack --------------------------------------------------------------------


def _client(stack: Any) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=stack.tracking_url, registry_uri=stack.tracking_url)


def _current_experiment_id() -> str | None:
    """Return the experiment the notebook selected (``mlflow.set_experiment`` records it)."""
    from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID

    return MLFLOW_EXPERIMENT_ID.get()


def _expect_stack(fb: Feedback, stack: Any) -> bool:
    """Expect the lab's stack object (what ``local_aws_stack`` yields)."""
    from utils.aws_stack import AwsStack

    return fb.expect_type(stack, AwsStack, "aws")


def _expect_run_id(fb: Feedback, run_id: Any) -> bool:
    if not fb.expect_type(run_id, str, "run_id"):
        if hasattr(run_id, "run_id"):
            fb.problems.append(_("pass the run's id, submitted.run_id, not the submitted run"))
        return False
    return fb.expect(
        bool(_RUN_ID.match(run_id)),
        _("run_id looks like a run id"),
        _("'{run_id}' is not a run id (32 hexadecimal characters): use submitted.run_id").format(
            run_id=run_id
        ),
    )


def _project_run(fb: Feedback, run_id: str, stack: Any) -> Any | None:
    """Return the run from the stack's tracking server, or say where it went instead."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return _client(stack).get_run(run_id)
    except MlflowException:
        pass
    text = _(
        "the stack's tracking server ({url}) has no run {run_id}. "
        "Point MLflow at the stack first: mlflow.set_tracking_uri(aws.tracking_url)"
    )
    current = mlflow.get_tracking_uri()
    if current != stack.tracking_url:
        try:
            mlflow.MlflowClient(tracking_uri=current).get_run(run_id)
            text = _(
                "the stack's tracking server ({url}) has no run {run_id}. It is in {uri}, not "
                "on the stack. Point MLflow at the stack first: "
                "mlflow.set_tracking_uri(aws.tracking_url)"
            )
        except MlflowException:
            pass
    fb.problems.append(text.format(url=stack.tracking_url, run_id=run_id, uri=current))
    return None


# --- Task 2 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 2 · Run the project on the stack"),
    points=3,
    hint=N_(
        "submitted = mlflow.projects.run(str(project_dir), entry_point='main', "
        "parameters=RUN_PARAMETERS, experiment_id=experiment_id, env_manager='local'); "
        "run_id = submitted.run_id"
    ),
)
def check_project_run(fb: Feedback, run_id: Any, stack: Any) -> None:
    """The run is on the stack, finished, in this lab's experiment, a project run with the
    expected parameters and metric."""
    if not _expect_stack(fb, stack) or not _expect_run_id(fb, run_id):
        return
    run = _project_run(fb, run_id, stack)
    if run is None:
        return
    fb.good.append(_("the run is on the stack's tracking server"))
    status = run.info.status
    if not fb.expect(
        status == "FINISHED",
        _("the run finished"),
        _(
            "the run is {status}, not FINISHED: read the output of the cell for the error "
            "train.py raised"
        ).format(status=status),
    ):
        return
    current = _current_experiment_id()
    if current is not None:
        fb.expect(
            run.info.experiment_id == current,
            _("the run belongs to this lab's experiment"),
            _(
                "the run belongs to experiment {experiment}, not to this lab's ({current}): "
                "pass experiment_id=experiment_id to mlflow.projects.run"
            ).format(experiment=run.info.experiment_id, current=current),
        )
    tags = run.data.tags
    if not fb.expect(
        tags.get("mlflow.source.type") == "PROJECT",
        _("MLflow Projects started it (mlflow.source.type = PROJECT)"),
        _(
            "the run was not started as a project: run it with mlflow.projects.run, not by "
            "running train.py yourself"
        ),
    ):
        return
    entry = tags.get("mlflow.project.entryPoint")
    fb.expect(
        entry == ENTRY_POINT,
        _("it ran the entry point '{entry}'").format(entry=ENTRY_POINT),
        _("it ran the entry point '{entry}', not '{expected}'").format(
            entry=entry, expected=ENTRY_POINT
        ),
    )
    params = run.data.params
    wrong = [
        _("{name}={value} (expected {expected})").format(
            name=name, value=params.get(name, _("(missing)")), expected=value
        )
        for name, value in RUN_PARAMETERS.items()
        if params.get(name) != str(value)
    ]
    fb.expect(
        not wrong,
        _("it ran with {parameters}").format(
            parameters=", ".join(f"{n}={v}" for n, v in RUN_PARAMETERS.items())
        ),
        _("it ran with {wrong}: pass parameters=RUN_PARAMETERS").format(wrong=", ".join(wrong)),
    )
    auc = run.data.metrics.get("val_roc_auc")
    fb.expect(
        auc is not None and 0.6 < auc < 1,
        _("it logged val_roc_auc = {auc}").format(auc=auc if auc is None else round(auc, 3)),
        _(
            "the metric val_roc_auc is {auc}: train.py should have logged it between 0.6 and 1"
        ).format(auc=auc),
    )


# --- Task 3 -------------------------------------------------------------------------------


def _logged_model(fb: Feedback, run: Any, stack: Any) -> Any | None:
    models = _client(stack).search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    if not models:
        fb.problems.append(_("the run {run} logged no model").format(run=run.info.run_id[:8]))
        return None
    return models[0]


def model_prefix(artifact_location: str) -> str:
    """Return the S3 prefix of an artifact location the stack's server stores.

    Args:
        artifact_location: An ``mlflow-artifacts:/...`` URI.

    Returns:
        ``mlflow/<path>``: the key prefix under the bucket's ``mlflow/`` folder.
    """
    from utils.aws_stack import ARTIFACTS_PREFIX

    path = artifact_location.removeprefix("mlflow-artifacts:/").strip("/")
    return f"{ARTIFACTS_PREFIX}/{path}"


@task_check(
    LAB,
    N_("Task 3 · Find the model in the bucket"),
    points=2,
    hint=N_(
        "The model's files live under mlflow/ + model.artifact_location without "
        "'mlflow-artifacts:/'; list them with s3.list_objects_v2(Bucket=aws.bucket, Prefix=...)."
    ),
)
def check_model_in_bucket(fb: Feedback, model_keys: Any, run_id: Any, stack: Any) -> None:
    """The keys are the logged model's files, all of them, and they are in the bucket."""
    if not _expect_stack(fb, stack) or not _expect_run_id(fb, run_id):
        return
    if isinstance(model_keys, dict) and "Contents" in model_keys:
        fb.problems.append(
            _(
                "model_keys holds the whole answer of list_objects_v2: keep the keys, "
                "[item['Key'] for item in listing['Contents']]"
            )
        )
        return
    if not fb.expect_type(model_keys, (list, tuple, set), "model_keys"):
        return
    keys = list(model_keys)
    if not keys or not all(isinstance(key, str) for key in keys):
        fb.problems.append(_("model_keys should be a non-empty list of S3 keys (strings)"))
        return
    run = _project_run(fb, run_id, stack)
    if run is None:
        return
    model = _logged_model(fb, run, stack)
    if model is None:
        return
    prefix = model_prefix(model.artifact_location) + "/"
    listing = stack.s3_client().list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    in_bucket = {item["Key"] for item in listing.get("Contents", [])}
    strangers = [key for key in keys if not key.startswith(prefix)]
    if strangers:
        run_path = f"/{run.info.run_id}/artifacts/"
        if any(run_path in key for key in strangers):
            text = _(
                "{count} key(s) are not under the model's prefix {prefix}, e.g. {key} (those "
                "are the run's own artifacts; since MLflow 3 a logged model lives under "
                "<experiment>/models/<model id>/artifacts)"
            )
        else:
            text = _("{count} key(s) are not under the model's prefix {prefix}, e.g. {key}")
        fb.problems.append(text.format(count=len(strangers), prefix=prefix, key=strangers[0]))
        return
    fb.good.append(_("every key is under the model's prefix {prefix}").format(prefix=prefix))
    absent = [key for key in keys if key not in in_bucket]
    if absent:
        fb.problems.append(
            _("{key} is not in the bucket {bucket}: copy the keys exactly").format(
                key=absent[0], bucket=stack.bucket
            )
        )
        return
    missing = sorted(in_bucket - set(keys))
    fb.expect(
        not missing,
        _("all {count} files of the model are listed").format(count=len(in_bucket)),
        _("you listed {count} of the model's {total} files; missing: {missing}").format(
            count=len(keys),
            total=len(in_bucket),
            missing=", ".join(key.removeprefix(prefix) for key in missing),
        ),
    )
    names = {key.removeprefix(prefix) for key in keys}
    lacking = [name for name in MODEL_FILES if name not in names]
    fb.expect(
        not lacking,
        _("they include MLmodel, the model file and its environment"),
        _("an MLflow model should hold {files}: list the whole model folder").format(
            files=", ".join(lacking)
        ),
    )


# --- Task 4 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 4 · Register the model"),
    points=2,
    hint=N_(
        "version = mlflow.register_model(model.model_uri, MODEL_NAME), with MLflow "
        "pointed at the stack."
    ),
)
def check_registered_version(fb: Feedback, version: Any, run_id: Any, stack: Any) -> None:
    """The stack's registry has a version of :data:`MODEL_NAME` whose source run is the
    project run."""
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.exceptions import MlflowException

    if not _expect_stack(fb, stack) or not _expect_run_id(fb, run_id):
        return
    if not fb.expect_type(version, ModelVersion, "version"):
        if isinstance(version, str | int):
            fb.problems.append(_("pass what mlflow.register_model returns, not a version number"))
        return
    if not fb.expect(
        version.name == MODEL_NAME,
        _("it is a version of '{name}'").format(name=MODEL_NAME),
        _("it is a version of '{got}', not of '{name}': register under MODEL_NAME").format(
            got=version.name, name=MODEL_NAME
        ),
    ):
        return
    client = _client(stack)
    try:
        stored = client.get_model_version(MODEL_NAME, str(version.version))
    except MlflowException:
        fb.problems.append(
            _(
                "the stack's registry has no version {version} of '{name}': "
                "register it while MLflow points at the stack "
                "(mlflow.set_tracking_uri(aws.tracking_url))"
            ).format(version=version.version, name=MODEL_NAME)
        )
        return
    fb.good.append(
        _("the stack's registry holds '{name}' version {version}").format(
            name=MODEL_NAME, version=stored.version
        )
    )
    fb.expect(
        stored.run_id == run_id,
        _("its source run is the project run"),
        _(
            "version {version} comes from run {run}, not from the project run {project}: "
            "register the model that run logged"
        ).format(version=stored.version, run=str(stored.run_id)[:8], project=run_id[:8]),
    )
    listed = {v.version for v in client.search_model_versions(f"name = '{MODEL_NAME}'")}
    fb.expect(
        str(stored.version) in {str(v) for v in listed},
        _("the registered model lists this version"),
        _("'{name}' does not list version {version}").format(
            name=MODEL_NAME, version=stored.version
        ),
    )
