"""`make test-latest`: reading the pins, choosing the newest releases, writing the report.

These tests build no environment and reach no registry: the registry and pip's resolver
are replaced by small fakes with known answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tools import test_latest
from tools.test_latest import Choice, Failure, Requirement, StoreCheck

ROOT = Path(__file__).resolve().parent.parent


def test_requirements_keep_names_extras_and_pins() -> None:
    text = (
        "# a comment\n\n"
        "jupyterlab==4.6.6\n"
        "mlflow[auth]==3.17.2         # [auth]: basic authentication\n"
        "psycopg[binary]==3.3.9\n"
    )
    found = test_latest.parse_requirements(text)
    assert [(r.name, r.extras, r.pinned) for r in found] == [
        ("jupyterlab", "", "4.6.6"),
        ("mlflow", "[auth]", "3.17.2"),
        ("psycopg", "[binary]", "3.3.9"),
    ]
    assert found[1].spec() == "mlflow[auth]"
    assert found[1].spec("3.18.0") == "mlflow[auth]==3.18.0"


def test_the_kit_requirements_are_all_pinned() -> None:
    found = test_latest.parse_requirements((ROOT / "requirements.txt").read_text())
    names = {r.name for r in found}
    assert {"mlflow", "pandas", "pytest", "jupyterlab"} <= names
    assert next(r for r in found if r.name == "mlflow").extras == "[auth]"


def test_an_unpinned_requirement_is_refused_with_its_line() -> None:
    with pytest.raises(ValueError, match=r"line 2 is not `name==version`: 'pandas>=3'"):
        test_latest.parse_requirements("numpy==2.4.6\npandas>=3\n")


def test_pip_index_versions_output_is_read_newest_first() -> None:
    output = "mlflow (3.18.0)\nAvailable versions: 3.18.0, 3.17.2, 3.17.1\n  INSTALLED: 3.17.2\n"
    assert test_latest.parse_index_versions(output) == ["3.18.0", "3.17.2", "3.17.1"]
    assert test_latest.parse_index_versions("ERROR: No matching distribution found") == []


def fake_registry(
    releases: dict[str, list[str]],
    broken: set[str],
    conflicts: set[frozenset[str]] = frozenset(),
) -> tuple[Callable[[str], list[str]], Callable[[list[str]], dict[str, str] | None], list]:
    """A registry listing ``releases`` and a resolver like pip's dry run, recording calls.

    The resolver refuses the ``broken`` releases and any set holding both releases of a
    ``conflicts`` pair; for a spec with no version it takes the newest release that fits
    with what it has chosen so far, as pip does.
    """
    calls: list[list[str]] = []

    def fits(chosen: dict[str, str]) -> bool:
        specs = {f"{name}=={version}" for name, version in chosen.items()}
        return not specs & broken and not any(pair <= specs for pair in conflicts)

    def available(name: str) -> list[str]:
        return releases.get(name, [])

    def resolve(specs: list[str]) -> dict[str, str] | None:
        calls.append(list(specs))
        chosen: dict[str, str] = {}
        for spec in specs:
            name, _, version = re.sub(r"\[.*\]", "", spec).partition("==")
            options = [version] if version else releases.get(name, [])
            for option in options:
                if fits({**chosen, name: option}):
                    chosen[name] = option
                    break
            else:
                return None
        return chosen

    return available, resolve, calls


REQS = [Requirement("mlflow", "[auth]", "3.17.2"), Requirement("pyarrow", "", "25.0.1")]


def test_the_newest_of_everything_is_chosen_when_it_resolves_in_one_try() -> None:
    available, resolve, calls = fake_registry(
        {"mlflow": ["3.18.0", "3.17.2"], "pyarrow": ["26.0.1", "25.0.1"]}, broken=set()
    )
    choices = test_latest.choose_versions(REQS, available, resolve)
    assert [c.chosen for c in choices] == ["3.18.0", "26.0.1"]
    assert all(c.note == "" and c.rejected == [] for c in choices)
    assert calls == [["mlflow[auth]==3.18.0", "pyarrow==26.0.1"]]


def test_a_newest_release_that_does_not_resolve_falls_back_and_says_so() -> None:
    lines: list[str] = []
    available, resolve, calls = fake_registry(
        {"mlflow": ["3.18.0", "3.17.2"], "pyarrow": ["26.0.1", "26.0.0", "25.0.1"]},
        broken={"mlflow==3.18.0"},
        conflicts={frozenset({"mlflow==3.17.2", "pyarrow==26.0.1"}),
                   frozenset({"mlflow==3.17.2", "pyarrow==26.0.0"})},
    )  # fmt: skip
    mlflow, pyarrow = test_latest.choose_versions(REQS, available, resolve, log=lines.append)
    assert (mlflow.newest, mlflow.chosen, mlflow.rejected) == ("3.18.0", "3.17.2", ["3.18.0"])
    assert mlflow.note == "3.18.0 did not resolve here; fell back"
    assert (pyarrow.newest, pyarrow.chosen) == ("26.0.1", "25.0.1")
    assert pyarrow.rejected == ["26.0.1", "26.0.0"]
    assert pyarrow.note == "26.0.1, 26.0.0 did not resolve here; fell back"
    assert calls[:2] == [["mlflow[auth]==3.18.0", "pyarrow==26.0.1"], ["mlflow[auth]", "pyarrow"]]
    assert calls[2] == ["pyarrow==25.0.1", "mlflow[auth]==3.18.0"]
    assert lines == ["The newest releases do not install together: letting pip choose without pins"]


def test_fallback_tries_are_bounded_and_say_how_many_were_not_tried() -> None:
    releases = {"mlflow": [f"3.{n}.0" for n in range(18, 0, -1)], "pyarrow": ["25.0.1"]}
    broken = {f"mlflow=={v}" for v in releases["mlflow"][:-1]}
    available, resolve, calls = fake_registry(releases, broken)
    mlflow, pyarrow = test_latest.choose_versions(REQS, available, resolve, max_tries=3)
    assert mlflow.chosen == "3.1.0"
    assert mlflow.rejected == ["3.18.0", "3.17.0", "3.16.0", "3.15.0"]
    assert mlflow.note == (
        "3.18.0, 3.17.0, 3.16.0, 3.15.0 did not resolve here; fell back (13 newer releases "
        "not tried)"
    )
    assert pyarrow.chosen == "25.0.1" and pyarrow.note == ""
    assert len(calls) == 1 + 1 + 4  # all at once, pip's own choice, four mlflow tries


def test_a_package_the_registry_does_not_list_is_left_to_pip() -> None:
    available, _, _ = fake_registry({"pyarrow": ["26.0.1"]}, broken=set())
    _, resolve, calls = fake_registry({"pyarrow": ["26.0.1"], "mlflow": ["3.17.2"]}, set())
    mlflow, pyarrow = test_latest.choose_versions(REQS, available, resolve)
    assert (mlflow.newest, mlflow.chosen) == (None, "3.17.2")
    assert mlflow.note == "the registry listed no releases; pip chose"
    assert pyarrow.chosen == "26.0.1"
    assert calls == [["mlflow[auth]", "pyarrow"]]


def test_requirements_pip_cannot_resolve_at_all_stop_with_a_clear_message() -> None:
    available, resolve, _ = fake_registry(
        {"mlflow": ["3.17.2"], "pyarrow": ["25.0.1"]}, broken={"mlflow==3.17.2"}
    )
    with pytest.raises(test_latest.LatestEnvError, match="even without its pins"):
        test_latest.choose_versions(REQS, available, resolve)


JUNIT = """\
<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="2" tests="4">
<testcase classname="tests.test_notebooks" name="test_notebook[00_welcome_and_setup]">
  <failure message="tools.runner.NotebookFailure: notebooks/00_welcome_and_setup.ipynb: cell 7 \
raised AssertionError: Fix the environment first&#10;Traceback (most recent call last):"\
>traceback</failure></testcase>
<testcase classname="tests.test_labs" name="test_solution_passes[lab03_tracked_search]">
  <failure message="AssertionError: lab03 check failed">traceback</failure></testcase>
