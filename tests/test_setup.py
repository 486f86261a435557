"""What `make start` gives a student: JupyterLab serving the lessons with the kit's kernel."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import requests

from utils import servers

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "kit-test-token"


@pytest.mark.slow
def test_jupyterlab_serves_notebook_00_with_the_kit_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIT_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    port = servers.free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={ROOT}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    headers = {"Authorization": f"token {TOKEN}"}
    with servers.managed_process("jupyterlab", command, port, "/api", timeout=60) as lab:
        specs = requests.get(f"{lab.url}/api/kernelspecs", headers=headers, timeout=10).json()
        assert "mlflow-kit" in specs["kernelspecs"], "run `make setup`: the kit kernel is missing"
        notebook = requests.get(
            f"{lab.url}/api/contents/notebooks/00_welcome_and_setup.ipynb",
            headers=headers, timeout=10,
        ).json()  # fmt: skip
        assert notebook["content"]["metadata"]["kernelspec"]["name"] == "mlflow-kit"
        kernel = requests.post(
            f"{lab.url}/api/kernels", json={"name": "mlflow-kit"}, headers=headers, timeout=30
        ).json()
        assert kernel["name"] == "mlflow-kit"
        requests.delete(f"{lab.url}/api/kernels/{kernel['id']}", headers=headers, timeout=30)
        assert requests.get(f"{lab.url}/lab", headers=headers, timeout=10).status_code == 200


def test_makefile_start_opens_notebook_00() -> None:
    makefile = (ROOT / "Makefile").read_text()
    start = makefile.split("\nstart:", 1)[1].split("\n\n", 1)[0]
    assert "jupyter lab notebooks/00_welcome_and_setup.ipynb" in start
    assert (ROOT / "notebooks" / "00_welcome_and_setup.ipynb").exists()
