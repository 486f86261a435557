"""Registered model names that stay apart on a shared class server.

Experiments are per student on a class server (see
:func:`utils.notebook.experiment_name_for`); registered model names must be too, or
students would add versions to, and move the aliases of, each other's models. MLflow
refuses ``/`` and ``:`` in a registered model name, so the student's name is joined with
a dot. Introduced in notebook 10.
"""

from __future__ import annotations

import os
import re

#: Characters MLflow refuses in a registered model name.
FORBIDDEN = ("/", ":")


def model_name_for(base: str, user: str | None = None) -> str:
    """Return the registered model name to use for ``base`` in this session.

    Args:
        base: The model's name in the course, e.g. ``"lesson10-churn"``.
        user: The student whose model it is; by default the one of this session.

    Returns:
        ``base`` alone on the kit's local store, or ``"<user>.<base>"`` when
        ``MLFLOW_TRACKING_USERNAME`` is set (a class server), with any character MLflow
        refuses in the user name replaced by ``-``.

    Raises:
        ValueError: ``base`` is empty, not a string, or holds ``/`` or ``:``.
    """
    if not isinstance(base, str) or not base.strip():
        raise ValueError(
            f"a registered model name must be a non-empty string such as 'churn'; got {base!r}"
        )
    bad = [char for char in FORBIDDEN if char in base]
    if bad:
        raise ValueError(
            f"MLflow refuses {' and '.join(repr(c) for c in bad)} in a registered model name "
            f"({base!r}); use letters, digits, '-', '_' or '.'"
        )
    if user is None:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
    user = user.strip()
    if not user:
        return base
    return f"{re.sub(r'[/:]', '-', user)}.{base}"
