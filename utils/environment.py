"""Check that the running kernel has what the kit needs. Introduced in notebook 00."""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

from utils import paths

MIN_PYTHON = (3, 11)
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s#;]+)")
FIX = "Run `make setup` in a terminal at the kit's root, then restart the kernel."
#: Names another requirements file to check against. ``make test-latest`` points it at the
#: versions it installed, so lesson 00 checks that environment against what it was built
#: from; students never set it.
REQUIREMENTS_ENV = "KIT_REQUIREMENTS"


def requirements_file() -> Path:
    """Return the requirements file the environment is checked against."""
    other = os.environ.get(REQUIREMENTS_ENV, "").strip()
    return Path(other) if other else paths.repo_root() / "requirements.txt"


def pinned_requirements() -> dict[str, str]:
    """Return ``{package: version}`` for every exact pin in :func:`requirements_file`."""
    pins = {}
    for line in requirements_file().read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def installed_version(package: str) -> str | None:
    """Return the installed version of ``package``, or ``None`` when it is missing."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_environment() -> pd.DataFrame:
    """Compare the installed packages with the pinned ones.

    Returns:
        One row per pinned package: ``package``, ``required``, ``installed`` and ``ok``.
    """
    rows = []
    for package, required in pinned_requirements().items():
        installed = installed_version(package)
        rows.append(
            {
                "package": package,
                "required": required,
                "installed": installed or "missing",
                "ok": installed == required,
            }
        )
    return pd.DataFrame(rows)


def environment_problems(table: pd.DataFrame) -> list[str]:
    """Return what is wrong with the environment, each with what to do about it."""
    problems = []
    if sys.version_info < MIN_PYTHON:
        found = ".".join(map(str, sys.version_info[:3]))
        problems.append(f"Python {found} is too old: the kit needs 3.11 or newer.")
    for row in table[~table["ok"]].itertuples():
        problems.append(f"{row.package}: needs {row.required}, found {row.installed}. {FIX}")
    return problems


def in_kit_environment() -> bool:
    """Tell whether this kernel runs in the kit's own virtual environment (``.venv``)."""
    return Path(sys.prefix).resolve() == (paths.repo_root() / ".venv").resolve()
