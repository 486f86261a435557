"""The files a course repository is expected to have: CI workflow, dependency updates,
dev container and changelog. Each is validated against a schema, and each is checked to
do what the kit says it does (run `.ci/run`, the weekly `make test-latest`, `make start`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tools.notebook_checks import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
DEVCONTAINER_SCHEMA = ROOT / "tools" / "schemas" / "devcontainer.schema.json"
CHANGELOG = ROOT / "CHANGELOG.md"


@dataclass
class Validation:
    """What check-jsonschema answered: its exit status and everything it printed."""

    returncode: int
    stdout: str
    stderr: str = ""


def validate(path: Path, *schema: str) -> Validation:
    """Run check-jsonschema's command line on one file with a built-in (vendored) or local
    schema, in this process: the same command as ``python -m check_jsonschema``, without
    starting a Python for each file."""
    from check_jsonschema import main
    from click.testing import CliRunner

    result = CliRunner().invoke(main, [*schema, str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is not a refusal
    return Validation(result.exit_code, result.output)


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        (WORKFLOW, ("--builtin-schema", "vendor.github-workflows")),
        (DEPENDABOT, ("--builtin-schema", "vendor.dependabot")),
        (DEVCONTAINER, ("--schemafile", str(DEVCONTAINER_SCHEMA))),
    ],
    ids=["workflow", "dependabot", "devcontainer"],
)
def test_the_file_is_valid_against_its_schema(path: Path, schema: tuple[str, ...]) -> None:
    result = validate(path, *schema)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "text", "schema"),
    [
        ("ci.yml", "on: push\njobs:\n  t:\n    steps: [{run: x}]\n", "vendor.github-workflows"),
        ("dependabot.yml", "version: 2\nupdates:\n  - directory: /\n", "vendor.dependabot"),
        ("devcontainer.json", '{"name": "k", "biuld": {}}', None),
    ],
    ids=["workflow-without-runs-on", "dependabot-without-ecosystem", "devcontainer-typo"],
)
def test_a_broken_file_is_refused(tmp_path: Path, name: str, text: str, schema: str | None) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    args = ("--builtin-schema", schema) if schema else ("--schemafile", str(DEVCONTAINER_SCHEMA))
    result = validate(path, *args)
    assert result.returncode == 1, result.stdout + result.stderr


def supported_pythons() -> list[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.search(r"^SUPPORTED_PYTHONS := (.+)$", makefile, re.M).group(1).split()


def test_the_workflow_runs_ci_on_every_change_and_test_latest_weekly() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    test, latest = workflow["jobs"]["test"], workflow["jobs"]["test-latest"]
    assert [s["run"] for s in test["steps"] if "run" in s] == ["bash .ci/run"]
    assert test["strategy"]["matrix"]["python"] == supported_pythons()
    assert "make test-latest" in [s.get("run") for s in latest["steps"]]
    assert "schedule" in latest["if"] and "schedule" in test["if"]
    assert any("TEST_LATEST.md" in s.get("with", {}).get("path", "") for s in latest["steps"])


def test_dependabot_watches_the_pins_the_actions_and_the_container() -> None:
    config = yaml.safe_load(DEPENDABOT.read_text(encoding="utf-8"))
    watched = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert watched == {("pip", "/"), ("github-actions", "/"), ("docker", "/.devcontainer")}
    assert (ROOT / "requirements.txt").exists() and (ROOT / ".devcontainer/Dockerfile").exists()


def test_the_dev_container_sets_up_and_opens_the_kit() -> None:
    config = json.loads(DEVCONTAINER.read_text(encoding="utf-8"))
    assert config["postCreateCommand"] == "make setup"
    assert config["postAttachCommand"].startswith("make start ")
    assert 8888 in config["forwardPorts"]
    dockerfile = (DEVCONTAINER.parent / config["build"]["dockerfile"]).read_text(encoding="utf-8")
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for package in re.findall(r"need\+=\((\w+)\)", ci_run):
        assert re.search(rf"\b{package}\b", dockerfile), f"the container lacks {package}"
    python = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M).group(1)
    assert python in supported_pythons()
    assert "$(JUPYTER_ARGS)" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_the_changelog_names_the_current_pins_and_real_lessons() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    pins = dict(
        re.findall(
            r"^([a-zA-Z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)",
            (ROOT / "requirements.txt").read_text(),
            re.M,
        )
    )
    newest = text.split("\n## ", 2)[1]
    for package in ("mlflow", "pandas", "scikit-learn"):
        assert f"{package} {pins[package]}" in newest, f"the newest entry should name {package}"
    lessons = {p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    touched = [row.rstrip(" |").rsplit("|", 1)[1] for row in rows if "touched" not in row]
    lesson_cells = [re.sub(r"labs? [\d ,to]+", "", cell) for cell in touched]
    named = {n for cell in lesson_cells for n in re.findall(r"\b\d\d\b", cell)}
    assert len(touched) >= 10 and named and named <= lessons, sorted(named - lessons)
