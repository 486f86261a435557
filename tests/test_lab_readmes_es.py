"""Every lab has a Spanish README (``README.es.md``) that mirrors the English one: the same
lab and lesson numbers, the same sections and duration, the grading block that
``make labs`` writes in Spanish, and links that lead to the Spanish edition."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tools import labs, translations

FOLDERS = [solution.parent for solution in labs.solution_notebooks()]
SECTIONS = [
    "## Objetivos",
    "## Duración",
    "## Requisitos previos",
    "## Tareas",
    "## Rúbrica",
    "## Calificación",
    "## Notas para el instructor",
]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)")


def lab_id(folder: Path) -> str:
    return folder.name.split("_")[0]


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next second-level heading."""
    match = re.search(rf"^{re.escape(heading)}[ \t]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section {heading}"
    return match.group(1)


def spanish_editions() -> set[Path]:
    """Every Spanish notebook ``make translations`` can write: lessons, labs, students."""
    sources = translations.english_sources()
    students = [labs.student_path(s) for s in labs.solution_notebooks()]
    return {translations.spanish_path(path) for path in sources + students}


@pytest.fixture(params=FOLDERS, ids=lambda folder: folder.name)
def readmes(request: pytest.FixtureRequest) -> tuple[Path, str, str]:
    folder = request.param
    spanish = folder / "README.es.md"
    assert spanish.exists(), f"{folder.name} has no README.es.md"
    english = (folder / "README.md").read_text(encoding="utf-8")
    return folder, english, spanish.read_text(encoding="utf-8")


def test_the_title_subtitle_and_lesson_match_the_english(readmes: tuple[Path, str, str]) -> None:
    folder, english, spanish = readmes
    number = lab_id(folder)[3:]
    first, subtitle = spanish.splitlines()[:2]
    assert re.fullmatch(rf"# Lab {number} · \S.*", first), first
    assert english.splitlines()[0].startswith(f"# Lab {number} · ")
    assert re.fullmatch(r"\*[^*].*[^*]\*", subtitle), subtitle
    lesson_en = re.search(r"^- \*\*After lesson:\*\* (\d+)", english, re.M)
    lesson_es = re.search(r"^- \*\*Después de la lección:\*\* (\d+)", spanish, re.M)
    assert lesson_en and lesson_es, "no lesson line"
    assert lesson_es.group(1) == lesson_en.group(1)


def test_every_section_is_there_in_order(readmes: tuple[Path, str, str]) -> None:
    _, _, spanish = readmes
    headings = re.findall(r"^## .+$", spanish, re.M)
    assert [h for h in headings if h in SECTIONS] == SECTIONS, headings


def test_the_grading_block_is_the_generated_one(readmes: tuple[Path, str, str]) -> None:
    folder, _, spanish = readmes
    block = labs.grading_table(lab_id(folder), "es")
    assert block in section(spanish, "## Calificación")
    assert "| Tarea | Puntos | Se califica a partir de |" in block
    assert spanish.count(labs.GRADING_START) == 1


def test_the_duration_is_the_english_one(readmes: tuple[Path, str, str]) -> None:
    _, english, spanish = readmes
    minutes_en = re.search(r"(\d+) minutes", section(english, "## Duration"))
    minutes_es = re.search(r"(\d+) minutos", section(spanish, "## Duración"))
    assert minutes_en and minutes_es
    assert minutes_es.group(1) == minutes_en.group(1)


def test_links_lead_to_files_or_spanish_editions(readmes: tuple[Path, str, str]) -> None:
    folder, _, spanish = readmes
    editions = spanish_editions()
    broken, english_only = [], []
    for link in LINK.findall(spanish):
        if re.match(r"^[a-z]+:|^#|^/", link):
            continue
        path = link.partition("#")[0]
        target = Path(os.path.normpath(folder / path))
        if not (target.exists() or target in editions):
            broken.append(link)
        if target.suffix == ".ipynb" and translations.spanish_path(target) in editions:
            english_only.append(link)
    assert not broken, f"links to nothing: {broken}"
    assert not english_only, f"links to English notebooks with a Spanish edition: {english_only}"


@pytest.fixture
def lab_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of lab 01's folder, the only lab ``tools.labs`` sees."""
    source = FOLDERS[0]
    folder = tmp_path / source.name
    folder.mkdir()
    for name in ("README.md", "README.es.md", f"{lab_id(source)}_solution.ipynb"):
        shutil.copy(source / name, folder / name)
    solution = folder / f"{lab_id(source)}_solution.ipynb"
    student = labs.student_path(solution)
    shutil.copy(labs.student_path(source / solution.name), student)
    monkeypatch.setattr(labs, "solution_notebooks", lambda folder=None: [solution])
    assert labs.planned_changes() == {}
    return folder


def test_a_stale_spanish_grading_block_is_reported(lab_copy: Path) -> None:
    readme = lab_copy / "README.es.md"
    fresh = readme.read_text(encoding="utf-8")
    readme.write_text(fresh.replace("| **Total** | **10** |", "| **Total** | **9** |"), "utf-8")
    assert labs.planned_changes() == {readme: fresh}


def test_a_missing_spanish_grading_block_goes_under_its_heading(lab_copy: Path) -> None:
    readme = lab_copy / "README.es.md"
    fresh = readme.read_text(encoding="utf-8")
    readme.write_text(labs.GRADING_BLOCK.sub("", fresh).replace("\n\n\n", "\n\n"), "utf-8")
    changes = labs.planned_changes()
    assert changes == {readme: fresh}
    assert section(fresh, "## Calificación").startswith(labs.GRADING_START)


def test_the_spanish_block_is_the_english_one_translated() -> None:
    lab = lab_id(FOLDERS[0])
    english, spanish = labs.grading_table(lab), labs.grading_table(lab, "es")
    rows_en = [line.split(" | ")[:2] for line in english.splitlines() if line.startswith("| ")]
    rows_es = [line.split(" | ")[:2] for line in spanish.splitlines() if line.startswith("| ")]
    # the same tasks, numbers and points; the titles are the feedback's Spanish titles
    assert [(t.split(" · ")[0], p) for t, p in rows_en[1:]] == [
        (t.split(" · ")[0], p) for t, p in rows_es[1:]
    ]
    assert "| 2 · Curva de beneficio | 2 |" in spanish and "| 2 · Profit curve | 2 |" in english
    assert f"LAB={lab[3:]}" in spanish and "Calificación" in spanish
