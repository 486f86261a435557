"""The Pythons the kit supports: the README, the Makefile's guard and the package agree."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``make -C ROOT args``, as a student would type it.

    Variables given to an outer ``make`` (``make test PYTHON=python3.13``) reach the inner
    one through ``MAKEFLAGS`` and the environment; they are left out so that each call sees
    only its own.
    """
    outer = re.findall(r"(?:^|\s)([A-Za-z_]\w*)=", os.environ.get("MAKEFLAGS", ""))
    drop = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", *outer}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run(
        ["make", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60, env=env
    )


def makefile_versions() -> list[str]:
    match = re.search(r"^SUPPORTED_PYTHONS := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile lost its SUPPORTED_PYTHONS line"
    return match[1].split()


def readme_versions() -> list[str]:
    match = re.search(r"What you need: \*\*Python ([^*]+)\*\*", (ROOT / "README.md").read_text())
    assert match, "README's Quick start lost its 'What you need: **Python ...**'"
    return re.findall(r"3\.\d+", match[1])


def test_readme_and_makefile_name_the_same_pythons() -> None:
    assert readme_versions() == makefile_versions()
    assert len(makefile_versions()) >= 1


def test_the_package_and_the_environment_check_start_at_the_oldest_one() -> None:
    from utils import environment

    oldest = makefile_versions()[0]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'requires-python = ">={oldest}"' in pyproject
    assert f'target-version = "py{oldest.replace(".", "")}"' in pyproject
    assert ".".join(map(str, environment.MIN_PYTHON[:2])) == oldest


def fake_python(folder: Path, version: tuple[int, int]) -> Path:
    """A stand-in for a Python of ``version``: this Python, reporting another version."""
    path = folder / f"python{version[0]}.{version[1]}"
    patch = f"import sys; sys.version_info = ({version[0]}, {version[1]}, 0, 'final', 0)"
    path.write_text(
        f'#!/bin/sh\n[ "$1" = -c ] || exit 3\n'
        f'exec "{sys.executable}" -c "{patch}; exec(sys.argv[1])" "$2"\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize("version", [(3, 10), (3, 14)])
def test_setup_refuses_an_unsupported_python_and_names_the_supported_ones(
    tmp_path: Path, version: tuple[int, int]
) -> None:
    python = fake_python(tmp_path, version)
    venv = tmp_path / "venv"
    done = make("setup", f"PYTHON={python}", f"VENV={venv}")
    assert done.returncode != 0
    supported = ", ".join(makefile_versions())
    assert f"The kit supports Python {supported}; {python} is {version[0]}.{version[1]}" in (
        done.stderr
    )
    assert not venv.exists()


def test_a_named_python_gets_a_venv_of_its_version(tmp_path: Path) -> None:
    """`make ... PYTHON=python3.13` must not reuse a .venv made by another Python."""
    python = fake_python(tmp_path, (3, 10))
    done = make("-n", "test", f"PYTHON={python}")
    assert ".venv-3.10/bin/python -m pytest" in done.stdout
    default = make("-n", "-W", "requirements.txt", "test")
    assert "\n.venv/bin/python -m pytest" in default.stdout
    assert "test -d .venv ||" in default.stdout
