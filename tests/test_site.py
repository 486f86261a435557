"""The course site: a real build of lesson 00, the page conversion, and a failing build."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from tools import site
from tools.navigation import lesson_entries

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


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_build_of_lesson_00_is_a_complete_offline_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    assert site.main(["--only", "00", "--out", str(out), "--jobs", "1"]) == 0
    assert "index.html" in capsys.readouterr().out

    index = (out / "index.html").read_text(encoding="utf-8")
    lessons = lesson_entries()
    assert len(lessons) == 17
    for entry in lessons:
        assert f'id="lesson-{entry.number}"' in index, f"lesson {entry.number} not listed"
        assert entry.title in index
    assert 'id="course-map"' in index

    lesson = out / "notebooks" / "00_welcome_and_setup.html"
    assert lesson.is_file()
    page = lesson.read_text(encoding="utf-8")
    # Printed by a code cell of lesson 00 (the source only holds the f-string).
    assert re.search(r"\d+ of \d+ pinned packages match\.", page)
    assert "../index.html#course-map" in hrefs(page)

    labs = sorted((out / "labs").glob("*/index.html"))
    assert labs, "no lab page"
    assert (out / "datasets" / "index.html").is_file()
    assert not list(out.rglob("*solution*")), "a solution was published"
    for lab in labs:
        assert "solution.ipynb" not in "".join(hrefs(lab.read_text(encoding="utf-8")))

    for page in out.rglob("*.html"):
        if page != out / "index.html":
            links = hrefs(page.read_text(encoding="utf-8"))
            assert any(link.endswith("index.html#course-map") for link in links), page

    assert broken_references(out) == []
    assert network_loads(out) == []


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
def test_a_failing_notebook_fails_the_build_and_leaves_no_site(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    (kit / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 00 · Boom\n*A lesson that fails.*"),
        nbformat.v4.new_code_cell('raise ValueError("boom")'),
    ]
    nbformat.write(nb, kit / "notebooks" / "00_boom.ipynb")
    out = tmp_path / "site"

    with pytest.raises(site.BuildFailure, match=r"cell 1 .*ValueError: boom"):
        site.build_site(out, jobs=1, root=kit, work=tmp_path / "work")

    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
