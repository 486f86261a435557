"""Build the course as a static HTML site that students can read offline, in English and Spanish.

``python -m tools.site`` (``make site``) executes every lesson notebook the way the
tests do (a kernel and an MLflow store of its own each, see :mod:`tools.runner`), in
parallel, and converts the executed copies to HTML. It adds a page per lab (its README
without the instructor notes, and the student notebook, not executed; the solutions are
not published), the datasheet of the case-study data, and an index with the course map.
Links between the kit's files become links between the site's pages; the pages load
nothing from the network.

Two editions are built: English at the site's root (``build/site/``) and Spanish under
``es/`` (``build/site/es/``), each with its own page chrome, and every page carries a
link to the same page in the other language (to the other edition's index, at the
lesson's or lab's row, when that page has no counterpart). The Spanish edition comes from
the files ``make translations`` writes and the Spanish documents:

* a Spanish lesson page is the *English executed notebook* with its markdown cells
  replaced by those of ``notebooks/es/<stem>.ipynb``, matched by cell id: lessons are
  executed once. The code cells of the two notebooks must be identical; when they are not
  (the Spanish edition is stale: run ``make translations``) the build stops and names the
  notebook and the cell, before anything is executed;
* a Spanish lab page is ``labs/<lab>/README.es.md`` (without ``## Notas para el
  instructor``) and ``labs/<lab>/es/labNN_student.ipynb`` (the English student notebook
  while there is no Spanish one); the Spanish index is ``README.es.md``'s title and
  introduction with the course map in Spanish;
* a lesson, lab or datasheet without a Spanish edition has no page in ``es/``: the Spanish
  pages link to its English page instead (the Spanish index marks such links "en
  inglés"). Links inside Spanish pages lead to Spanish pages wherever the link's target
  has one (``notebooks/es/...``, ``README.es.md``, ``labs/<lab>/README.es.md``); images,
  the notebook styles and other linked files are shared by both editions.

``--lang en|es|all`` (default ``all``) builds one edition or both. With one, the pages
carry no language switch, and a link to a file of the other edition leads to the built
edition's page for it (or its row in the course map); ``--lang es`` executes only the
lessons that have a Spanish notebook, writes no English page (the site's root then holds
only ``es/`` and the shared files) and leaves the English-only datasheet out.
``--only 00 07`` renders only those lessons (the index still lists every lesson).

The site is written to a temporary folder next to ``--out`` (``build/site``) and moved
into place only when every page of both editions is written: a failing notebook or a
stale Spanish edition stops the build with a message and leaves the previous site, if
any, as it was.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import hashlib
import html
import logging
import os
import posixpath
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from html.parser import HTMLParser
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import nbformat

from tools import navigation, runner
from tools.notebook_checks import ROOT, is_navigation

if TYPE_CHECKING:
    from nbconvert import HTMLExporter

OUT = ROOT / "build" / "site"
TEMPLATE_DIR = Path(__file__).resolve().parent / "site_template"
MARKER = ".kit-site"  # marks a folder this tool wrote, so that it may replace it
SITE_NAME = "ML lifecycle and MLOps with MLflow"
IMAGE_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp"}
TEXT_PAGE_LIMIT = 256 * 1024  # larger linked files stay plain text
PRIVATE_PARTS = {".git", ".venv", "build", "mlflow_store", "mlruns", "__pycache__"}
PRIVATE_NAMES = {"answer_key.json", ".env"}
SITE_LINK = "data-kit-site"  # marks the template's links, which are site paths already
SWITCH_LINK = "data-kit-switch"  # marks the language switch, a site path already too
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
LAB_DIR = re.compile(r"^labs/(lab(\d{2})_[^/]+)/(.+)$")
LESSON_NAME = re.compile(r"^(\d{2})_.+\.ipynb$")
BENCH_ROW = re.compile(r"^\| notebooks/(\S+\.ipynb) \| ([\d.]+) \|", re.MULTILINE)
MD_LINK = re.compile(r"(!?\[[^\]]*\]\()(\s*<?)([^)\s>]+)")
HTML_LINK = re.compile(r"(<(?:img|a)\b[^>]*\s(?:src|href)=\")([^\"]+)")
#: The editions, English first: English pages at the site's root, the others in a folder.
LANGS = ("en", "es")
OTHER = {"en": "es", "es": "en"}
EDITION_KINDS = ("index", "lesson", "lab", "datasheet")
#: The words of each edition's page chrome.
CHROME: dict[str, dict[str, str]] = {
    "en": {
        "name": SITE_NAME,
        "language": "English",
        "map": "Course map",
        "map_anchor": "course-map",
        "back": "← course map",
        "unpublished": "not part of the site",
        "widget": "(an interactive widget: run the notebook to use it)",
        "student_heading": "The student notebook: {name}",
        "student_intro": (
            "Below is the notebook you work in, as it is before you start. Open it in "
            "JupyterLab (`{path}`) to write your answers and run the checks."
        ),
        "lessons": "Lessons",
        "labs": "Labs",
        "datasheet": "Datasheet",
        "data": "The data",
        "lesson": "Lesson",
        "lab": "Lab",
        "after": "After lesson",
        "what": "What you will do",
        "not_rendered": "(not rendered in this build)",
        "other_edition": "(in Spanish)",
        "executed": (
            "The lessons below were executed from top to bottom, so every output you see is "
            "what\nthe code printed. To run them yourself, open the kit in JupyterLab "
            "(<code>make start</code>)."
        ),
        "data_text": (
            'Every lesson works on the same synthetic data: read its <a href="{href}">'
            "datasheet</a> (files, columns, how the data were made)."
        ),
        "footer": "{title}: {built} of {total} lessons rendered.",
    },
    "es": {
        "name": "Ciclo de vida de ML y MLOps con MLflow",
        "language": "Español",
        "map": "Mapa del curso",
        "map_anchor": "mapa-del-curso",
        "back": "← mapa del curso",
        "unpublished": "no forma parte del sitio",
        "widget": "(un widget interactivo: ejecuta el notebook para usarlo)",
        "student_heading": "El notebook del estudiante: {name}",
        "student_intro": (
            "Abajo está el notebook en el que trabajas, tal como está antes de empezar. "
            "Ábrelo en JupyterLab (`{path}`) para escribir tus respuestas y ejecutar las "
            "comprobaciones."
        ),
        "lessons": "Lecciones",
        "labs": "Labs",
        "datasheet": "Ficha de los datos",
        "data": "Los datos",
        "lesson": "Lección",
        "lab": "Lab",
        "after": "Después de la lección",
        "what": "Qué harás",
        "not_rendered": "(no generada en esta compilación)",
        "other_edition": "(en inglés)",
        "executed": (
            "Las lecciones de abajo se ejecutaron de principio a fin, así que cada salida que "
            "ves es\nlo que imprimió el código. Para ejecutarlas tú, abre el kit en JupyterLab "
            "(<code>make start</code>)."
        ),
        "data_text": (
            "Todas las lecciones trabajan con los mismos datos sintéticos: lee su "
            '<a href="{href}">ficha</a> (archivos, columnas, cómo se generaron los datos).'
        ),
        "footer": "{title}: {built} de {total} lecciones generadas.",
    },
}
#: A README's line that only points at its other edition ("*Read this in English: ...*").
LANGUAGE_LINE = re.compile(r"^\*?[^\n\[]*\[[^\]]*\]\(README(?:\.[a-z]{2})?\.md\)\*?$")
#: The lab README sections that are for instructors only (in any edition).
INSTRUCTOR_NOTES = ("## Instructor notes", "## Notas para el instructor")

PAGE_CSS = """
main { max-width: 1100px; margin: 0 auto; }
.kit-site-bar { display: flex; justify-content: space-between; align-items: baseline;
  gap: 1em; margin: 0.5em 0 1.5em; padding: 0.6em 1em; border-radius: 6px;
  background: #f1f4f8; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
footer.kit-site-bar { margin: 2em 0 1em; }
.kit-site-bar a { color: #1a5fb4; text-decoration: none; font-weight: 600; }
.kit-site-bar a:hover { text-decoration: underline; }
.kit-site-name, .kit-site-source { color: #555; }
a.kit-unpublished { color: inherit; text-decoration: none; cursor: text; }
"""

INDEX_CSS = """
body { margin: 0; background: #fafbfc; color: #1f2328;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 1.5em 1.25em 3em; }
h1 { font-size: 1.9em; line-height: 1.25; margin: 0.4em 0 0.5em; }
h2 { margin-top: 1.8em; padding-bottom: 0.25em; border-bottom: 1px solid #d8dee4; }
a { color: #1a5fb4; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #eef1f4; padding: 0.1em 0.3em; border-radius: 4px; }
table { border-collapse: collapse; width: 100%; margin: 0.8em 0; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 0.5em 0.7em;
  border-bottom: 1px solid #e3e7eb; }
th { background: #f1f4f8; font-weight: 600; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; color: #555; }
.muted { color: #6e7781; }
.lead { font-size: 1.05em; }
nav.top a { margin-right: 1.2em; }
footer { margin-top: 3em; color: #6e7781; font-size: 0.9em; }
pre { background: #f6f8fa; padding: 1em; overflow: auto; border-radius: 6px;
  font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.kit-site-bar { display: flex; justify-content: space-between; gap: 1em; padding: 0.6em 1em;
  border-radius: 6px; background: #f1f4f8; font-size: 14px; }
.kit-site-bar a { font-weight: 600; text-decoration: none; }
"""


class BuildFailure(RuntimeError):
    """The site could not be built (a notebook failed, or the output folder is not ours)."""


def edition_of(rel: str) -> str:
    """Return the edition a kit file belongs to: ``es`` for ``X.es.md`` and ``.../es/X``."""
    parts = rel.split("/")
    return "es" if rel.endswith(".es.md") or (len(parts) > 1 and parts[-2] == "es") else "en"


def edition_rel(rel: str, lang: str) -> str:
    """Return the path of the kit file ``rel`` in the edition ``lang`` (it may not exist).

    ``README.md`` and ``README.es.md``, ``notebooks/X.ipynb`` and ``notebooks/es/X.ipynb``
    are the two editions of one file.
    """
    parts = rel.split("/")
    if rel.endswith(".es.md"):
        english = rel.removesuffix(".es.md") + ".md"
    elif len(parts) > 1 and parts[-2] == "es":
        english = "/".join(parts[:-2] + parts[-1:])
    else:
        english = rel
    if lang == "en":
        return english
    if english.endswith(".md"):
        return english.removesuffix(".md") + f".{lang}.md"
    return posixpath.join(posixpath.dirname(english), lang, posixpath.basename(english))


def edition_prefix(lang: str) -> str:
    """Return the folder of an edition in the site (``""`` for English, ``"es/"``)."""
    return "" if lang == "en" else f"{lang}/"


def edition_of_page(site_path: str) -> str:
    """Return the edition a page of the site belongs to."""
    first = site_path.split("/", 1)[0]
    return first if first in LANGS and "/" in site_path else "en"


@dataclass(frozen=True)
class SiteMap:
    """Where each file of the kit lands in the site.

    Attributes:
        root: The kit's folder (the repository).
        lessons: Every lesson notebook, as a path relative to ``root``.
        built: The lessons executed in this build (relative paths of the English notebooks).
        langs: The editions this build writes (``en`` at the root, ``es`` under ``es/``).
        translated: The lessons of ``built`` whose Spanish page this build writes (relative
            paths of the English notebooks).
    """

    root: Path
    lessons: tuple[str, ...]
    built: frozenset[str]
    langs: tuple[str, ...] = ("en",)
    translated: frozenset[str] = frozenset()

    def kind(self, rel: str) -> str | None:
        """Return how the kit file ``rel`` is published, or ``None`` when it is not.

        Args:
            rel: A POSIX path relative to the root (either edition of a file).

        Returns:
            ``"index"``, ``"lesson"``, ``"lab"``, ``"datasheet"``, ``"image"``, ``"doc"``
            (a markdown page), ``"text"`` (a source file shown as text) or ``None``.
        """
        parts = rel.split("/")
        if (
            PRIVATE_PARTS.intersection(parts)
            or parts[-1] in PRIVATE_NAMES
            or rel.startswith(".venv-")
        ):
            return None
        if "solution" in parts[-1] or rel.startswith("utils/labs/"):
            return None  # the site is for students: no solutions, no lab answers
        english = edition_rel(rel, "en")
        if english == "README.md":
            return "index"
        if english in self.lessons:
            return "lesson"
        lab = LAB_DIR.match(english)
        if lab and lab.group(3) in ("README.md", f"lab{lab.group(2)}_student.ipynb"):
            return "lab"
        if english == "datasets/README.md":
            return "datasheet"
        path = self.root / rel
        if not path.is_file():
            return None
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            return "image"
        if suffix == ".md":
            return "doc"
        if suffix == ".ipynb" or path.stat().st_size > TEXT_PAGE_LIMIT:
            return None
        try:
            path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            return None
        return "text"

    def index(self, lang: str) -> str:
        """Return the index page of the edition ``lang`` (the other one's if not built)."""
        return edition_prefix(lang if lang in self.langs else OTHER[lang]) + "index.html"

    def home(self, lang: str) -> tuple[str, str]:
        """Return the index page a page of ``lang`` leads back to, and its course map's id."""
        index = self.index(lang)
        return index, CHROME[edition_of_page(index)]["map_anchor"]

    def page(self, kind: str, rel: str, lang: str) -> tuple[str, str] | None:
        """Return the page of the edition ``lang`` that stands for ``rel``, if it has one.

        Args:
            kind: ``rel``'s kind, one of :data:`EDITION_KINDS`.
            rel: Either edition of the kit file.
            lang: The edition whose page is wanted.

        Returns:
            ``(site path, fragment)``, or ``None`` when that edition has no such page in
            this build.
        """
        if lang not in self.langs:
            return None
        english, prefix = edition_rel(rel, "en"), edition_prefix(lang)
        if kind == "index":
            return prefix + "index.html", ""
        if kind == "lesson":
            rendered = english in (self.built if lang == "en" else self.translated)
            return (prefix + english.removesuffix(".ipynb") + ".html", "") if rendered else None
        if kind == "lab":
            lab = LAB_DIR.match(english)
            assert lab is not None
            if not (self.root / edition_rel(f"labs/{lab.group(1)}/README.md", lang)).is_file():
                return None
            fragment = "" if lab.group(3) == "README.md" else "student-notebook"
            return f"{prefix}labs/{lab.group(1)}/index.html", fragment
        if kind == "datasheet":
            if not (self.root / edition_rel(english, lang)).is_file():
                return None
            return prefix + "datasets/index.html", ""
        return None

    @staticmethod
    def anchor(kind: str, rel: str) -> str:
        """Return the id of ``rel``'s row (or section) on an index page."""
        english = edition_rel(rel, "en")
        if kind == "lesson":
            return f"lesson-{posixpath.basename(english)[:2]}"
        lab = LAB_DIR.match(english)
        if kind == "lab" and lab:
            return f"lab-{lab.group(2)}"
        return "data" if kind == "datasheet" else ""

    def target(self, rel: str) -> tuple[str, str] | None:
        """Return the site path and fragment that stand for the kit file ``rel``.

        A file of one edition leads to its page in that edition, else to its page in the
        other edition, else to its row on the course map of its edition's index.

        Args:
            rel: A POSIX path relative to the root.

        Returns:
            ``(site path, fragment)``, or ``None`` when the file is not in the site.
        """
        kind = self.kind(rel)
        if kind is None:
            return None
        if kind in EDITION_KINDS:
            lang = edition_of(rel)
            for edition in (lang, OTHER[lang]):
                page = self.page(kind, rel, edition)
                if page is not None:
                    return page
            if kind == "datasheet":
                return None
            return self.index(lang), self.anchor(kind, rel)
        if kind == "image":
            return rel, ""
        if kind == "doc":
            return rel.removesuffix(".md") + ".html", ""
        return rel + ".html", ""

    def switch(self, rel: str) -> tuple[str, str, str] | None:
        """Return where the language switch of the page made from ``rel`` leads.

        Returns:
            ``(site path, fragment, language)``: the same page in the other edition, else
            the other edition's index (at the lesson's or lab's row); ``None`` when this
            build writes one edition only.
        """
        lang = edition_of(rel)
        other = OTHER[lang]
        if other not in self.langs:
            return None
        kind = self.kind(rel)
        if kind in EDITION_KINDS:
            page = self.page(kind, rel, other)
            if page is not None:
                return page[0], "", other
            return self.index(other), self.anchor(kind, rel), other
        counterpart = edition_rel(rel, other)
        if kind == "doc" and counterpart != rel and self.kind(counterpart) == "doc":
            return counterpart.removesuffix(".md") + ".html", "", other
        return self.index(other), "", other


@dataclass
class Page:
    """One written page and the kit files it links to that must be published too."""

    site_path: str
    needed: set[str] = field(default_factory=set)
    seconds: float = 0.0


class _TagScanner(HTMLParser):
    """Collects every start tag with its position (script and style bodies are skipped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[tuple[int, int], str, str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((self.getpos(), self.get_starttag_text() or "", tag, attrs))


def _start_tag(tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> str:
    """Write a start tag back out from its name and attributes."""
    text = "".join(
        f" {name}" if value is None else f' {name}="{html.escape(value, quote=True)}"'
        for name, value in attrs
    )
    return f"<{tag}{text}{' /' if closed else ''}>"


def rewrite_links(
    page: str, source_rel: str, site_path: str, site: SiteMap
) -> tuple[str, set[str]]:
    """Point the relative links and sources of a page at the site's own files.

    Links to files the site does not publish lose their ``href`` (their text stays);
    the editions of a file lead to their pages (see :meth:`SiteMap.target`);
    external links stay as they are; in-page anchors are matched to the page's ids
    ignoring case (GitHub-style ``#how-it-works`` finds nbconvert's ``How-it-works``).

    Args:
        page: The HTML of the page.
        source_rel: The kit file the page was made from, relative to the root.
        site_path: Where the page lands in the site.
        site: The site's map.

    Returns:
        The rewritten HTML and the kit files (images, documents, text files) it links to.
    """
    scanner = _TagScanner()
    scanner.feed(page)
    scanner.close()
    ids = {
        value.lower(): value
        for _, _, _, attrs in scanner.tags
        for name, value in attrs
        if name in ("id", "name") and value
    }
    starts = [0]
    for line in page.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    source_dir = posixpath.dirname(source_rel)
    page_dir = posixpath.dirname(site_path) or "."
    needed: set[str] = set()
    edits: list[tuple[int, int, str]] = []
    unpublished = CHROME[edition_of(source_rel)]["unpublished"]
    for (line, column), raw, tag, attrs in scanner.tags:
        if any(name in (SITE_LINK, SWITCH_LINK) for name, _ in attrs):
            continue  # the page's own header and footer already point into the site
        changed, new_attrs = False, []
        for name, value in attrs:
            if name not in ("href", "src") or value is None:
                new_attrs.append((name, value))
                continue
            new = _rewrite_url(value, source_dir, page_dir, site, ids, needed)
            changed = changed or new != value
            if new is None:
                if tag == "a":
                    new_attrs += [("class", "kit-unpublished"), ("title", unpublished)]
                elif tag == "img":
                    new_attrs.append(("data-missing", value))
                continue
            new_attrs.append((name, new))
        if changed:
            offset = starts[line - 1] + column
            assert page[offset : offset + len(raw)] == raw, "tag position out of step"
            edits.append(
                (offset, offset + len(raw), _start_tag(tag, new_attrs, raw.endswith("/>")))
            )
    for begin, end, text in reversed(edits):
        page = page[:begin] + text + page[end:]
    return page, needed


def _rewrite_url(
    url: str, source_dir: str, page_dir: str, site: SiteMap, ids: dict[str, str], needed: set[str]
) -> str | None:
    """Return the site's version of one ``href``/``src`` value (``None``: not in the site)."""
    url = url.strip()
    if url.startswith("#"):
        fragment = unquote(url[1:])
        if fragment in ids.values() or fragment.lower() not in ids:
            return url
        return "#" + quote(ids[fragment.lower()])
    if not url or SCHEME.match(url) or url.startswith("//"):
        return url
    path, _, fragment = url.partition("#")
    path = unquote(path.split("?", 1)[0])
    if path.startswith("/"):
        return None
    rel = posixpath.normpath(posixpath.join(source_dir, path))
    if rel == ".." or rel.startswith("../"):
        return None
    target = site.target(rel)
    if target is None:
        return None
    site_path, own_fragment = target
    if site.kind(rel) in ("image", "doc", "text"):
        needed.add(rel)
    fragment = fragment or own_fragment
    href = quote(posixpath.relpath(site_path, page_dir))
    return f"{href}#{fragment}" if fragment else href


@functools.cache
def _exporter(lang: str = "en") -> HTMLExporter:
    """Return the HTML exporter with the site's template (one per process and language).

    nbconvert is imported here, not at the top: it is slow to import.
    """
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name=TEMPLATE_DIR.name,
        template_file="page.html.j2",
        extra_template_basedirs=[str(TEMPLATE_DIR.parent)],
        language_code=lang,
    )


def drop_widgets(nb: nbformat.NotebookNode, text: str = CHROME["en"]["widget"]) -> None:
    """Replace ipywidgets views (which need JavaScript from a CDN) by their text fallback."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if not data:
                    data["text/plain"] = text


def _shared_css(page: str, out_root: Path | None, site_path: str) -> str:
    """Move the page's head styles into one shared stylesheet of the site.

    Every notebook page carries the same 300 kB of JupyterLab styles; the site stores
    them once, under ``assets/``, named by their hash.
    """
    if out_root is None:
        return page
    head_end = page.find("</head>")
    styles = list(re.finditer(r"<style[^>]*>(.*?)</style>\s*", page[:head_end], re.DOTALL))
    if not styles:
        return page
    css = "\n".join(match.group(1) for match in styles)
    name = f"assets/notebook-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
    target = out_root / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{uuid.uuid4().hex}.tmp")
        temporary.write_text(css, encoding="utf-8")
        os.replace(temporary, target)  # several processes may write it at once
    href = posixpath.relpath(name, posixpath.dirname(site_path) or ".")
    link = f'<link rel="stylesheet" href="{href}">\n'
    head = page[:head_end]
    for match in reversed(styles):
        head = head[: match.start()] + head[match.end() :]
    first = styles[0].start()
    return head[:first] + link + head[first:] + page[head_end:]


def render_notebook(
    nb: nbformat.NotebookNode,
    source_rel: str,
    site_path: str,
    site: SiteMap,
    title: str,
    out_root: Path | None = None,
) -> tuple[str, set[str]]:
    """Convert a notebook to a site page, with the chrome of the edition of ``source_rel``.

    Args:
        nb: The notebook (executed or not).
        source_rel: The kit file it comes from, relative to the root (for its links).
        site_path: Where the page lands in the site.
        site: The site's map.
        title: The page's title.
        out_root: The site folder, to share the notebook styles; ``None`` keeps them inline.

    Returns:
        The page's HTML and the kit files it links to that the site must publish.
    """
    lang = edition_of(source_rel)
    chrome = CHROME[lang]
    nb = nbformat.from_dict(nb)
    drop_widgets(nb, chrome["widget"])
    nb.metadata["title"] = title
    nb.metadata.setdefault("language_info", {"name": "python"})
    page_dir = posixpath.dirname(site_path) or "."
    home, anchor = site.home(lang)
    resources = {
        "site": {
            "css": PAGE_CSS,
            "home": f"{posixpath.relpath(home, page_dir)}#{anchor}",
            "back": chrome["back"],
            "name": chrome["name"],
            "source": source_rel,
            "switch": switch_link(site.switch(source_rel), page_dir),
        },
        "metadata": {"name": title},
    }
    body, _ = _exporter(lang).from_notebook_node(nb, resources=resources)
    body, needed = rewrite_links(body, source_rel, site_path, site)
    return _shared_css(body, out_root, site_path), needed


def switch_link(switch: tuple[str, str, str] | None, page_dir: str) -> dict[str, str] | None:
    """Return the language switch of a page: its ``href``, label and language."""
    if switch is None:
        return None
    path, fragment, lang = switch
    href = quote(posixpath.relpath(path, page_dir)) + (f"#{fragment}" if fragment else "")
    return {"href": href, "label": CHROME[lang]["language"], "lang": lang}


def switch_html(switch: dict[str, str] | None) -> str:
    """Return the language switch as a link (empty when there is none)."""
    if switch is None:
        return ""
    esc = html.escape
    return (
        f'<a {SWITCH_LINK} href="{esc(switch["href"])}" hreflang="{switch["lang"]}" '
        f'lang="{switch["lang"]}">{esc(switch["label"])}</a>'
    )


def markdown_notebook(*texts: str) -> nbformat.NotebookNode:
    """Return a notebook of markdown cells, to render markdown like the lessons."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in texts]
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write_page(out_root: Path, site_path: str, text: str) -> Path:
    """Write one page of the site and return its path."""
    path = out_root / site_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the course ----------------------------------------------------------------------


def inline_html(text: str) -> str:
    """Return a title's markdown (``*emphasis*``, ``code``) as HTML."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"(?<![\w*])[*_]([^*_]+)[*_](?![\w*])", r"<em>\1</em>", text)


def plain(text: str) -> str:
    """Return a title without its markdown marks (for ``<title>``)."""
    return re.sub(r"(?<![\w*])[*_`]([^*_`]+)[*_`](?![\w*])", r"\1", text)


def first_heading(text: str, default: str) -> str:
    """Return the first ``# Heading`` of a markdown text."""
    match = re.search(r"^# (.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else default


def course(root: Path) -> tuple[list[navigation.Entry], list[navigation.Entry]]:
    """Return the lessons and the labs of the kit in ``root``, as the course map lists them."""
    return navigation.lesson_entries(root / "notebooks"), navigation.lab_entries(root / "labs")


def readme_intro(root: Path, rel: str = "README.md") -> tuple[str, str]:
    """Return a README's title and its first paragraph (markdown).

    A paragraph that only points at the other edition of the README ("Read this in
    English: ...") is skipped: the site's language switch does that.
    """
    readme = root / rel
    name = CHROME[edition_of(rel)]["name"]
    if not readme.exists():
        return name, ""
    text = readme.read_text(encoding="utf-8")
    title = first_heading(text, name)
    after = text.split(f"# {title}", 1)[-1]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", after) if p.strip()]
    intro = next(
        (
            p
            for p in paragraphs
            if not p.startswith(("#", "<!--", "|", "```")) and not LANGUAGE_LINE.match(p)
        ),
        "",
    )
    return title, intro


def lesson_heading(nb: nbformat.NotebookNode) -> tuple[str, str, str] | None:
    """Return a lesson's number, title and subtitle from its first markdown cell."""
    first = next((c for c in nb.cells if c.cell_type == "markdown" and not is_navigation(c)), None)
    try:
        return navigation.heading_and_subtitle(first.source) if first is not None else None
    except ValueError:
        return None


def edition_entries(
    root: Path, lessons: list[navigation.Entry], labs: list[navigation.Entry], lang: str
) -> tuple[list[navigation.Entry], list[navigation.Entry]]:
    """Return the lessons and labs titled in ``lang`` where that edition has them.

    A lesson's title comes from its edition's notebook, a lab's from its edition's README;
    the English entry stays where there is none (or it cannot be read yet).
    """
    if lang == "en":
        return lessons, labs
    lesson_entries = []
    for entry in lessons:
        path = root / edition_rel(entry.path.relative_to(root).as_posix(), lang)
        heading = None
        if path.is_file():
            try:
                heading = lesson_heading(nbformat.read(path, as_version=4))
            except (OSError, ValueError):
                heading = None
        if heading:
            entry = dataclasses.replace(entry, title=heading[1], subtitle=heading[2])
        lesson_entries.append(entry)
    lab_entries = []
    for entry in labs:
        readme = root / edition_rel(f"{entry.path.relative_to(root).as_posix()}/README.md", lang)
        if readme.is_file():
            try:
                _, title, subtitle = navigation.heading_and_subtitle(
                    readme.read_text(encoding="utf-8")
                )
                entry = dataclasses.replace(entry, title=title, subtitle=subtitle)
            except (OSError, ValueError):
                pass
        lab_entries.append(entry)
    return lesson_entries, lab_entries


def render_index(
    root: Path,
    site: SiteMap,
    lessons: list[navigation.Entry],
    labs: list[navigation.Entry],
    lang: str = "en",
) -> str:
    """Return the HTML of an edition's index page: the introduction and the course map."""
    import mistune

    chrome = CHROME[lang]
    site_path = edition_prefix(lang) + "index.html"
    page_dir = posixpath.dirname(site_path) or "."
    readme = edition_rel("README.md", lang)
    source = readme if (root / readme).is_file() else "README.md"  # no README.es.md yet
    title, intro = readme_intro(root, source)
    if source != readme:
        title = chrome["name"]
    intro_html, _ = rewrite_links(mistune.html(intro), source, site_path, site)
    esc = html.escape

    def link(target: tuple[str, str], text: str) -> str:
        path, fragment = target
        href = quote(posixpath.relpath(path, page_dir)) + (f"#{fragment}" if fragment else "")
        other = ""
        if edition_of_page(path) != lang:
            other = f' <span class="muted">{esc(chrome["other_edition"])}</span>'
        return f'<a href="{esc(href)}">{inline_html(text)}</a>{other}'

    titled_lessons, titled_labs = edition_entries(root, lessons, labs, lang)
    rows = []
    for entry in titled_lessons:
        rel = edition_rel(entry.path.relative_to(root).as_posix(), "en")
        page = site.target(edition_rel(rel, lang))
        if page and not page[1]:  # a lesson's page, not its row on the course map
            name = link(page, entry.title)
        else:
            muted = f'<span class="muted">{esc(chrome["not_rendered"])}</span>'
            name = f"{inline_html(entry.title)} {muted}"
        rows.append(
            f'<tr id="lesson-{entry.number}"><td class="num">{entry.number}</td>'
            f"<td>{name}</td><td>{inline_html(entry.subtitle)}</td></tr>"
        )
    lab_rows = []
    for entry in titled_labs:
        rel = edition_rel(f"{entry.path.relative_to(root).as_posix()}/README.md", "en")
        target = site.target(edition_rel(rel, lang))
        label = f"{chrome['lab']} {entry.number} · {entry.title}"
        name = link(target, label) if target else inline_html(label)
        after = ""
        if entry.after:
            lesson = next((e for e in lessons if e.number == entry.after), None)
            after = entry.after
            if lesson:
                target = site.target(edition_rel(lesson.path.relative_to(root).as_posix(), lang))
                if target:
                    path, fragment = target
                    href = quote(posixpath.relpath(path, page_dir))
                    href += f"#{fragment}" if fragment else ""
                    after = f'<a href="{esc(href)}">{entry.after}</a>'
        lab_rows.append(
            f'<tr id="lab-{entry.number}"><td>{name}</td><td class="num">{after}</td>'
            f"<td>{inline_html(entry.subtitle)}</td></tr>"
        )
    datasheet = site.target(edition_rel("datasets/README.md", lang))
    datasheet_href = ""
    data_link = ""
    if datasheet:
        datasheet_href = esc(quote(posixpath.relpath(datasheet[0], page_dir)))
        data_link = f"<p>{chrome['data_text'].format(href=datasheet_href)}"
        if edition_of_page(datasheet[0]) != lang:
            data_link += f' <span class="muted">{esc(chrome["other_edition"])}</span>'
        data_link += "</p>"
    labs_html = (
        f"<h3>{chrome['labs']}</h3>\n<table>\n<tr><th>{chrome['lab']}</th>"
        f"<th>{chrome['after']}</th><th>{chrome['what']}</th></tr>\n"
        + "\n".join(lab_rows)
        + "\n</table>"
        if lab_rows
        else ""
    )
    anchor = chrome["map_anchor"]
    nav = f'<a href="#{anchor}">{chrome["map"]}</a>'
    nav += f'<a href="#labs">{chrome["labs"]}</a>' if lab_rows else ""
    nav += f'<a href="{datasheet_href}">{chrome["datasheet"]}</a>' if datasheet else ""
    switch = switch_html(switch_link(site.switch(readme), page_dir))
    built = len({e for e in site.built if lang == "en" or e in site.translated})
    footer = chrome["footer"].format(title=esc(title), built=built, total=len(lessons))
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(plain(title))}</title>
<style>{INDEX_CSS}</style>
</head>
<body>
<main>
<div class="kit-site-bar"><span class="kit-site-name">{esc(chrome["name"])}</span>{switch}</div>
<h1>{inline_html(title)}</h1>
<div class="lead">{intro_html}</div>
<nav class="top">{nav}</nav>
<h2 id="{anchor}">{chrome["map"]}</h2>
<p>{chrome["executed"]}</p>
<h3>{chrome["lessons"]}</h3>
<table>
<tr><th>#</th><th>{chrome["lesson"]}</th><th>{chrome["what"]}</th></tr>
{chr(10).join(rows)}
</table>
<div id="labs">{labs_html}</div>
<h2 id="data">{chrome["data"]}</h2>
{data_link}
<footer>{footer}</footer>
</main>
</body>
</html>
"""


def strip_section(text: str, heading: str) -> str:
    """Remove a ``## heading`` section (up to the next ``## `` heading) from markdown."""
    pattern = re.compile(rf"^{re.escape(heading)}\s*$.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    return pattern.sub("", text).rstrip() + "\n"


def rebase_links(text: str, from_dir: str, to_dir: str) -> str:
    """Rewrite the relative links of markdown written in ``from_dir`` for ``to_dir``."""
    if from_dir == to_dir:
        return text

    def move(link: str) -> str:
        if SCHEME.match(link) or link.startswith(("#", "/")):
            return link
        path, sep, fragment = link.partition("#")
        if not path:
            return link
        target = posixpath.normpath(posixpath.join(from_dir, path))
        return posixpath.relpath(target, to_dir or ".") + sep + fragment

    text = MD_LINK.sub(lambda m: m.group(1) + m.group(2) + move(m.group(3)), text)
    return HTML_LINK.sub(lambda m: m.group(1) + move(m.group(2)), text)


def render_lab(folder: Path, site: SiteMap, out_root: Path, lang: str = "en") -> Page:
    """Write a lab's page in ``lang``: its README (without the instructor notes) and the
    student notebook (the English one while the edition has none)."""
    chrome = CHROME[lang]
    rel = folder.relative_to(site.root).as_posix()
    readme_rel = edition_rel(f"{rel}/README.md", lang)
    readme = (site.root / readme_rel).read_text(encoding="utf-8")
    number = folder.name[3:5]
    student_rel = edition_rel(f"{rel}/lab{number}_student.ipynb", lang)
    if not (site.root / student_rel).is_file():
        student_rel = f"{rel}/lab{number}_student.ipynb"
    for notes in INSTRUCTOR_NOTES:
        readme = strip_section(readme, notes)
    nb = markdown_notebook(readme)
    student = site.root / student_rel
    if student.exists():
        student_nb = nbformat.read(student, as_version=4)
        name = f"<code>{html.escape(student.name)}</code>"
        heading = (
            f'<h2 id="student-notebook">{chrome["student_heading"].format(name=name)}</h2>\n\n'
            + chrome["student_intro"].format(path=student_rel)
        )
        for cell in student_nb.cells:
            if cell.cell_type == "markdown":
                cell.source = rebase_links(cell.source, posixpath.dirname(student_rel), rel)
        nb.cells += [nbformat.v4.new_markdown_cell(heading), *student_nb.cells]
        nb.metadata.update(student_nb.metadata)
    page = site.page("lab", readme_rel, lang)
    assert page is not None, f"{readme_rel} has no page in this build"
    site_path = page[0]
    title = plain(first_heading(readme, folder.name))
    page_html, needed = render_notebook(nb, readme_rel, site_path, site, title, out_root)
    write_page(out_root, site_path, page_html)
    return Page(site_path, needed)


def render_doc(rel: str, site: SiteMap, out_root: Path) -> Page:
    """Write a markdown file of the kit as a page (and ask for its other edition's page)."""
    text = (site.root / rel).read_text(encoding="utf-8")
    site_path = site.target(rel)[0]
    title = first_heading(text, rel)
    page, needed = render_notebook(markdown_notebook(text), rel, site_path, site, title, out_root)
    write_page(out_root, site_path, page)
    counterpart = edition_rel(rel, OTHER[edition_of(rel)])
    switch = site.switch(rel)
    if site.kind(rel) == "doc" and switch and site.target(counterpart) == (switch[0], ""):
        needed.add(counterpart)  # the switch leads there: publish it too
    return Page(site_path, needed)


def render_text(rel: str, site: SiteMap, out_root: Path) -> Page:
    """Write a source file of the kit as a page showing its text."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    text = (site.root / rel).read_text(encoding="utf-8")
    try:
        lexer = get_lexer_for_filename(rel, text)
    except ClassNotFound:
        lexer = TextLexer()
    code = highlight(text, lexer, HtmlFormatter(noclasses=True, nobackground=True))
    site_path = site.target(rel)[0]
    page_dir = posixpath.dirname(site_path) or "."
    lang = edition_of(rel)
    home, anchor = site.home(lang)
    home = posixpath.relpath(home, page_dir)
    switch = switch_html(switch_link(site.switch(rel), page_dir))
    bar = (
        f'<div class="kit-site-bar"><a href="{home}#{anchor}">{CHROME[lang]["back"]}</a>'
        f"<span>{html.escape(rel)}</span>"
    )
    page = f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(rel)}</title>
<style>{INDEX_CSS}</style>
</head>
<body>
<main>
{bar}{switch}</div>
<h1><code>{html.escape(rel)}</code></h1>
<div class="source">{code}</div>
{bar}</div>
</main>
</body>
</html>
"""
    write_page(out_root, site_path, page)
    return Page(site_path)


def publish(rel: str, site: SiteMap, out_root: Path) -> Page:
    """Publish one linked kit file: copy an image, render a document or a text file."""
    kind = site.kind(rel)
    if kind == "image":
        target = out_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(site.root / rel, target)
        return Page(rel)
    if kind == "doc":
        return render_doc(rel, site, out_root)
    return render_text(rel, site, out_root)


@dataclass(frozen=True)
class LessonJob:
    """Everything a worker process needs to execute and render one lesson.

    ``spanish`` is the lesson's Spanish notebook when this build writes its Spanish page
    (from the same run's outputs), with ``spanish_title``.
    """

    path: Path
    work: Path
    template_db: Path
    site: SiteMap
    out_root: Path
    title: str
    spanish: Path | None = None
    spanish_title: str = ""


def _cell_key(index: int, cell: nbformat.NotebookNode) -> str:
    return cell.get("id") or f"#{index}"


def translation_problems(
    english: nbformat.NotebookNode, edition: nbformat.NotebookNode, english_rel: str, rel: str
) -> list[str]:
    """Return why a notebook's edition cannot take the English notebook's outputs.

    The edition must have the English notebook's cells (same ids, same kinds) and every
    code cell byte-identical: then the English run's outputs are the edition's outputs.

    Args:
        english: The English notebook (as written, or executed).
        edition: Its edition (``notebooks/es/<stem>.ipynb``).
        english_rel: The English notebook's path, for the messages.
        rel: The edition's path, for the messages.

    Returns:
        One line per problem, naming the edition's file and the cell.
    """
    cells = {_cell_key(i, c): c for i, c in enumerate(edition.cells)}
    problems = []
    known = set()
    for index, cell in enumerate(english.cells):
        key = _cell_key(index, cell)
        known.add(key)
        other = cells.get(key)
        if other is None:
            problems.append(f"{rel}: cell {key} (cell {index} of {english_rel}) is missing")
        elif other.cell_type != cell.cell_type:
            problems.append(
                f"{rel}: cell {key} is a {other.cell_type} cell, a {cell.cell_type} cell in "
                f"{english_rel}"
            )
        elif cell.cell_type == "code" and other.source != cell.source:
            first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
            problems.append(
                f"{rel}: code cell {key} (cell {index}, `{first}`) differs from {english_rel}"
            )
    extra = [key for key in cells if key not in known]
    if extra:
        problems.append(f"{rel}: cells {', '.join(extra)} are not cells of {english_rel}")
    return problems


def stale(problems: list[str]) -> BuildFailure:
    """Return the failure of a build whose Spanish edition does not match the English one."""
    return BuildFailure(
        "the Spanish edition does not match the English notebooks: run `make translations`\n"
        + "\n".join(f"  {problem}" for problem in problems)
    )


def with_edition_text(
    executed: nbformat.NotebookNode, edition: nbformat.NotebookNode
) -> nbformat.NotebookNode:
    """Return the executed notebook with its text cells taken from ``edition`` (by cell id).

    The code cells and their outputs stay those of ``executed``; check
    :func:`translation_problems` first.
    """
    cells = {_cell_key(i, c): c for i, c in enumerate(edition.cells)}
    merged = copy.deepcopy(executed)
    for index, cell in enumerate(merged.cells):
        other = cells.get(_cell_key(index, cell))
        if cell.cell_type != "code" and other is not None:
            merged.cells[index] = copy.deepcopy(other)
    merged.metadata["language"] = edition.metadata.get("language", "es")
    return merged


def spanish_lessons(root: Path, chosen: list[navigation.Entry]) -> dict[str, tuple[Path, str]]:
    """Return the chosen lessons that have a Spanish notebook: its path and page title.

    Raises:
        BuildFailure: A Spanish notebook cannot be read, or its cells are not those of the
            English notebook (it names the notebook and the cell).
    """
    found, problems = {}, []
    for entry in chosen:
        rel = entry.path.relative_to(root).as_posix()
        spanish_rel = edition_rel(rel, "es")
        path = root / spanish_rel
        if not path.is_file():
            continue
        try:
            spanish = nbformat.read(path, as_version=4)
            english = nbformat.read(entry.path, as_version=4)
        except (OSError, ValueError) as error:
            problems.append(f"{spanish_rel} cannot be read: {error}")
            continue
        problems += translation_problems(english, spanish, rel, spanish_rel)
        heading = lesson_heading(spanish)
        title = plain(heading[1] if heading else entry.title)
        found[rel] = (path, f"{entry.number} · {title}")
    if problems:
        raise stale(problems)
    return found


def render_lesson(job: LessonJob) -> list[Page]:
    """Execute a lesson like the tests do and write its pages (runs in a worker process).

    The English page shows the run; the Spanish page, when the job has one, is the same
    run with the Spanish text cells.

    Raises:
        runner.NotebookFailure: The notebook failed; the message names the cell.
        BuildFailure: The Spanish notebook's code is not the code that ran.
    """
    result = runner.run_notebook(job.path, job.work, job.template_db)
    runner.check_result(result)
    nb = nbformat.read(result.executed, as_version=4)
    site = job.site
    rel = job.path.relative_to(site.root).as_posix()
    pages = []
    editions = [("en", rel, nb, job.title)] if "en" in site.langs else []
    if job.spanish is not None:
        spanish_rel = job.spanish.relative_to(site.root).as_posix()
        spanish = nbformat.read(job.spanish, as_version=4)
        problems = translation_problems(nb, spanish, rel, spanish_rel)
        if problems:
            raise stale(problems)
        editions.append(("es", spanish_rel, with_edition_text(nb, spanish), job.spanish_title))
    for lang, source_rel, notebook, title in editions:
        found = site.page("lesson", source_rel, lang)
        assert found is not None, f"{source_rel} has no page in this build"
        site_path = found[0]
        page, needed = render_notebook(notebook, source_rel, site_path, site, title, job.out_root)
        write_page(job.out_root, site_path, page)
        pages.append(Page(site_path, needed, result.seconds if not pages else 0.0))
    shutil.rmtree(job.work / "store", ignore_errors=True)
    return pages


def quiet_template(folder: Path) -> Path:
    """Create the runs' migrated tracking database without MLflow's migration log lines."""
    import mlflow  # noqa: F401 - importing it configures its loggers, which come first

    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        return runner.migrated_template(folder)
    finally:
        logger.setLevel(level)


def expected_seconds(root: Path) -> dict[str, float]:
    """Return each lesson's median time from BENCHMARK.md (to start the longest first)."""
    bench = root / "BENCHMARK.md"
    if not bench.exists():
        return {}
    return {name: float(s) for name, s in BENCH_ROW.findall(bench.read_text(encoding="utf-8"))}


def select(lessons: list[navigation.Entry], only: Iterable[str] | None) -> list[navigation.Entry]:
    """Return the lessons whose numbers are in ``only`` (all when ``only`` is empty)."""
    only = list(only or [])
    if not all(n.isdigit() for n in only):
        raise BuildFailure(f"--only takes lesson numbers like 00 07, not {' '.join(only)}")
    wanted = {f"{int(n):02d}" for n in only}
    unknown = wanted - {e.number for e in lessons}
    if unknown:
        raise BuildFailure(f"no lesson numbered {', '.join(sorted(unknown))}")
    return [e for e in lessons if not wanted or e.number in wanted]


def check_out(out: Path) -> None:
    """Refuse to replace a folder that this tool did not write."""
    if out.exists() and not (out / MARKER).exists():
        if not out.is_dir() or any(out.iterdir()):
            raise BuildFailure(
                f"{out} exists and is not a site built by `python -m tools.site`; "
                "remove it or choose another --out"
            )


def move_into_place(staging: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``staging`` folder."""
    check_out(out)
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}-old-{uuid.uuid4().hex[:8]}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _quiet_worker(logs: Path) -> None:
    """Send a worker's output (kernel warnings, servers' lines) to a log file of its own."""
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"worker-{os.getpid()}.log", "ab", buffering=0)  # open until the end
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)


def run_lessons(jobs: list[LessonJob], workers: int, logs: Path) -> list[Page]:
    """Run the lesson jobs in worker processes; stop at the first failure.

    ``runner.run_notebook`` sets environment variables of its own process while a
    notebook runs, so two runs cannot share a process: each worker runs one at a time.
    What the kernels and their processes print outside the notebook goes to ``logs``.
    A job writes a page per edition; the Spanish one reuses the English run.
    """
    pages: list[Page] = []
    finished = 0
    if not jobs:
        return pages
    pool = ProcessPoolExecutor(
        max_workers=max(1, workers),
        mp_context=get_context("spawn"),
        initializer=_quiet_worker,
        initargs=(logs,),
    )
    with pool:
        pending: dict[Future[list[Page]], LessonJob] = {
            pool.submit(render_lesson, job): job for job in jobs
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                job = pending.pop(future)
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    running = sum(1 for other in pending if other.running())
                    if running:
                        print(f"  failed: {job.path.name}; waiting for {running} running lesson(s)")
                    message = str(error)
                    if not isinstance(error, (runner.NotebookFailure, BuildFailure)):
                        message = f"{job.path.name}: {type(error).__name__}: {error}"
                    raise BuildFailure(f"{message}\n(output of the kernels: {logs})") from error
                finished += 1
                for page in future.result():
                    pages.append(page)
                    seconds = f"{page.seconds:5.1f} s" if page.seconds else "same run"
                    print(f"  [{finished}/{len(jobs)}] {page.site_path}  {seconds}")
    return pages


def build_site(
    out: Path = OUT,
    only: Iterable[str] | None = None,
    jobs: int | None = None,
    root: Path = ROOT,
    work: Path | None = None,
    langs: Iterable[str] = LANGS,
) -> list[Path]:
    """Build the site into ``out``: English at its root, Spanish in ``es/``.

    Args:
        out: The site's folder; replaced only when the build succeeds.
        only: Lesson numbers to render (all when empty); the index lists every lesson.
        jobs: Notebooks executed at once (default: the number of CPU cores).
        root: The kit's folder (``notebooks/``, ``labs/``, ``datasets/``, ``images/``).
        work: A folder for the runs' stores (default: a temporary folder, removed after).
        langs: The editions to write (``en``, ``es`` or both).

    Returns:
        Every file of the finished site.

    Raises:
        BuildFailure: A notebook failed (the message names the cell), a Spanish notebook's
            code is not the English one's (it names the notebook and the cell; nothing is
            executed then), or ``out`` is not ours.
    """
    wanted = set(langs)
    if not wanted or not wanted <= set(LANGS):
        raise BuildFailure(f"--lang takes {', '.join(LANGS)} or all, not {' '.join(langs)}")
    editions = tuple(lang for lang in LANGS if lang in wanted)
    out, root = out.resolve(), root.resolve()
    check_out(out)
    lessons, labs = course(root)
    chosen = select(lessons, only)
    spanish = spanish_lessons(root, chosen) if "es" in editions else {}
    if "en" not in editions:  # a lesson without a Spanish notebook has no page to write
        chosen = [e for e in chosen if e.path.relative_to(root).as_posix() in spanish]
    site = SiteMap(
        root=root,
        lessons=tuple(e.path.relative_to(root).as_posix() for e in lessons),
        built=frozenset(e.path.relative_to(root).as_posix() for e in chosen),
        langs=editions,
        translated=frozenset(spanish),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-building-", dir=out.parent))
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="kit-site-")) if work is None else work
    keep_work = False
    try:
        pages = [
            render_lab(entry.path, site, staging, lang)
            for entry in labs
            for lang in editions
            if site.page("lab", f"{entry.path.relative_to(root).as_posix()}/README.md", lang)
        ]
        for lang in editions:
            if site.page("datasheet", "datasets/README.md", lang):
                pages.append(render_doc(edition_rel("datasets/README.md", lang), site, staging))
        images = sorted((root / "images").rglob("*")) if (root / "images").is_dir() else []
        for image in images:
            if image.is_file() and image.suffix.lower() in IMAGE_SUFFIXES:
                pages.append(publish(image.relative_to(root).as_posix(), site, staging))
        for lang in editions:
            write_page(staging, site.index(lang), render_index(root, site, lessons, labs, lang))
        template = quiet_template(work / "template")
        timing = expected_seconds(root)
        chosen.sort(key=lambda e: -timing.get(e.path.name, 0.0))
        lesson_jobs = [
            LessonJob(
                e.path,
                work / e.path.stem,
                template,
                site,
                staging,
                f"{e.number} · {plain(e.title)}",
                *spanish.get(e.path.relative_to(root).as_posix(), (None, "")),
            )
            for e in chosen
        ]
        for job in lesson_jobs:
            job.work.mkdir(parents=True, exist_ok=True)
        workers = jobs or os.cpu_count() or 1
        reused = f" ({len(spanish)} Spanish page(s) from the same runs)" if spanish else ""
        print(f"executing {len(lesson_jobs)} lesson(s), {workers} at a time{reused}")
        try:
            pages += run_lessons(lesson_jobs, workers, work / "logs")
        except BuildFailure:
            keep_work = own_work
            raise
        done = {page.site_path for page in pages}
        queue = sorted({rel for page in pages for rel in page.needed})
        while queue:
            rel = queue.pop()
            if site.target(rel)[0] in done:
                continue
            page = publish(rel, site, staging)
            done.add(page.site_path)
            queue += sorted(page.needed)
        (staging / MARKER).write_text("built by python -m tools.site\n", encoding="utf-8")
        move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if own_work and not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    return sorted(p for p in out.rglob("*") if p.is_file() and p.name != MARKER)


def summary(files: list[Path], out: Path, seconds: float) -> str:
    """Return the closing lines: pages, size, time and where to open the site."""
    pages = sum(1 for f in files if f.suffix == ".html")
    size = sum(f.stat().st_size for f in files)
    lines = [
        f"site: {pages} pages, {len(files)} files, {size / 2**20:.1f} MiB, "
        f"built in {seconds / 60:.1f} min"
    ]
    for lang in LANGS:
        index = out / edition_prefix(lang) / "index.html"
        if index.is_file():
            shown = index.relative_to(Path.cwd()) if index.is_relative_to(Path.cwd()) else index
            lines.append(f"{CHROME[lang]['language']}: open {shown} ({index.as_uri()})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the site; print a summary, or the failure and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=[], help="lesson numbers, e.g. 00 07")
    parser.add_argument("--out", type=Path, default=OUT, help="the site's folder")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="notebooks executed at once"
    )
    parser.add_argument(
        "--lang",
        choices=[*LANGS, "all"],
        default="all",
        help="the edition to build: en (at the root), es (in es/) or all (default)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    langs = LANGS if args.lang == "all" else (args.lang,)
    try:
        files = build_site(args.out, args.only, args.jobs, langs=langs)
    except BuildFailure as failure:
        print(f"\nsite not built:\n{failure}", file=sys.stderr)
        return 1
    print(summary(files, args.out.resolve(), time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
