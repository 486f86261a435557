"""The Spanish edition (tools.translations): generated from the English notebooks and a
catalogue, with identical code, and stale the moment an English cell changes."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from tools import notebook_checks, translations
from tools.notebook_checks import ROOT, is_navigation

EDITIONS = [
    source
    for source in translations.english_sources()
    if translations.catalogue_path(source).exists()
]
SPANISH = [translations.spanish_path(source) for source in EDITIONS]


def test_the_spanish_notebooks_are_up_to_date() -> None:
    try:
        stale = translations.planned_changes()
    except translations.CatalogueError as error:
        pytest.fail(str(error))
    names = [path.relative_to(ROOT).as_posix() for path in stale]
    assert not names, f"out of date, run `make translations`: {names}"


def code_cells(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("source", EDITIONS, ids=lambda p: p.stem)
def test_code_is_byte_identical_and_links_resolve(source: Path) -> None:
    spanish = translations.spanish_path(source)
    assert code_cells(spanish) == code_cells(source)
    nb = json.loads(spanish.read_text(encoding="utf-8"))
    assert not notebook_checks.check_clean(nb, spanish.name)
    assert not notebook_checks.notebook_links(nb, spanish)
    english = nbformat.read(source, as_version=4)
    assert [c.get("id") for c in nb["cells"]] == [c.get("id") for c in english.cells]


@pytest.mark.parametrize(
    "source", [s for s in EDITIONS if s.parent.name == "notebooks"], ids=lambda p: p.stem
)
def test_spanish_lessons_keep_the_lesson_shape(source: Path) -> None:
    cells = [
        c.source
        for c in nbformat.read(translations.spanish_path(source), as_version=4).cells
        if c.cell_type == "markdown" and not is_navigation(c)
    ]
    assert (
        cells[0].startswith(f"# {source.stem[:2]} · ") and "## Objetivos de aprendizaje" in cells[0]
    )
    assert cells[-1].startswith("## Resumen") and "## Ejercicios" in cells[-1]


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
        "[guía](../README.md) [07](../../../notebooks/es/07_mlflow_tracking.ipynb) "
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
