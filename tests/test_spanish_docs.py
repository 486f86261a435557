"""The Spanish README and instructor guide: they exist, link to the English ones and back,
carry a course map that ``make translations`` generates, schedule every lesson and lab, and
every relative link leads to a file or to a Spanish notebook the kit generates."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from tools import labs, navigation, translations
from tools import notebook_checks as checks
from tools.notebook_checks import ROOT

README_ES = ROOT / "README.es.md"
GUIDE_ES = ROOT / "INSTRUCTOR_GUIDE.es.md"
DOCS = [README_ES, GUIDE_ES]


def spanish_editions() -> set[Path]:
    """Every Spanish notebook ``make translations`` can write: lessons, labs, students."""
    sources = translations.english_sources()
    students = [labs.student_path(s) for s in labs.solution_notebooks()]
    return {translations.spanish_path(path) for path in sources + students}


def slug(heading: str) -> str:
    """The anchor a markdown heading gets on GitHub."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


# --- Both languages link to each other -------------------------------------------------


@pytest.mark.parametrize("english", list(translations.DOCUMENTS), ids=str)
def test_each_document_links_to_its_other_language(english: str) -> None:
    spanish = translations.DOCUMENTS[english]
    assert (ROOT / spanish).exists(), f"{spanish} is missing"
    spanish_top = (ROOT / spanish).read_text(encoding="utf-8").splitlines()[:5]
    assert any(f"]({english})" in line for line in spanish_top), (
        f"{spanish} must link to {english} near its top"
    )
    english_top = (ROOT / english).read_text(encoding="utf-8").splitlines()[:5]
    assert f"*Lee esto en español: [{spanish}]({spanish})*" in english_top, (
        f"{english} must link to {spanish} under its title"
    )


# --- The generated course map ------------------------------------------------------------


def test_the_spanish_course_map_is_generated_and_up_to_date() -> None:
    text = README_ES.read_text(encoding="utf-8")
    heading = text.index("\n## Mapa del curso\n")
    start, end = text.index(navigation.MAP_START), text.index(navigation.MAP_END)
    assert heading < start < end, "the course map's markers belong under `## Mapa del curso`"
    assert translations.course_map_changes() == {}, (
        "README.es.md's course map is out of date: run `make translations`"
    )
    generated = translations.spanish_course_map()
    assert text[start:end] == f"{navigation.MAP_START}\n{generated}\n"
    assert generated.startswith("| # | Lección | Qué harás |\n")
    assert "\n| Lab | Después de la lección | Qué harás |\n" in generated


def test_the_course_map_links_the_spanish_editions() -> None:
    rows = translations.spanish_course_map().splitlines()
    for lesson in checks.lesson_notebooks():
        number, title, subtitle = translations.spanish_heading(lesson)
        row = f"| {number} | [{title}](notebooks/es/{lesson.name}) | {subtitle} |"
        assert row in rows, f"the course map lacks {row!r}"
    for entry in navigation.lab_entries():
        spanish = entry.path / "README.es.md"
        readme = spanish if spanish.exists() else entry.path / "README.md"
        title = navigation.heading_and_subtitle(readme.read_text(encoding="utf-8"))[1]
        link = readme.relative_to(ROOT).as_posix()
        assert any(
            row.startswith(f"| [{entry.number} · {title}]({link}) | {entry.after} |")
            for row in rows
        ), f"the course map lacks {link}"


@pytest.fixture
def catalogue_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "catalogues"
    folder.mkdir()
    monkeypatch.setattr(translations, "CATALOGUES", folder)
    return folder


def test_the_course_map_takes_the_catalogue_title_and_falls_back_to_english(
    catalogue_folder: Path,
) -> None:
    first, second = checks.lesson_notebooks()[:2]
    notebook = nbformat.read(first, as_version=4)
    opening = next(c for c in notebook.cells if c.cell_type == "markdown" and c.id != "nav-top")
    heading = "# 00 · Título de prueba\n*Subtítulo de prueba.*"
    (catalogue_folder / f"{first.stem}.yaml").write_text(
        translations.skeleton(first, {opening.id: heading}), encoding="utf-8"
    )
    rows = translations.spanish_course_map().splitlines()
    assert f"| 00 | [Título de prueba](notebooks/es/{first.name}) | Subtítulo de prueba. |" in rows
    english = next(e for e in navigation.lesson_entries() if e.path == second)
    link = f"[{english.title}](notebooks/es/{second.name})"
    row = f"| {english.number} | {link} | {english.subtitle} |"
    assert row in rows


@pytest.fixture
def stale_readme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of README.es.md with a hand-edited course map, in place of the real one."""
    copy = tmp_path / "README.es.md"
    shutil.copy(README_ES, copy)
    text = copy.read_text(encoding="utf-8")
    copy.write_text(text.replace("| Qué harás |", "| Lo que harás |", 1), encoding="utf-8")
    monkeypatch.setattr(translations, "README_ES", copy)
    # only the course map is under test: no notebook is translated
    monkeypatch.setattr(translations, "translate", lambda source: (None, []))
    return copy


def test_a_stale_course_map_is_reported_and_rewritten(
    stale_readme: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stale_readme.read_text(encoding="utf-8")
    assert list(translations.planned_changes()) == [stale_readme]
    assert translations.main(["--check"]) == 1
    assert "README.es.md is out of date: run `make translations`" in capsys.readouterr().out
    assert stale_readme.read_text(encoding="utf-8") == before  # --check changes nothing
    assert translations.main([]) == 0
    assert "| Lo que harás |" not in stale_readme.read_text(encoding="utf-8")
    assert translations.main(["--check"]) == 0


def test_the_course_map_is_reported_even_when_a_catalogue_is_incomplete(
    stale_readme: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(translations, "translate", lambda source: (None, ["a cell lacks text"]))
    assert translations.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "a cell lacks text" in out and "README.es.md is out of date" in out


def test_a_readme_without_the_markers_is_reported(stale_readme: Path) -> None:
    stale_readme.write_text("# Kit\n\n## Mapa del curso\n\nnada\n", encoding="utf-8")
    with pytest.raises(translations.CatalogueError, match="course map's markers"):
        translations.course_map_changes()


# --- The Spanish instructor guide ------------------------------------------------------


# --- Links ----------------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc: Path) -> None:
    editions = spanish_editions()
    text = doc.read_text(encoding="utf-8")
    for link in checks.markdown_targets(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):
            continue
        path, _, anchor = link.partition("#")
        target = Path(os.path.normpath(doc.parent / path)) if path else doc
        assert target.exists() or target in editions, f"{doc.name}: {link} does not resolve"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), f"{doc.name}: {link} names no heading"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_lessons_and_labs_are_linked_in_spanish(doc: Path) -> None:
    """A Spanish document sends students to the Spanish notebooks and lab READMEs."""
    for link in checks.markdown_targets(doc.read_text(encoding="utf-8")):
        if link.endswith(".ipynb"):
            assert link.startswith("notebooks/es/"), f"{doc.name}: {link}"
        if re.match(r"^labs/lab\d{2}_[^/]+/README\.md$", link):
            assert not (ROOT / link).with_name("README.es.md").exists(), (
                f"{doc.name}: {link} has a Spanish edition"
            )
