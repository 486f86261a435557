"""Automatic feedback for lab tasks: passed, failed (and why), or unfinished.

A lab's checks live in ``utils/labs/labNN.py``. Each is a function decorated with
:func:`task_check`; the student calls it after a task and reads specific feedback. A
check never shows a traceback: an answer of the wrong type, or one that makes the check
itself fail, becomes a clear message. Students leave ``...`` where an answer goes; a
check that receives ``...`` reports the task as unfinished. Introduced in notebook 00.

Example:
    >>> @task_check("lab00", "Task 1 · Churn rate", hint="Divide churners by customers.")
    ... def check_rate(fb: Feedback, rate: float) -> None:
    ...     if fb.expect_type(rate, float, "the churn rate"):
    ...         fb.expect(0 <= rate <= 1, "the rate is a share", f"{rate} is not in [0, 1]")
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

REPORT_ENV = "KIT_LAB_REPORT"
Status = Literal["passed", "failed", "unfinished"]
SYMBOLS: dict[str, str] = {"passed": "✅", "failed": "❌", "unfinished": "⏳"}

#: Every task label declared with :func:`task_check`, by lab id, in declaration order.
TASKS: dict[str, list[str]] = {}


@dataclass
class Feedback:
    """What a check found about one task.

    Attributes:
        lab: The lab id, e.g. ``"lab01"``.
        task: The task's label, e.g. ``"Task 2 · Decision threshold"``.
        hint: A short hint shown when the task is not passed.
        good: What is right, one sentence each.
        problems: What is wrong, one sentence each.
        unfinished: True when the answer is still ``...``.
    """

    lab: str
    task: str
    hint: str = ""
    good: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unfinished: bool = False

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

    def expect(self, condition: bool, good: str, problem: str) -> bool:
        """Record ``good`` when ``condition`` holds, else ``problem``; return ``condition``."""
        (self.good if condition else self.problems).append(good if condition else problem)
        return bool(condition)

    def expect_type(self, value: Any, types: type | tuple[type, ...], what: str) -> bool:
        """Expect ``value`` to be of ``types``; the message names the type received."""
        allowed = types if isinstance(types, tuple) else (types,)
        names = " or ".join(t.__name__ for t in allowed)
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        got = type(value).__name__
        return self.expect(
            ok, f"{what} is {_a(names)}", f"{what} should be {_a(names)}, not {_a(got)}"
        )

    def __str__(self) -> str:
        head = f"{SYMBOLS[self.status]} {self.task}: {self.status}"
        if self.unfinished:
            return f"{head}. Replace the `...` with your answer, run the cell, then this check."
        lines = [head]
        lines += [f"   ✔ {text}" for text in self.good]
        lines += [f"   ✘ {text}" for text in self.problems]
        if self.problems and self.hint:
            lines.append(f"   Hint: {self.hint}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def _a(noun: str) -> str:
    """Return ``noun`` with its indefinite article: ``"an int"``, ``"a float"``."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def is_unfinished(value: Any) -> bool:
    """Tell whether an answer is still the placeholder ``...``."""
    return value is Ellipsis


def record(feedback: Feedback) -> None:
    """Append the feedback to the file named by ``KIT_LAB_REPORT``, when it is set.

    The test harness reads that file to confirm that a lab's solution passes every
    check and that its student version reports every task as unfinished.
    """
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    entry = {
        "lab": feedback.lab,
        "task": feedback.task,
        "status": feedback.status,
        "problems": feedback.problems,
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def task_check(
    lab: str, task: str, hint: str = ""
) -> Callable[[Callable[..., None]], Callable[..., Feedback]]:
    """Turn ``func(fb, *answers)`` into a check that prints feedback and never raises.

    Args:
        lab: The lab id.
        task: The task's label, shown to the student.
        hint: A short hint shown when the task is not passed.

    Returns:
        A decorator. The decorated check returns the :class:`Feedback` (it also shows
        itself as a cell's output).
    """

    TASKS.setdefault(lab, [])
    if task not in TASKS[lab]:
        TASKS[lab].append(task)

    def decorate(func: Callable[..., None]) -> Callable[..., Feedback]:
        @functools.wraps(func)
        def run(*answers: Any, **named: Any) -> Feedback:
            fb = Feedback(lab, task, hint)
            if any(is_unfinished(a) for a in (*answers, *named.values())):
                fb.unfinished = True
            else:
                try:
                    func(fb, *answers, **named)
                except Exception as exc:  # noqa: BLE001 - a student sees a message instead
                    fb.problems.append(
                        f"checking your answer raised {type(exc).__name__}: {exc}. "
                        "Look at what your answer holds (its type and shape)."
                    )
            record(fb)
            return fb

        return run

    return decorate
