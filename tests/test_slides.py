"""Slides: the rule that marks cells, and a real slideshow of a lesson in a browser."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tools import browser as browser_args
from tools import slides
from tools.notebook_checks import NOTEBOOKS, lesson_notebooks

ROOT = Path(__file__).resolve().parent.parent


def md(text: str, tags: list[str] | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def code(text: str = "x = 1") -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(text)


@pytest.mark.parametrize(
    ("cell", "previous", "expected"),
    [
        (md("# 07 · Title\n*subtitle*"), None, "slide"),
        (md("## 2. Parameters"), code(), "slide"),
        (md("\n### Column-based signatures"), md("text"), "subslide"),
        (md("Text after code"), code(), "subslide"),
        (md("Text after text"), md("text"), None),
        (code(), md("## 1. A section"), None),
        (md("[Course map](../README.md)", tags=["navigation"]), None, "skip"),
    ],
)
def test_slide_type_follows_the_rule(
    cell: nbformat.NotebookNode, previous: nbformat.NotebookNode | None, expected: str | None
) -> None:
    assert slides.slide_type(cell, previous) == expected


def test_with_slides_marks_cells_and_clears_stale_marks() -> None:
    stale = code()
    stale.metadata["slideshow"] = {"slide_type": "fragment"}
    nb = nbformat.v4.new_notebook(cells=[md("# 01 · T\n*s*"), stale, md("after code")])
    marked = slides.with_slides(nb)
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in marked.cells]
    assert kinds == ["slide", None, "subslide"]
    assert marked.metadata["rise"]["scroll"] is True


def test_every_lesson_opens_with_a_title_slide_and_has_sections() -> None:
    for path in lesson_notebooks():
        nb = nbformat.read(path, as_version=4)
        kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
        shown = [k for k in kinds if k != "skip"]
        assert shown[0] == "slide", f"{path.name}: the first shown cell must start a slide"
        assert shown.count("slide") >= 5, f"{path.name}: run `make nav` to mark the slides"
        assert nb.metadata.get("rise") == slides.RISE_SETTINGS, f"{path.name}: run `make nav`"


def test_the_spanish_edition_has_the_same_slides() -> None:
    """`make slides NB=07 KIT_LANG=es` presents notebooks/es/ with the English marks."""
    for path in lesson_notebooks():
        spanish = nbformat.read(path.parent / "es" / path.name, as_version=4)
        english = nbformat.read(path, as_version=4)
        marks = [[c.metadata.get("slideshow") for c in nb.cells] for nb in (english, spanish)]
        assert marks[0] == marks[1], f"{path.name}: run `make translations`"
        assert spanish.metadata.get("rise") == slides.RISE_SETTINGS
    assert slides.lesson_path("7", NOTEBOOKS / "es").parent.name == "es"


def test_lesson_path_names_the_lessons_when_the_number_is_wrong() -> None:
    assert slides.lesson_path("7").name.startswith("07_")
    with pytest.raises(SystemExit, match="There is no lesson '99'.*make slides NB=07"):
        slides.lesson_path("99")


@pytest.mark.slow
def test_a_lesson_runs_as_a_slideshow_offline(
    jupyter_lab: tuple[str, str], require_chromium: Path
) -> None:
    """JupyterLab serves lesson 07 as reveal.js slides, with no request off this machine."""
    from playwright.sync_api import sync_playwright

    path = slides.lesson_path("07")
    expected = sum(
        c.metadata.get("slideshow", {}).get("slide_type") == "slide"
        for c in nbformat.read(path, as_version=4).cells
    )
    off_machine: list[str] = []
    base, token = jupyter_lab
    url = f"{base}{slides.slideshow_url_path(path)}?token={token}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(require_chromium), args=list(browser_args.CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on(
                "request",
                lambda r: None if r.url.startswith(base) else off_machine.append(r.url),
            )
            page.goto(url)
            page.wait_for_selector(".reveal .slides > section", timeout=60_000)
            page.wait_for_function(
                f"document.querySelectorAll('.reveal .slides > section').length >= {expected}",
                timeout=30_000,
            )
            shown = page.locator(".reveal .slides > section").count()
            title = page.locator(".reveal .slides > section").first.inner_text()
        finally:
            browser.close()
    assert shown == expected, f"{shown} slides shown, {expected} marked"
    assert "07 · MLflow Tracking" in title
    assert off_machine == [], f"the slideshow fetched from off this machine: {off_machine}"


@pytest.mark.slow
def test_make_slides_opens_the_slideshow_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server `make slides NB=07` starts opens the slideshow, not JupyterLab's start page."""
    import time

    from utils import servers

    monkeypatch.setenv("KIT_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    port = servers.free_port()
    command = [
        *slides.slideshow_command(slides.lesson_path("07"), port),
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
    ]
    expected = f"127.0.0.1:{port}/rise/notebooks/07_mlflow_tracking.ipynb?token="
    with servers.managed_process("jupyterlab", command, port, "/api", timeout=60) as lab:
        deadline = time.monotonic() + 10
        while expected not in lab.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        printed = lab.log_path.read_text()
    assert expected in printed, printed[-2000:]
