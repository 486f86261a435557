"""Automatic feedback for lab tasks: passed, failed (and why), or unfinished.

A lab's checks live in ``utils/labs/labNN.py``. Each is a function decorated with
:func:`task_check`; the student calls it after a task and reads specific feedback. A
check never shows a traceback: an answer of the wrong type, or one that makes the check
itself fail, becomes a clear message. Students leave ``...`` where an answer goes; a
check that receives ``...`` reports the task as unfinished. Each task is worth points
(the lab README's grading table); a check scores them only when the task passes, and
every result is recorded (see :func:`record` and :mod:`utils.results`). Introduced in
notebook 00.

Example:
    >>> @task_check("lab00", "Task 1 · Churn rate", points=2, hint="Divide churners by customers.")
    ... def check_rate(fb: Feedback, rate: float) -> None:
    ...     if fb.expect_type(rate, float, "the churn rate"):
    ...         fb.expect(0 <= rate <= 1, "the rate is a share", f"{rate} is not in [0, 1]")
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from utils.i18n import _, with_article

REPORT_ENV = "KIT_LAB_REPORT"
Status = Literal["passed", "failed", "unfinished"]
SYMBOLS: dict[str, str] = {"passed": "✅", "failed": "❌", "unfinished": "⏳"}

#: Every task label declared with :func:`task_check`, by lab id, in declaration order.
TASKS: dict[str, list[str]] = {}
#: The points each task is worth, by lab id and task label.
POINTS: dict[str, dict[str, int]] = {}
#: The hint of each task, by lab id and task label.
HINTS: dict[str, dict[str, str]] = {}


@dataclass
class Feedback:
    """What a check found about one task.

    Attributes:
        lab: The lab id, e.g. ``"lab01"``.
        task: The task's label, e.g. ``"Task 2 · Decision threshold"``.
        hint: A short hint shown when the task is not passed.
        points: What the task is worth when it passes.
        good: What is right, one sentence each.
        problems: What is wrong, one sentence each.
        unfinished: True when the answer is still ``...``.
        time: When the check ran (seconds since the epoch).
    """

    lab: str
    task: str
    hint: str = ""
    points: int = 0
    good: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unfinished: bool = False
    time: float = field(default_factory=time.time)

    @property
    def status(self) -> Status:
        """``"unfinished"``, ``"failed"`` or ``"passed"``."""
        if self.unfinished:
            return "unfinished"
        return "failed" if self.problems else "passed"

    @property
    def passed(self) -> bool:
        """True when the task is done and every expectation holds."""
        return self.status == "passed"

    @property
    def score(self) -> int:
        """The points earned: all of :attr:`points` when passed, else 0."""
        return self.points if self.passed else 0

    @property
    def message(self) -> str:
        """One line for a gradebook: the first problem, or what the status means."""
        if self.unfinished:
            return _("unfinished: the answer is still `...`")
        return self.problems[0] if self.problems else _("every expectation holds")

    def as_record(self) -> dict[str, Any]:
        """Return the result as plain data (JSON-ready), as it is recorded."""
        return {
            "lab": self.lab,
            "task": self.task,
            "status": self.status,
            "points": self.points,
            "score": self.score,
            "message": self.message,
            "problems": list(self.problems),
            "time": self.time,
        }

    def expect(self, condition: bool, good: str, problem: str) -> bool:
        """Record ``good`` when ``condition`` holds, else ``problem``; return ``condition``."""
        (self.good if condition else self.problems).append(good if condition else problem)
        return bool(condition)

    def expect_type(self, value: Any, types: type | tuple[type, ...], what: str) -> bool:
        """Expect ``value`` to be of ``types``; the message names the type received."""
        allowed = types if isinstance(types, tuple) else (types,)
        names = _(" or ").join(t.__name__ for t in allowed)
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        got = type(value).__name__
        return self.expect(
            ok,
            _("{what} is {a_type}").format(what=what, a_type=with_article(names)),
            _("{what} should be {a_type}, not {a_got}").format(
                what=what, a_type=with_article(names), a_got=with_article(got)
            ),
        )

    def __str__(self) -> str:
        status = {"passed": _("passed"), "failed": _("failed"), "unfinished": _("unfinished")}
        # The task's label and hint are marked N_ where the lab declares them, and shown
        # in the student's language here; records and gradebooks keep the English label.
        head = f"{SYMBOLS[self.status]} {_(self.task)}: {status[self.status]}"
        if self.points:
            head += " " + _("({score}/{points} points)").format(
                score=self.score, points=self.points
            )
        if self.unfinished:
            return (
                head
                + ". "
                + _("Replace the `...` with your answer, run the cell, then this check.")
            )
        lines = [head]
        lines += [f"   ✔ {text}" for text in self.good]
        lines += [f"   ✘ {text}" for text in self.problems]
        if self.problems and self.hint:
            lines.append("   " + _("Hint: {hint}").format(hint=_(self.hint)))
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def is_unfinished(value: Any) -> bool:
    """Tell whether an answer is still the placeholder ``...``."""
    return value is Ellipsis


def record(feedback: Feedback) -> str | None:
    """Record a check's result: in MLflow, and in the file named by ``KIT_LAB_REPORT``.

    The result goes to the student's lab-results run in the tracking store (on a class
    server, the instructor's gradebook reads it; see :mod:`utils.results`). The test
    harness reads the report file to confirm that a lab's solution passes every check
    and that its student version reports every task as unfinished.

    Returns:
        ``None``, or a one-line note when the result could not be saved in MLflow.
    """
    from utils import results

    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(feedback.as_record()) + "\n")
    return results.save_attempt(feedback)


def evaluate(
    func: Callable[..., None], feedback: Feedback, *answers: Any, **named: Any
) -> Feedback:
    """Run a check's body on the answers, turning ``...`` and any exception into feedback.

    Args:
        func: The undecorated check, ``func(fb, *answers, **named)``.
        feedback: An empty :class:`Feedback` for the task.
        *answers: The student's answers.
        **named: Answers passed by name.

    Returns:
        ``feedback``, filled in. Nothing is recorded.
    """
    if any(is_unfinished(a) for a in (*answers, *named.values())):
        feedback.unfinished = True
        return feedback
    try:
        func(feedback, *answers, **named)
    except Exception as exc:  # noqa: BLE001 - a student sees a message instead
        feedback.problems.append(
            _(
                "checking your answer raised {error}: {message}. "
                "Look at what your answer holds (its type and shape)."
            ).format(error=type(exc).__name__, message=exc)
        )
    return feedback


def new_feedback(lab: str, task: str) -> Feedback:
    """Return an empty :class:`Feedback` for a declared task, with its hint and points."""
    return Feedback(lab, task, HINTS.get(lab, {}).get(task, ""), POINTS[lab][task])


def task_check(
    lab: str, task: str, points: int, hint: str = ""
) -> Callable[[Callable[..., None]], Callable[..., Feedback]]:
    """Turn ``func(fb, *answers)`` into a check that prints feedback and never raises.

    Args:
        lab: The lab id.
        task: The task's label, shown to the student.
        points: What the task is worth when it passes.
        hint: A short hint shown when the task is not passed.

    Returns:
        A decorator. The decorated check returns the :class:`Feedback` (it also shows
        itself as a cell's output) and records it. Its attributes ``lab`` and ``task``
        name the task, and ``unrecorded(*answers)`` runs it without recording.
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise ValueError(f"{lab} {task!r}: points must be a whole number of at least 1")
    TASKS.setdefault(lab, [])
    if task not in TASKS[lab]:
        TASKS[lab].append(task)
    POINTS.setdefault(lab, {})[task] = points
    HINTS.setdefault(lab, {})[task] = hint

    def decorate(func: Callable[..., None]) -> Callable[..., Feedback]:
        def unrecorded(*answers: Any, **named: Any) -> Feedback:
            return evaluate(func, Feedback(lab, task, hint, points), *answers, **named)

        @functools.wraps(func)
        def run(*answers: Any, **named: Any) -> Feedback:
            fb = unrecorded(*answers, **named)
            note = record(fb)
            if note:
                print(note)
            return fb

        run.lab, run.task, run.unrecorded = lab, task, unrecorded  # type: ignore[attr-defined]
        return run

    return decorate