<testcase classname="tests.test_utils" name="test_paths"/>
<testcase classname="tests.test_site" name="test_site_builds">
  <error message="failed on setup with &quot;OSError: port&quot;">traceback</error></testcase>
</testsuite></testsuites>
"""


def test_junit_failures_are_read_with_their_first_line() -> None:
    failures = test_latest.parse_junit(JUNIT)
    assert [f.test for f in failures] == [
        "tests/test_notebooks.py::test_notebook[00_welcome_and_setup]",
        "tests/test_labs.py::test_solution_passes[lab03_tracked_search]",
        "tests/test_site.py::test_site_builds",
    ]
    assert failures[0].message == (
        "tools.runner.NotebookFailure: notebooks/00_welcome_and_setup.ipynb: cell 7 "
        "raised AssertionError: Fix the environment first"
    )
    assert failures[2].message == 'failed on setup with "OSError: port"'


def test_failures_are_grouped_by_lesson_then_lab_then_file() -> None:
    groups = test_latest.group_failures(test_latest.parse_junit(JUNIT))
    assert list(groups) == ["lesson 00", "lab 03", "tests/test_site.py"]
    assert test_latest.group_of("tests/test_lab_checks_lab05.py::test_x") == "lab 05"
    assert test_latest.group_of("tests/test_notebooks.py::test_notebook[12_model_deployment]") == (
        "lesson 12"
    )


def test_the_pytest_summary_is_its_closing_line() -> None:
    output = "collected 300 items\n...\n==== 2 failed, 298 passed, 1 skipped in 812.40s ====\n"
    assert test_latest.pytest_summary(output) == "2 failed, 298 passed, 1 skipped in 812.40s"
    assert test_latest.pytest_summary("collected 3 items\nKeyboardInterrupt\n") == ""


def test_the_reason_pip_gives_skips_its_yanked_notice() -> None:
    stderr = (
        "ERROR: Ignored the following yanked versions: 3.11.0\n"
        "ERROR: Could not find a version that satisfies the requirement mlflow-tracing==3.18.0\n"
        "ERROR: No matching distribution found for mlflow-tracing==3.18.0\n"
    )
    assert test_latest.pip_reason(stderr) == (
        "Could not find a version that satisfies the requirement mlflow-tracing==3.18.0"
    )


def report(failures: list[Failure], summary: str, store_ok: bool = True) -> str:
    mlflow = Choice(REQS[0], "3.18.0", "3.17.2", ["3.18.0"], "3.18.0 did not resolve; fell back")
    mlflow.installed = "3.17.2"
    pyarrow = Choice(REQS[1], "26.0.1", "26.0.1", installed="26.0.1")
    return test_latest.render_report(
        date="2026-12-03 12:00 UTC",
        machine_line="2 cores, 24 GiB, Linux x86_64",
        python="3.11.7",
        choices=[mlflow, pyarrow],
        kernel={"python": "/kit/.venv-latest/bin/python", "mlflow": "3.17.2"},
        summary=summary,
        failures=failures,
        store=StoreCheck(store_ok, ["Made a store.", "Upgraded it."]),
        minutes=21.4,
        commit="abc1234",
    )


def test_the_report_lists_versions_failures_store_check_and_next_steps() -> None:
    failures = test_latest.parse_junit(JUNIT)
    text = report(failures, "2 failed, 1 passed, 1 error in 9.00s")
    assert "Date: 2026-12-03 12:00 UTC. Machine: 2 cores, 24 GiB, Linux x86_64." in text
    assert "Python 3.11.7. Took 21 min.\nThe kit at commit `abc1234`." in text
    assert "| mlflow[auth] | 3.17.2 | 3.18.0 | 3.17.2 | 3.18.0 did not resolve; fell back |" in text
    assert "| pyarrow | 25.0.1 | 26.0.1 | 26.0.1 **(new)** |  |" in text
    assert "`/kit/.venv-latest/bin/python`, MLflow 3.17.2" in text
    assert "pytest: **2 failed, 1 passed, 1 error in 9.00s**" in text
    assert text.index("### lesson 00") < text.index("### lab 03") < text.index("### tests/")
    assert "- `tests/test_labs.py::test_solution_passes[lab03_tracked_search]`: Assertion" in text
    assert "1. Made a store.\n2. Upgraded it." in text
    assert "Result: **every run survived**" in text
    assert "Newest releases that do not install here: mlflow." in text
    assert "fix what fails above (lesson 00, lab 03, tests/test_site.py)" in text


def test_the_report_says_when_everything_passes_or_the_suite_did_not_finish() -> None:
    passing = report([], "300 passed in 800.00s")
    assert "No test failed." in passing
    assert "the pins can move to the versions above" in passing
    unfinished = report([], "", store_ok=False)
    assert "pytest: **did not finish**" in unfinished
    assert "Result: **FAILED**" in unfinished
    assert "The suite did not finish" in unfinished


def test_a_missing_pinned_environment_is_named(tmp_path: Path, capsys) -> None:
    code = test_latest.main(["--pinned", str(tmp_path / "no-venv")])
    assert code == 2
    assert "no-venv is missing: run `make setup` first" in capsys.readouterr().err


def test_lesson_00_checks_the_latest_environment_against_what_it_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from utils import environment

    monkeypatch.delenv("KIT_REQUIREMENTS", raising=False)  # set when make test-latest runs this
    choices = [
        Choice(REQS[0], "3.18.0", "3.17.2", ["3.18.0"], "fell back", installed="3.17.2"),
        Choice(REQS[1], "26.0.1", "26.0.1", installed="26.0.1"),
    ]
    installed = test_latest.write_installed_requirements(choices, tmp_path / "reqs.txt")
    monkeypatch.setattr(test_latest, "INSTALLED_REQUIREMENTS", installed)
    env = test_latest.suite_environment(test_latest.LATEST_VENV)
    assert env["KIT_REQUIREMENTS"] == str(installed)
    assert "KIT_REQUIREMENTS" not in test_latest.suite_environment(tmp_path / "other-venv")
    monkeypatch.setenv("KIT_REQUIREMENTS", env["KIT_REQUIREMENTS"])
    assert environment.pinned_requirements() == {"mlflow": "3.17.2", "pyarrow": "26.0.1"}
    monkeypatch.delenv("KIT_REQUIREMENTS")
    assert environment.requirements_file() == test_latest.REQUIREMENTS
