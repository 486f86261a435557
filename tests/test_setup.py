"""What `make start` gives a student: JupyterLab serving the lessons with the kit's kernel."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_jupyterlab_serves_notebook_00_with_the_kit_kernel(jupyter_lab: tuple[str, str]) -> None:
    url, token = jupyter_lab
    headers = {"Authorization": f"token {token}"}
    specs = requests.get(f"{url}/api/kernelspecs", headers=headers, timeout=10).json()
    assert "mlflow-kit" in specs["kernelspecs"], "run `make setup`: the kit kernel is missing"
    notebook = requests.get(
        f"{url}/api/contents/notebooks/00_welcome_and_setup.ipynb", headers=headers, timeout=10
    ).json()
    assert notebook["content"]["metadata"]["kernelspec"]["name"] == "mlflow-kit"
    kernel = requests.post(
        f"{url}/api/kernels", json={"name": "mlflow-kit"}, headers=headers, timeout=30
    ).json()
    assert kernel["name"] == "mlflow-kit"
    requests.delete(f"{url}/api/kernels/{kernel['id']}", headers=headers, timeout=30)
    assert requests.get(f"{url}/lab", headers=headers, timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("lang", "notebook"),
    [
        ("en", "notebooks/00_welcome_and_setup.ipynb"),
        ("es", "notebooks/es/00_welcome_and_setup.ipynb"),
    ],
)
def test_makefile_start_opens_notebook_00_in_the_chosen_language(lang: str, notebook: str) -> None:
    dry_run = subprocess.run(
        ["make", "-n", "--always-make", "-o", ".venv/.kit-installed", "start", f"KIT_LANG={lang}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    command = [line for line in dry_run.stdout.splitlines() if "jupyter lab" in line]
    assert command and f"KIT_LANG={lang} " in command[0] and f" {notebook} " in command[0]
    assert (ROOT / notebook).exists()
