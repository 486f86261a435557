"""The Spanish edition runs end to end: one lesson and one lab, executed in Spanish.

Its code cells are the English ones byte for byte (tests/test_translations.py), so the
suite need not execute every Spanish notebook a second time; these two prove that the
generated notebooks run, and that with ``KIT_LANG=es`` the kit itself speaks Spanish:
the lab's checks print Spanish feedback and score every point.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from tools import grade, labs, runner, translations
from utils import checks, i18n

LESSON = runner.ROOT / "notebooks" / "es" / "00_welcome_and_setup.ipynb"
LAB = translations.spanish_path(labs.solution_notebooks()[0])  # lab 01
SPANISH = {checks.REPORT_ENV: None, i18n.LANG_ENV: "es"}


def printed(result: runner.RunResult) -> str:
    return runner.output_text(json.loads(result.executed.read_text()))


@pytest.mark.notebook
@pytest.mark.timeout(900)
def test_a_spanish_lesson_runs_in_spanish(tmp_path: Path, template_db: Path) -> None:
    assert LESSON == translations.spanish_path(runner.ROOT / "notebooks" / LESSON.name)
    result = runner.run_notebook(LESSON, tmp_path, template_db, env=SPANISH)
    runner.check_result(result)
    executed = json.loads(result.executed.read_text())
    assert executed["metadata"]["language"] == "es"
    assert "## Objetivos de aprendizaje" in "".join(executed["cells"][1]["source"])


@pytest.mark.notebook
@pytest.mark.timeout(900)
def test_a_spanish_lab_passes_every_check_with_spanish_feedback(
    tmp_path: Path, template_db: Path
) -> None:
    report = tmp_path / "checks.jsonl"
    graded, result = grade.grade_submission(
        "estudiante", LAB, "lab01", tmp_path / "run", template_db,
        env={**SPANISH, checks.REPORT_ENV: str(report)},
    )  # fmt: skip
    assert result is not None
    runner.check_result(result)
    entries = [json.loads(line) for line in report.read_text().splitlines()]
    assert entries and all(e["status"] == "passed" for e in entries), entries
    assert graded.total == sum(checks.POINTS["lab01"].values()) > 0
    text = printed(result)
    passed = i18n.catalogue("es")["passed"]
    assert text.count(f": {passed} (") >= len(checks.POINTS["lab01"]), text[-2000:]
    assert ": passed (" not in text, "a check printed its status in English"


def code_of(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


EDITIONS = [
    (english, translations.spanish_path(english))
    for solution_or_lesson in translations.english_sources()
    for english in (
        [solution_or_lesson, labs.student_path(solution_or_lesson)]
        if solution_or_lesson in labs.solution_notebooks()
        else [solution_or_lesson]
    )
]


@pytest.mark.parametrize(("english", "spanish"), EDITIONS, ids=lambda p: p.stem)
def test_every_spanish_notebook_has_the_english_code(english: Path, spanish: Path) -> None:
    """Lessons, lab solutions and student versions: the same code, cell for cell."""
    assert spanish.exists(), f"{spanish} is missing: run `make translations`"
    assert code_of(spanish) == code_of(english)
