"""Where lab check results go: one run per lab in the student's experiment ``lab-results``.

Every call of a lab check (:mod:`utils.checks`) records its result in MLflow, in the
tracking store the notebook uses: on a laptop the kit's own store, on a class server
the student's own experiment ``<user>/lab-results`` there, so that nothing is lost if
the kernel dies and the instructor's gradebook (``make gradebook``) can read it. The run
of a lab is named after it (``lab03``) and holds, per task (``task_2`` for "Task 2 ·
..."):

- the metric ``task_2.score``: the points of each attempt, one value per attempt;
- the tags ``task_2.status`` (``passed``, ``failed`` or ``unfinished``), ``task_2.message``
  and ``task_2.points`` (what the task is worth), from the latest attempt;
- the artifact ``attempts/<time>-task_2.json``: the whole result of each attempt.

Saving never stops a check: if the tracking server does not answer, the check says so
in one line and its feedback stands. Introduced in notebook 00.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from utils import paths
from utils.environ import patched_environ
from utils.i18n import _
from utils.notebook import experiment_name_for, get_or_create_experiment

if TYPE_CHECKING:
    from utils.checks import Feedback

#: The experiment (per student on a class server) that holds the lab-results runs.
RESULTS_EXPERIMENT = "lab-results"
#: Set to ``off`` to record nothing in MLflow (the grader's own runs do).
OFF_ENV = "KIT_LAB_RESULTS"
#: The tag that marks a lab-results run with its lab id.
LAB_TAG = "kit.lab"
#: Seconds one request to a tracking server may take before saving gives up.
REQUEST_TIMEOUT = "10"

_runs: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class TaskResult:
    """What the lab-results run holds about one task.

    Attributes:
        lab: The lab id, e.g. ``"lab03"``.
        key: The task's key, e.g. ``"task_2"``.
        task: The task's label.
        status: The status of the latest attempt.
        message: The message of the latest attempt.
        points: What the task is worth.
        best_score: The most points any attempt earned.
        attempts: How many times the check ran.
        last_attempt: When it last ran (seconds since the epoch).
    """

    lab: str
    key: str
    task: str
    status: str
    message: str
    points: int
    best_score: float
    attempts: int
    last_attempt: float


def task_key(task: str) -> str:
    """Return the key of a task label: ``"Task 2 · Nested search"`` gives ``"task_2"``."""
    match = re.match(r"\s*task\s+(\d+)", task, re.IGNORECASE)
    if match:
        return f"task_{match.group(1)}"
    return re.sub(r"[^a-z0-9]+", "_", task.lower()).strip("_") or "task"


def experiment_name(user: str | None = None) -> str:
    """Return the name of the results experiment: ``lab-results`` or ``<user>/lab-results``."""
    return f"{user}/{RESULTS_EXPERIMENT}" if user else experiment_name_for(RESULTS_EXPERIMENT)


def _client() -> Any:
    import mlflow

    # The kit's store, even while a notebook points MLflow elsewhere (lab 07's stack).
    uri = paths.tracking_uri()
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def results_run_id(client: Any, lab: str) -> str:
    """Return the id of this student's lab-results run of ``lab``, creating it if needed."""
    name = experiment_name()
    cache_key = (client.tracking_uri, f"{name}:{lab}")
    if cache_key in _runs:
        return _runs[cache_key]
    experiment_id = get_or_create_experiment(client, name)
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{LAB_TAG}` = '{lab}'", max_results=1
    )
    if found:
        run_id = found[0].info.run_id
    else:
        run_id = client.create_run(experiment_id, tags={LAB_TAG: lab}, run_name=lab).info.run_id
    _runs[cache_key] = run_id
    return run_id


def save_attempt(feedback: Feedback) -> str | None:
    """Record one check result in the student's lab-results run.

    Args:
        feedback: The result of one check call.

    Returns:
        ``None`` when saved (or when saving is off), else a one-line note for the student.
    """
    if os.environ.get(OFF_ENV, "").lower() == "off":
        return None
    timeouts = {  # a server that does not answer costs the student seconds, not minutes
        var: os.environ.get(var, default)
        for var, default in (
            ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"),
            ("MLFLOW_HTTP_REQUEST_TIMEOUT", REQUEST_TIMEOUT),
        )
    }
    try:
        with patched_environ(timeouts):
            _save(feedback)
    except Exception as error:  # noqa: BLE001 - the feedback stands; the student is told
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        return _(
            "(This result was not saved in MLflow: {error}: {reason}. The feedback above "
            "is right; run the check again once the tracking server answers.)"
        ).format(error=type(error).__name__, reason=reason)
    return None


def _save(feedback: Feedback) -> None:
    """Write one attempt into the lab-results run (see the module docstring)."""
    from mlflow.entities import Metric, RunTag

    client = _client()
    run_id = results_run_id(client, feedback.lab)
    key = task_key(feedback.task)
    stamp = int(feedback.time * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(f"{key}.score", float(feedback.score), stamp, int(feedback.time))],
        tags=[
            RunTag(f"{key}.task", feedback.task),
            RunTag(f"{key}.status", feedback.status),
            RunTag(f"{key}.message", feedback.message[:4000]),
            RunTag(f"{key}.points", str(feedback.points)),
        ],
    )
    client.log_dict(run_id, feedback.as_record(), f"attempts/{stamp}-{key}.json")
    client.set_terminated(run_id, end_time=stamp)


def read_results(client: Any, user: str | None = None) -> dict[str, dict[str, TaskResult]]:
    """Read every lab-results run of a student.

    Args:
        client: An ``MlflowClient`` for the store (on a class server, the admin's).
        user: The student on a class server; ``None`` for this session's own results.

    Returns:
        ``{lab: {task key: TaskResult}}``; empty when the student has recorded nothing.
    """
    experiment = client.get_experiment_by_name(experiment_name(user))
    if experiment is None:
        return {}
    found: dict[str, dict[str, TaskResult]] = {}
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    for run in sorted(runs, key=lambda run: run.info.start_time):
        lab = run.data.tags.get(LAB_TAG)
        if not lab:
            continue
        tags = run.data.tags
        keys = sorted(tag[: -len(".status")] for tag in tags if tag.endswith(".status"))
        tasks = {}
        for key in keys:
            history = client.get_metric_history(run.info.run_id, f"{key}.score")
            tasks[key] = TaskResult(
                lab=lab,
                key=key,
                task=tags.get(f"{key}.task", key),
                status=tags[f"{key}.status"],
                message=tags.get(f"{key}.message", ""),
                points=int(tags.get(f"{key}.points", "0") or 0),
                best_score=max((m.value for m in history), default=0.0),
                attempts=len(history),
                last_attempt=max((m.timestamp for m in history), default=0) / 1000,
            )
        found[lab] = tasks
    return found


def last_attempt_text(seconds: float) -> str:
    """Format an attempt's time for a gradebook: ``2026-12-03 14:05 UTC``, or empty."""
    if not seconds:
        return ""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))
