"""Grading that an instructor can trust: answers re-checked by the kit, and MLflow state.

A student's notebook can replace a check, patch it, or leave a variable set by a cell
that is gone; the feedback it printed proves nothing. So the grader (``make grade``,
:mod:`tools.grade`) re-executes each submission in a fresh kernel and, after every
task, runs a cell of its own that calls :func:`verify`: it loads a fresh copy of the
kit's checks from their files, so a check the notebook replaced or patched plays no
part, checks the task's answers with it, and prints one line that only the grader's
cell can produce (it carries a secret made for that run). For the tasks that leave
MLflow state (runs, models, aliases), each lab's ``grade_state`` grades the state
itself, after the run or on a class server (:func:`graded_experiment`), never a
variable. Student code still runs on the grader's machine: grade untrusted
submissions in an account or container of their own. Introduced in the instructor guide.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

#: What a line printed by :func:`verify` starts with.
MARKER = "KIT-GRADE"


def fresh_lab_module(lab: str) -> tuple[ModuleType, ModuleType]:
    """Load ``utils.labs.<lab>`` and ``utils.checks`` anew from their files.

    The notebook's own modules, patched or not, are put back afterwards: the fresh copy
    is only the grader's.

    Args:
        lab: The lab id, e.g. ``"lab03"``.

    Returns:
        The freshly loaded checks module of the lab, and the fresh ``utils.checks``.
    """
    names = ("utils.checks", "utils.results", f"utils.labs.{lab}")
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    try:
        return importlib.import_module(f"utils.labs.{lab}"), sys.modules["utils.checks"]
    finally:
        sys.modules.update(saved)
        for name, module in saved.items():  # the packages' attributes too
            parent, _, child = name.rpartition(".")
            setattr(sys.modules[parent], child, module)


def verify(
    lab: str,
    check: str,
    secret: str,
    answers: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]],
) -> dict[str, Any]:
    """Check one task's answers with a fresh copy of the kit's check; print the result.

    Args:
        lab: The lab id.
        check: The check's function name in ``utils/labs/<lab>.py``.
        secret: The grader's secret for this run, printed with the result.
        answers: Returns the positional and named answers, evaluated in the notebook.

    Returns:
        The result as plain data (see ``Feedback.as_record``).
    """
    module, checks = fresh_lab_module(lab)
    func = getattr(module, check)
    try:
        args, named = answers()
    except NameError as missing:
        feedback = checks.new_feedback(lab, func.task)
        feedback.problems.append(
            f"{missing}: the notebook no longer defines this answer when it runs from the "
            "top in a fresh kernel"
        )
    except Exception as error:  # noqa: BLE001 - becomes the task's message
        feedback = checks.new_feedback(lab, func.task)
        feedback.problems.append(f"computing the answers raised {type(error).__name__}: {error}")
    else:
        feedback = func.unrecorded(*args, **named)
    result = feedback.as_record()
    print(f"{MARKER} {secret} {json.dumps(result)}")
    return result


def read_verdicts(text: str, secret: str) -> list[dict[str, Any]]:
    """Return the results that :func:`verify` printed with ``secret`` in ``text``."""
    prefix = f"{MARKER} {secret} "
    return [
        json.loads(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)
    ]


@contextmanager
def graded_experiment(tracking_uri: str, experiment_id: str) -> Iterator[None]:
    """Point MLflow at a store and a student's experiment while a lab's state is graded.

    Args:
        tracking_uri: The store: a graded run's SQLite file or a class server.
        experiment_id: The student's lab experiment there.
    """
    import mlflow

    from utils.environ import patched_environ

    saved_uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        with patched_environ({"MLFLOW_EXPERIMENT_ID": experiment_id}):
            yield
    finally:
        mlflow.set_tracking_uri(saved_uri)


def grade_state(lab: str, experiment_id: str, user: str | None = None) -> list[Any]:
    """Grade a lab's state-leaving tasks from MLflow state (no notebook variable read).

    Args:
        lab: The lab id.
        experiment_id: The student's lab experiment (MLflow must point at its store).
        user: The student on a class server; ``None`` locally.

    Returns:
        One ``Feedback`` per task the lab grades from state; empty for labs without any.
    """
    module = importlib.import_module(f"utils.labs.{lab}")
    grade = getattr(module, "grade_state", None)
    return list(grade(experiment_id, user)) if grade is not None else []


def state_tasks(lab: str) -> tuple[str, ...]:
    """Return the labels of the tasks ``lab`` grades from MLflow state."""
    return tuple(getattr(importlib.import_module(f"utils.labs.{lab}"), "STATE_TASKS", ()))


def best_of(lab: str, task: str, attempts: list[Callable[[Any], None]], missing: str) -> Any:
    """Grade ``task`` from the state: the first piece of evidence that passes, else the last.

    Args:
        lab: The lab id.
        task: The task's label.
        attempts: One function per candidate (a run, a model version), most recent first;
            each fills the ``Feedback`` it is given (usually a check's body).
        missing: What to say when there is no candidate at all.

    Returns:
        The ``Feedback`` of the task.
    """
    from utils.checks import evaluate, new_feedback

    feedback = new_feedback(lab, task)
    if not attempts:
        feedback.problems.append(missing)
        return feedback
    for attempt in attempts:
        feedback = evaluate(lambda fb, attempt=attempt: attempt(fb), new_feedback(lab, task))
        if feedback.passed:
            break
    return feedback
