"""The course site: a real build of lesson 00 in both languages, the page conversion, and
failing builds (a failing notebook, a Spanish notebook whose code is not the English one's).

The build runs lesson 00 with its own text (English and Spanish) but a few quick code cells
of its own: the lesson's code is run by tests/test_notebooks.py already, and the site's
code is the same for any lesson that prints, displays and draws."""

from __future__ import annotations

import copy
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from tools import site, translations
from tools.navigation import lesson_entries
from tools.notebook_checks import ROOT, is_navigation

NETWORK = re.compile(r"^(https?:)?//", re.IGNORECASE)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#)", re.IGNORECASE)


class _Refs(HTMLParser):
    """Collects (tag, attributes) of every start tag of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict[str, str | None]]]:
    """Return every start tag of an HTML page with its attributes."""
    parser = _Refs()
    parser.feed(page)
    parser.close()
    return parser.tags


def hrefs(page: str) -> list[str]:
    """Return the ``href`` of every link of a page."""
    return [attrs["href"] or "" for tag, attrs in tags_of(page) if tag == "a" and "href" in attrs]


def broken_references(out: Path) -> list[str]:
    """Return every local href/src of the site that does not lead to a file of the site."""
    problems = []
    for page in sorted(out.rglob("*.html")):
        for tag, attrs in tags_of(page.read_text(encoding="utf-8")):
            for name in ("href", "src"):
                value = (attrs.get(name) or "").strip()
                if not value or EXTERNAL.match(value) or value.startswith("//"):
                    continue
                target = (page.parent / unquote(value.split("#")[0].split("?")[0])).resolve()
                if not target.is_file() or not target.is_relative_to(out.resolve()):
                    problems.append(f"{page.relative_to(out)}: <{tag} {name}={value!r}>")
    return problems


def network_loads(out: Path) -> list[str]:
    """Return every script or stylesheet a page of the site would fetch from the network."""
    found = []
    for page in sorted(out.rglob("*.html")):
        for tag, attrs in tags_of(page.read_text(encoding="utf-8")):
            rel = (attrs.get("rel") or "").lower()
            url = ""
            if tag == "script":
                url = attrs.get("src") or ""
            elif tag == "link" and "stylesheet" in rel:
                url = attrs.get("href") or ""
            if NETWORK.match(url.strip()):
                found.append(f"{page.relative_to(out)}: <{tag}> loads {url}")
    return found


LESSON = ROOT / "notebooks" / "00_welcome_and_setup.ipynb"
SPANISH_LESSON = ROOT / "notebooks" / "es" / LESSON.name
UNSHARED = {".git", "build", "notebooks", "mlruns", "mlflow_store", "__pycache__", ".pytest_cache"}
# Lesson 00's code for the build: printed text, a table and a figure, in a second or two.
QUICK_CODE = (
    'pins = ["mlflow", "pandas", "scikit-learn"]\n'
    'print(f"{len(pins)} of {len(pins)} pinned packages match.")',
    "from IPython.display import HTML\n\n"
    'HTML("<table><tr><th>package</th><th>ok</th></tr><tr><td>mlflow</td><td>True</td></tr></table>")',
    "import matplotlib.pyplot as plt\n\n"
    'fig, ax = plt.subplots(figsize=(3, 2))\nax.plot([1, 2, 3], [0.2, 0.3, 0.25], marker="o")\n'
    'ax.set_title("churn rate")\nplt.show()',
)


def with_quick_code(text: str) -> str:
    """Return lesson 00 (either edition, as JSON text) with its code cells replaced.

    The first code cells, by their ids, get :data:`QUICK_CODE` and the others go, in both
    editions alike, so the Spanish edition's code stays the English one's.
    """
    nb = nbformat.reads(text, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert len(code) >= len(QUICK_CODE), "lesson 00 has fewer code cells than the build needs"
    keep = {cell.id: source for cell, source in zip(code, QUICK_CODE, strict=False)}
    nb.cells = [cell for cell in nb.cells if cell.cell_type != "code" or cell.id in keep]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source, cell.outputs, cell.execution_count = keep[cell.id], [], None
    return nbformat.writes(nb)


def spanish_edition_of_lesson_00(catalogues: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Return the Spanish lesson 00: the kit's own, else one made from a test catalogue.

    The test catalogue keeps the English text (and so its links) under Spanish headings.
    """
    if SPANISH_LESSON.is_file():
        return SPANISH_LESSON.read_text(encoding="utf-8")
    monkeypatch.setattr(translations, "CATALOGUES", catalogues)
    english = nbformat.read(LESSON, as_version=4)
    spanish = {}
    for cell in english.cells:
        if cell.cell_type != "markdown" or is_navigation(cell):
            continue
        lines = cell.source.splitlines()
        for index, line in enumerate(lines):
            if line.startswith("# 00 · "):
                lines[index] = "# 00 · Bienvenida y configuración"
            elif re.match(r"^#{2,3} ", line):
                hashes, title = line.split(" ", 1)
                lines[index] = f"{hashes} Sección: {title}"
        spanish[cell.id] = "\n".join(lines)
    catalogues.mkdir(parents=True, exist_ok=True)
    (catalogues / f"{LESSON.stem}.yaml").write_text(
        translations.skeleton(LESSON, spanish), encoding="utf-8"
    )
    notebook, problems = translations.translate(LESSON)
    assert notebook is not None and problems == []
    return nbformat.writes(notebook)


