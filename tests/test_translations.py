"""The Spanish edition (tools.translations): generated from the English notebooks and a
catalogue, with identical code, and stale the moment an English cell changes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from tools import notebook_checks, translations
from tools.notebook_checks import ROOT, is_navigation


def test_the_spanish_notebooks_are_up_to_date() -> None:
    try:
        stale = translations.planned_changes()
    except translations.CatalogueError as error:
        pytest.fail(str(error))
    names = [path.relative_to(ROOT).as_posix() for path in stale]
    assert not names, f"out of date, run `make translations`: {names}"


@pytest.fixture
def catalogue_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(translations, "CATALOGUES", tmp_path)
    return tmp_path


LESSON = ROOT / "notebooks" / "00_welcome_and_setup.ipynb"


def test_an_english_cell_changed_after_its_translation_is_named(catalogue_folder: Path) -> None:
    import yaml

    path = catalogue_folder / f"{LESSON.stem}.yaml"
    path.write_text(translations.skeleton(LESSON), encoding="utf-8")
    notebook, problems = translations.translate(LESSON)
    assert notebook is not None and problems == []
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    changed = next(iter(data["cells"]))
    data["cells"][changed]["en"] = "0" * 12  # as if the English cell had been edited since
    removed = list(data["cells"])[3]
    del data["cells"][removed]
    data["cells"]["gone-cell"] = {"en": "1" * 12, "es": "Texto huérfano"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _, problems = translations.translate(LESSON)
    assert any(f"cell {changed}" in p and "changed after its translation" in p for p in problems)
    assert any(f"cell {removed}" in p and "has no Spanish text" in p for p in problems)
    assert any("gone-cell" in p and "not markdown cells" in p for p in problems)
    with pytest.raises(translations.CatalogueError, match="changed after its translation"):
        translations.planned_changes()


def test_a_broken_catalogue_is_reported(catalogue_folder: Path) -> None:
    path = catalogue_folder / f"{LESSON.stem}.yaml"
    path.write_text("cells:\n  a: [unclosed\n", encoding="utf-8")
    with pytest.raises(translations.CatalogueError, match="not valid YAML"):
        translations.translate(LESSON)
    path.write_text("cells:\n  abc: {en: 123}\n", encoding="utf-8")
    with pytest.raises(translations.CatalogueError, match="needs `en`"):
        translations.translate(LESSON)


def test_links_point_at_the_spanish_edition() -> None:
    lab = translations.labs.solution_notebooks()[0]
    text = (
        "[guía](README.md) [07](../../notebooks/07_mlflow_tracking.ipynb) ![x](../../images/a.svg)"
    )
    assert translations.relink(text, lab) == (
        "[guía](../README.es.md) [07](../../../notebooks/es/07_mlflow_tracking.ipynb) "
        "![x](../../../images/a.svg)"
    )
    lesson = ROOT / "notebooks" / "03_data_wrangling_and_cleaning.ipynb"
    text = '[d](../datasets/README.md#cols) <img src="../images/b.png"> [w](https://mlflow.org)'
    assert translations.relink(text, lesson) == (
        '[d](../../datasets/README.md#cols) <img src="../../images/b.png"> [w](https://mlflow.org)'
    )


def test_a_rehash_keeps_the_spanish_text(catalogue_folder: Path) -> None:
    path = catalogue_folder / f"{LESSON.stem}.yaml"
    path.write_text(
        translations.skeleton(LESSON, {"6e9015f0": "# 00 · Bienvenida\n"}), encoding="utf-8"
    )
    entries = translations.load_catalogue(path)
    assert list(entries) == ["6e9015f0"] and entries["6e9015f0"]["es"] == "# 00 · Bienvenida\n"


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("source", translations.english_sources(), ids=lambda p: p.stem)
def test_every_notebook_can_have_a_spanish_edition(source: Path, catalogue_folder: Path) -> None:
    """With a catalogue (the skeleton here), the edition keeps code, ids and links."""
    (catalogue_folder / f"{source.stem}.yaml").write_text(
        translations.skeleton(source), encoding="utf-8"
    )
    spanish, problems = translations.translate(source)
    assert spanish is not None and problems == []
    english = nbformat.read(source, as_version=4)
    assert code_cells(spanish) == code_cells(english)
    assert [c.get("id") for c in spanish.cells] == [c.get("id") for c in english.cells]
    home = translations.spanish_path(source).parent
    editions = {translations.spanish_path(p) for p in translations.english_sources()}
    editions |= {
        translations.spanish_path(translations.labs.student_path(p))
        for p in translations.labs.solution_notebooks()
    }
    for cell in spanish.cells:
        if cell.cell_type != "markdown":
            continue
        for link in notebook_checks.markdown_targets(cell.source):
            if re.match(r"^[a-z]+:|^#", link):
                continue
            target = Path(os.path.normpath(home / link.split("#")[0]))
            assert target.exists() or target in editions, f"{source.name}: {link}"
    if source.parent.name == "notebooks":
        nav = [c.source for c in spanish.cells if is_navigation(c)]
        assert len(nav) == 2 and "Mapa del curso" in nav[0]


def test_committed_spanish_lessons_keep_the_lesson_shape() -> None:
    for source in translations.english_sources():
        if source.parent.name != "notebooks" or not translations.catalogue_path(source).exists():
            continue
        cells = [
            c.source
            for c in nbformat.read(translations.spanish_path(source), as_version=4).cells
            if c.cell_type == "markdown" and not is_navigation(c)
        ]
        assert "## Objetivos de aprendizaje" in cells[0], source.name
        assert cells[-1].startswith("## Resumen") and "## Ejercicios" in cells[-1], source.name