def bilingual_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kit that is the repository's (through links) plus a Spanish lesson 00.

    Nothing is written into the repository: the kit's own folder holds the links and both
    editions of lesson 00, with :func:`with_quick_code`.
    """
    kit = tmp_path / "kit"
    (kit / "notebooks" / "es").mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in UNSHARED and not entry.name.startswith(".venv"):
            (kit / entry.name).symlink_to(entry)
    for entry in (ROOT / "notebooks").iterdir():
        if entry.name not in ("es", ".ipynb_checkpoints", LESSON.name):
            (kit / "notebooks" / entry.name).symlink_to(entry)
    english = with_quick_code(LESSON.read_text(encoding="utf-8"))
    (kit / "notebooks" / LESSON.name).write_text(english, encoding="utf-8")
    text = with_quick_code(spanish_edition_of_lesson_00(tmp_path / "catalogues", monkeypatch))
    (kit / "notebooks" / "es" / LESSON.name).write_text(text, encoding="utf-8")
    return kit


def seeded_work(work: Path, template_db: Path) -> Path:
    """A work folder for a build that already holds the migrated tracking database the
    build's runs start from (the tests' own), so the build does not migrate a new one."""
    (work / "template").mkdir(parents=True)
    shutil.copy(template_db, work / "template" / "template.db")
    return work


class _Headings(HTMLParser):
    """Collects the text of every h1-h3 of a page (without the anchor links' pilcrows)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self._inside = 0
        self._anchor = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3"):
            self._inside += 1
            self.headings.append("")
        elif tag == "a" and "anchor-link" in (dict(attrs).get("class") or ""):
            self._anchor = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3"):
            self._inside -= 1
            self.headings[-1] = " ".join(self.headings[-1].split())
        elif tag == "a":
            self._anchor = False

    def handle_data(self, data: str) -> None:
        if self._inside and not self._anchor:
            self.headings[-1] += data


def headings_of(page: str) -> list[str]:
    parser = _Headings()
    parser.feed(page)
    return parser.headings


def outputs_of(page: str) -> list[str]:
    """Return the HTML of every code cell's outputs, cell by cell."""
    body = page.split('<footer class="kit-site-bar">')[0]
    cells = re.split(r'<div (?:id="[^"]*" )?class="jp-Cell ', body)[1:]
    return [
        cell.split('<div class="jp-Cell-outputWrapper">', 1)[-1]
        for cell in cells
        if cell.startswith("jp-CodeCell") and "jp-Cell-outputWrapper" in cell
    ]


def switch_of(page: Path) -> Path:
    """Return the file the language switch of a page leads to (it must have exactly one)."""
    links = [
        attrs["href"] or ""
        for tag, attrs in tags_of(page.read_text(encoding="utf-8"))
        if tag == "a" and "data-kit-switch" in attrs
    ]
    assert len(links) == 1, f"{page}: {len(links)} language switches"
    return (page.parent / unquote(links[0].split("#")[0])).resolve()


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_build_of_lesson_00_is_a_complete_offline_site_in_both_languages(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    template_db: Path,
) -> None:
    kit = bilingual_kit(tmp_path, monkeypatch)
    out = tmp_path / "site"
    work = seeded_work(tmp_path / "work", template_db)
    assert site.build_site(out, only=["00"], jobs=1, root=kit, work=work)
    printed = capsys.readouterr().out
    assert (
        "executing 1 lesson(s)" in printed and "(1 Spanish page(s) from the same runs)" in printed
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    es = out / "es"

    index = (out / "index.html").read_text(encoding="utf-8")
    lessons = lesson_entries()
    assert len(lessons) == 17
    for entry in lessons:
        assert f'id="lesson-{entry.number}"' in index, f"lesson {entry.number} not listed"
        assert entry.title in index
    assert 'id="course-map"' in index
    spanish_index = (es / "index.html").read_text(encoding="utf-8")
    assert '<html lang="es">' in spanish_index and 'id="mapa-del-curso"' in spanish_index
    assert "Ciclo de vida de ML y MLOps con MLflow" in spanish_index
    for entry in lessons:
        assert f'id="lesson-{entry.number}"' in spanish_index
    assert f"notebooks/{LESSON.stem}.html" in hrefs(spanish_index)

    lesson = out / "notebooks" / f"{LESSON.stem}.html"
    spanish_lesson = es / "notebooks" / f"{LESSON.stem}.html"
    page = lesson.read_text(encoding="utf-8")
    spanish_page = spanish_lesson.read_text(encoding="utf-8")
    # Printed by a code cell of lesson 00 (the source only holds the f-string).
    assert re.search(r"\d+ of \d+ pinned packages match\.", page)
    assert "<td>mlflow</td>" in page and "data:image/png;base64," in page  # table, figure
    assert "../index.html#course-map" in hrefs(page)
    assert "../index.html#mapa-del-curso" in hrefs(spanish_page)
    assert '<html lang="es">' in spanish_page and "← mapa del curso" in spanish_page

    # The Spanish page shows the Spanish text and the English run's outputs.
    spanish_nb = nbformat.read(kit / "notebooks" / "es" / LESSON.name, as_version=4)
    number, title, _ = site.lesson_heading(spanish_nb) or ("", "", "")
    english_title = lessons[0].title
    assert headings_of(spanish_page)[0] == f"{number} · {title}" != f"00 · {english_title}"
    assert headings_of(page)[0] == f"00 · {english_title}"
    for cell in spanish_nb.cells:
        if cell.cell_type == "markdown" and not is_navigation(cell):
            for heading in re.findall(r"^#{1,3} ([^*_`\[\]<>\n]+)$", cell.source, re.MULTILINE):
                assert " ".join(heading.split()) in headings_of(spanish_page), heading
    english_outputs = outputs_of(page)
    assert english_outputs and outputs_of(spanish_page) == english_outputs
    assert re.search(r"\d+ of \d+ pinned packages match\.", spanish_page)
    english_lessons = {p.resolve() for p in (out / "notebooks").glob("*.html")}
    for link in hrefs(spanish_page):
        target = (spanish_lesson.parent / unquote(link.split("#")[0])).resolve()
        if target in english_lessons:  # only the language switch leaves the Spanish edition
            assert target == lesson.resolve()

    labs = sorted((out / "labs").glob("*/index.html"))
    spanish_labs = sorted((es / "labs").glob("*/index.html"))
    assert labs, "no lab page"
    assert (out / "datasets" / "index.html").is_file()
    assert not list(out.rglob("*solution*")), "a solution was published"
    for lab in labs + spanish_labs:
        text = lab.read_text(encoding="utf-8")
        assert "solution.ipynb" not in "".join(hrefs(text))
        assert "Instructor notes" not in text and "Notas para el instructor" not in text
    for lab in spanish_labs:
        text = lab.read_text(encoding="utf-8")
        assert '<html lang="es">' in text and "Ciclo de vida de ML y MLOps con MLflow" in text
        if 'id="student-notebook"' in text:
            assert "El notebook del estudiante" in text

    for page_path in out.rglob("*.html"):
        if page_path not in (out / "index.html", es / "index.html"):
            links = hrefs(page_path.read_text(encoding="utf-8"))
            anchor = "mapa-del-curso" if page_path.is_relative_to(es) else "course-map"
            assert any(link.endswith(f"index.html#{anchor}") for link in links), page_path

    # Every page switches language; a page with a counterpart and the counterpart point at
    # each other, the others lead to the other edition's index.
    indexes = {(out / "index.html").resolve(), (es / "index.html").resolve()}
    for page_path in out.rglob("*.html"):
        target = switch_of(page_path)
        assert target.is_file(), f"{page_path}: the language switch leads nowhere"
        assert target.is_relative_to(es.resolve()) != page_path.is_relative_to(es), page_path
        if target not in indexes or page_path.resolve() in indexes:
            assert switch_of(target) == page_path.resolve(), f"{page_path} <-> {target}"
    assert switch_of(lesson) == spanish_lesson.resolve()
    assert switch_of(out / "index.html") == (es / "index.html").resolve()
    assert switch_of(out / "datasets" / "index.html") == (es / "index.html").resolve()
    for lab in labs:
        spanish_lab = es / lab.relative_to(out)
        assert (
            switch_of(lab)
            == (spanish_lab if spanish_lab.is_file() else es / "index.html").resolve()
        )

    assert broken_references(out) == []
    assert network_loads(out) == []


def test_the_spanish_edition_of_a_lesson_takes_its_text_not_its_code() -> None:
    english = tiny_notebook()
    spanish = nbformat.from_dict(copy.deepcopy(english))
    spanish.cells[0].source = "# 00 · Diminuta\n*Una lección diminuta.*"
    spanish.cells[1].outputs = []
    assert site.translation_problems(english, spanish, "en.ipynb", "es.ipynb") == []
    merged = site.with_edition_text(english, spanish)
    assert merged.cells[0].source.startswith("# 00 · Diminuta")
    assert merged.cells[1].outputs == english.cells[1].outputs
    assert english.cells[0].source.startswith("# 00 · Tiny")  # the English one is untouched


def tiny_kit(root: Path) -> None:
    """Write the few kit files the hand-made notebook links to."""
    (root / "images").mkdir(parents=True)
    (root / "images" / "x.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (root / "utils").mkdir()
    (root / "utils" / "data.py").write_text('"""Loaders."""\n')
    (root / "labs" / "lab01_tiny").mkdir(parents=True)
    (root / "labs" / "lab01_tiny" / "README.md").write_text("# Lab 01 · Tiny\n*A lab.*\n")
    (root / "labs" / "lab01_tiny" / "lab01_solution.ipynb").write_text("{}")


def tiny_notebook() -> nbformat.NotebookNode:
    """A lesson with an image, links of every kind, a printed output and a widget."""
    nb = nbformat.v4.new_notebook()
    markdown = (
        "# 00 · Tiny\n*A tiny lesson.*\n\n![a diagram](../images/x.svg)\n\n"
        "[next](01_x.ipynb) · [later](02_y.ipynb) · [map](../README.md#course-map) · "
        "[loaders](../utils/data.py) · [lab](../labs/lab01_tiny/README.md) · "
        "[answers](../labs/lab01_tiny/lab01_solution.ipynb) · [MLflow](https://mlflow.org) · "
        "[below](#the-end)\n\n## The end\n"
    )
    code = nbformat.v4.new_code_cell('print("hello from the cell")')
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="hello from the cell\n"),
        nbformat.v4.new_output(
            "display_data",
            data={
                site.WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                "text/plain": "IntSlider(value=3)",
            },
        ),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), code]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_conversion_rewrites_links_and_keeps_outputs(tmp_path: Path) -> None:
    tiny_kit(tmp_path)
    lessons = ("notebooks/00_tiny.ipynb", "notebooks/01_x.ipynb", "notebooks/02_y.ipynb")
    site_map = site.SiteMap(
        root=tmp_path, lessons=lessons, built=frozenset(lessons[:2])
    )  # 02 is not rendered in this build
    page, needed = site.render_notebook(
        tiny_notebook(), lessons[0], "notebooks/00_tiny.html", site_map, "00 · Tiny"
    )

    links = hrefs(page)
    assert "01_x.html" in links
    assert "../index.html#lesson-02" in links
    assert "../index.html#course-map" in links
    assert "../utils/data.py.html" in links
    assert "../labs/lab01_tiny/index.html" in links
    assert "https://mlflow.org" in links
    assert "#The-end" in links
    assert not any("solution" in link for link in links)
    assert "answers" in page  # the unpublished link keeps its text
    sources = [attrs.get("src") for tag, attrs in tags_of(page) if tag == "img"]
    assert "../images/x.svg" in sources
    assert needed == {"images/x.svg", "utils/data.py"}

    header = [a["href"] for tag, a in tags_of(page) if tag == "a" and "data-kit-site" in a]
    assert header == ["../index.html#course-map"] * 2  # the page's header and footer
    assert "data-kit-switch" not in page  # an English-only build has no language switch

    out = tmp_path / "out"
    assert site.publish("utils/data.py", site_map, out).site_path == "utils/data.py.html"
    text_page = (out / "utils" / "data.py.html").read_text(encoding="utf-8")
    assert "Loaders" in text_page and "../index.html#course-map" in hrefs(text_page)
    assert site.publish("images/x.svg", site_map, out).site_path == "images/x.svg"
    assert (out / "images" / "x.svg").is_file()

    assert "hello from the cell" in page
    assert "IntSlider(value=3)" in page, "the widget's text fallback is missing"
    assert site.WIDGET_VIEW not in page
    assert not re.search(r"<script[^>]*\ssrc=", page)
    assert "<title>00 · Tiny</title>" in page


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_failing_notebook_fails_the_build_and_leaves_no_site(
    tmp_path: Path, template_db: Path
) -> None:
    kit = tmp_path / "kit"
    (kit / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 00 · Boom\n*A lesson that fails.*"),
        nbformat.v4.new_code_cell('raise ValueError("boom")'),
    ]
    nbformat.write(nb, kit / "notebooks" / "00_boom.ipynb")
    out = tmp_path / "site"

    work = seeded_work(tmp_path / "work", template_db)
    with pytest.raises(site.BuildFailure, match=r"cell 1 .*ValueError: boom"):
        site.build_site(out, jobs=1, root=kit, work=work)

    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_spanish_notebook_whose_code_differs_stops_the_build(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    (kit / "notebooks" / "es").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 00 · Tiny\n*A tiny lesson.*"),
        nbformat.v4.new_code_cell('print("hello")'),
    ]
    nbformat.write(nb, kit / "notebooks" / "00_tiny.ipynb")
    spanish = nbformat.from_dict(copy.deepcopy(nb))
    spanish.cells[0].source = "# 00 · Diminuta\n*Una lección diminuta.*"
    # The English code changed since the Spanish notebook was written by `make translations`.
    spanish.cells[1].source = 'print("hola")'
    nbformat.write(spanish, kit / "notebooks" / "es" / "00_tiny.ipynb")
    out = tmp_path / "site"
    code_cell = nb.cells[1].id

    with pytest.raises(site.BuildFailure) as failure:
        site.build_site(out, jobs=1, root=kit, work=tmp_path / "work")

    message = str(failure.value)
    assert "notebooks/es/00_tiny.ipynb" in message and f"code cell {code_cell}" in message
    assert "make translations" in message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert not (tmp_path / "work" / "00_tiny").exists(), "a lesson ran before the check"


def test_the_lang_option_chooses_the_editions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen: list[tuple[str, ...]] = []

    def build(out: Path, only: list[str], jobs: int, langs: tuple[str, ...]) -> list[Path]:
        chosen.append(tuple(langs))
        return []

    monkeypatch.setattr(site, "build_site", build)
    for option in ([], ["--lang", "all"], ["--lang", "en"], ["--lang", "es"]):
        assert site.main(["--out", str(tmp_path / "site"), *option]) == 0
    assert chosen == [("en", "es"), ("en", "es"), ("en",), ("es",)]
    with pytest.raises(SystemExit):
        site.main(["--lang", "fr"])
    assert "--lang" in site.__doc__
