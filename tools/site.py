"""Build the course as a static HTML site that students can read offline.

``python -m tools.site`` (``make site``) executes every lesson notebook the way the
tests do (a fresh kernel and its own MLflow store each, see :mod:`tools.runner`), in
parallel, and converts the executed copies to HTML. It adds a page per lab (its README
and the student notebook, not executed; the solutions are not published), the
datasheet of the case-study data, and an index with the course map. Links between the
kit's files become links between the site's pages; the pages load nothing from the
network.

The site is written to a temporary folder next to ``--out`` (``build/site``) and moved
into place only when every page is written: a failing notebook stops the build with the
runner's message and leaves the previous site, if any, as it was.
"""

from __future__ import annotations

import argparse
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
from tools.notebook_checks import ROOT

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
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
LAB_DIR = re.compile(r"^labs/(lab(\d{2})_[^/]+)/(.+)$")
LESSON_NAME = re.compile(r"^(\d{2})_.+\.ipynb$")
BENCH_ROW = re.compile(r"^\| notebooks/(\S+\.ipynb) \| ([\d.]+) \|", re.MULTILINE)

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


@dataclass(frozen=True)
class SiteMap:
    """Where each file of the kit lands in the site.

    Attributes:
        root: The kit's folder (the repository).
        lessons: Every lesson notebook, as a path relative to ``root``.
        built: The lessons rendered in this build (relative paths).
    """

    root: Path
    lessons: tuple[str, ...]
    built: frozenset[str]

    def kind(self, rel: str) -> str | None:
        """Return how the kit file ``rel`` is published, or ``None`` when it is not.

        Args:
            rel: A POSIX path relative to the root.

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
        if rel == "README.md":
            return "index"
        if rel in self.lessons:
            return "lesson"
        lab = LAB_DIR.match(rel)
        if lab and lab.group(3) in ("README.md", f"lab{lab.group(2)}_student.ipynb"):
            return "lab"
        if rel == "datasets/README.md":
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

    def target(self, rel: str) -> tuple[str, str] | None:
        """Return the site path and fragment that stand for the kit file ``rel``.

        Args:
            rel: A POSIX path relative to the root.

        Returns:
            ``(site path, fragment)``, or ``None`` when the file is not in the site.
        """
        kind = self.kind(rel)
        if kind is None:
            return None
        if kind == "index":
            return "index.html", ""
        if kind == "lesson":
            if rel in self.built:
                return rel.removesuffix(".ipynb") + ".html", ""
            return "index.html", f"lesson-{Path(rel).name[:2]}"
        if kind == "lab":
            lab = LAB_DIR.match(rel)
            assert lab is not None
            fragment = "" if lab.group(3) == "README.md" else "student-notebook"
            return f"labs/{lab.group(1)}/index.html", fragment
        if kind == "datasheet":
            return "datasets/index.html", ""
        if kind == "image":
            return rel, ""
        if kind == "doc":
            return rel.removesuffix(".md") + ".html", ""
        return rel + ".html", ""


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
    for (line, column), raw, tag, attrs in scanner.tags:
        if any(name == SITE_LINK for name, _ in attrs):
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
                    new_attrs += [("class", "kit-unpublished"), ("title", "not part of the site")]
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
def _exporter() -> HTMLExporter:
    """Return the HTML exporter with the site's template (one per process).

    nbconvert is imported here, not at the top: it is slow to import.
    """
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name=TEMPLATE_DIR.name,
        template_file="page.html.j2",
        extra_template_basedirs=[str(TEMPLATE_DIR.parent)],
    )


def drop_widgets(nb: nbformat.NotebookNode) -> None:
    """Replace ipywidgets views (which need JavaScript from a CDN) by their text fallback."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if not data:
                    data["text/plain"] = "(an interactive widget: run the notebook to use it)"


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
    """Convert a notebook to a site page.

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
    nb = nbformat.from_dict(nb)
    drop_widgets(nb)
    nb.metadata["title"] = title
    nb.metadata.setdefault("language_info", {"name": "python"})
    home = posixpath.relpath("index.html", posixpath.dirname(site_path) or ".")
    resources = {
        "site": {"css": PAGE_CSS, "home": home, "name": SITE_NAME, "source": source_rel},
        "metadata": {"name": title},
    }
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    body, needed = rewrite_links(body, source_rel, site_path, site)
    return _shared_css(body, out_root, site_path), needed


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


def first_heading(text: str, default: str) -> str:
    """Return the first ``# Heading`` of a markdown text."""
    match = re.search(r"^# (.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else default


def course(root: Path) -> tuple[list[navigation.Entry], list[navigation.Entry]]:
    """Return the lessons and the labs of the kit in ``root``, as the course map lists them."""
    return navigation.lesson_entries(root / "notebooks"), navigation.lab_entries(root / "labs")


def readme_intro(root: Path) -> tuple[str, str]:
    """Return the README's title and its first paragraph (markdown)."""
    readme = root / "README.md"
    if not readme.exists():
        return SITE_NAME, ""
    text = readme.read_text(encoding="utf-8")
    title = first_heading(text, SITE_NAME)
    after = text.split(f"# {title}", 1)[-1]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", after) if p.strip()]
    intro = next((p for p in paragraphs if not p.startswith(("#", "<!--", "|", "```"))), "")
    return title, intro


def render_index(
    root: Path,
    site: SiteMap,
    lessons: list[navigation.Entry],
    labs: list[navigation.Entry],
) -> str:
    """Return the HTML of the index page: the introduction and the course map."""
    import mistune

    title, intro = readme_intro(root)
    intro_html, _ = rewrite_links(mistune.html(intro), "README.md", "index.html", site)
    esc = html.escape
    rows = []
    for entry in lessons:
        rel = entry.path.relative_to(root).as_posix()
        if rel in site.built:
            name = f'<a href="{esc(site.target(rel)[0])}">{esc(entry.title)}</a>'
        else:
            name = f'{esc(entry.title)} <span class="muted">(not rendered in this build)</span>'
        rows.append(
            f'<tr id="lesson-{entry.number}"><td class="num">{entry.number}</td>'
            f"<td>{name}</td><td>{esc(entry.subtitle)}</td></tr>"
        )
    lab_rows = []
    for entry in labs:
        page = site.target(f"{entry.path.relative_to(root).as_posix()}/README.md")
        label = f"Lab {entry.number} · {entry.title}"
        link = f'<a href="{esc(page[0])}">{esc(label)}</a>' if page else esc(label)
        after = ""
        if entry.after:
            lesson = next((e for e in lessons if e.number == entry.after), None)
            target = site.target(lesson.path.relative_to(root).as_posix()) if lesson else None
            after = entry.after
            if target:
                href = target[0] + (f"#{target[1]}" if target[1] else "")
                after = f'<a href="{esc(href)}">{entry.after}</a>'
        lab_rows.append(
            f'<tr id="lab-{entry.number}"><td>{link}</td><td class="num">{after}</td>'
            f"<td>{esc(entry.subtitle)}</td></tr>"
        )
    datasheet = site.target("datasets/README.md")
    data_link = (
        f"<p>Every lesson works on the same synthetic data: read its "
        f'<a href="{datasheet[0]}">datasheet</a> (files, columns, how the data were made).</p>'
        if datasheet
        else ""
    )
    labs_html = (
        "<h3>Labs</h3>\n<table>\n<tr><th>Lab</th><th>After lesson</th>"
        "<th>What you will do</th></tr>\n" + "\n".join(lab_rows) + "\n</table>"
        if lab_rows
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{INDEX_CSS}</style>
</head>
<body>
<main>
<h1>{esc(title)}</h1>
<div class="lead">{intro_html}</div>
<nav class="top"><a href="#course-map">Course map</a>{
        '<a href="#labs">Labs</a>' if lab_rows else ""
    }{f'<a href="{datasheet[0]}">Datasheet</a>' if datasheet else ""}</nav>
<h2 id="course-map">Course map</h2>
<p>The lessons below were executed from top to bottom, so every output you see is what
the code printed. To run them yourself, open the kit in JupyterLab (<code>make start</code>).</p>
<h3>Lessons</h3>
<table>
<tr><th>#</th><th>Lesson</th><th>What you will do</th></tr>
{chr(10).join(rows)}
</table>
<div id="labs">{labs_html}</div>
<h2 id="data">The data</h2>
{data_link}
<footer>{esc(title)}: {len(site.built)} of {len(lessons)} lessons rendered.</footer>
</main>
</body>
</html>
"""


def strip_section(text: str, heading: str) -> str:
    """Remove a ``## heading`` section (up to the next ``## `` heading) from markdown."""
    pattern = re.compile(rf"^{re.escape(heading)}\s*$.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    return pattern.sub("", text).rstrip() + "\n"


def render_lab(folder: Path, site: SiteMap, out_root: Path) -> Page:
    """Write a lab's page: its README (without the instructor notes) and student notebook."""
    rel = folder.relative_to(site.root).as_posix()
    readme = (folder / "README.md").read_text(encoding="utf-8")
    number = folder.name[3:5]
    student = folder / f"lab{number}_student.ipynb"
    nb = markdown_notebook(strip_section(readme, "## Instructor notes"))
    if student.exists():
        student_nb = nbformat.read(student, as_version=4)
        heading = (
            f'<h2 id="student-notebook">The student notebook: <code>{student.name}</code></h2>\n\n'
            f"Below is the notebook you work in, as it is before you start. Open it in "
            f"JupyterLab (`{rel}/{student.name}`) to write your answers and run the checks."
        )
        nb.cells += [nbformat.v4.new_markdown_cell(heading), *student_nb.cells]
        nb.metadata.update(student_nb.metadata)
    site_path = f"labs/{folder.name}/index.html"
    title = first_heading(readme, folder.name)
    page, needed = render_notebook(nb, f"{rel}/README.md", site_path, site, title, out_root)
    write_page(out_root, site_path, page)
    return Page(site_path, needed)


def render_doc(rel: str, site: SiteMap, out_root: Path) -> Page:
    """Write a markdown file of the kit as a page."""
    text = (site.root / rel).read_text(encoding="utf-8")
    site_path = site.target(rel)[0]
    title = first_heading(text, rel)
    page, needed = render_notebook(markdown_notebook(text), rel, site_path, site, title, out_root)
    write_page(out_root, site_path, page)
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
    home = posixpath.relpath("index.html", posixpath.dirname(site_path))
    bar = (
        f'<div class="kit-site-bar"><a href="{home}#course-map">← course map</a>'
        f"<span>{html.escape(rel)}</span></div>"
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(rel)}</title>
<style>{INDEX_CSS}</style>
</head>
<body>
<main>
{bar}
<h1><code>{html.escape(rel)}</code></h1>
<div class="source">{code}</div>
{bar}
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
    """Everything a worker process needs to execute and render one lesson."""

    path: Path
    work: Path
    template_db: Path
    site: SiteMap
    out_root: Path
    title: str


def render_lesson(job: LessonJob) -> Page:
    """Execute a lesson like the tests do and write its page (runs in a worker process).

    Raises:
        runner.NotebookFailure: The notebook failed; the message names the cell.
    """
    result = runner.run_notebook(job.path, job.work, job.template_db)
    runner.check_result(result)
    nb = nbformat.read(result.executed, as_version=4)
    rel = job.path.relative_to(job.site.root).as_posix()
    site_path = job.site.target(rel)[0]
    page, needed = render_notebook(nb, rel, site_path, job.site, job.title, job.out_root)
    write_page(job.out_root, site_path, page)
    shutil.rmtree(job.work / "store", ignore_errors=True)
    return Page(site_path, needed, result.seconds)


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
    """
    pages: list[Page] = []
    if not jobs:
        return pages
    pool = ProcessPoolExecutor(
        max_workers=max(1, workers),
        mp_context=get_context("spawn"),
        initializer=_quiet_worker,
        initargs=(logs,),
    )
    with pool:
        pending: dict[Future[Page], LessonJob] = {pool.submit(render_lesson, j): j for j in jobs}
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
                    if not isinstance(error, runner.NotebookFailure):
                        message = f"{job.path.name}: {type(error).__name__}: {error}"
                    raise BuildFailure(f"{message}\n(output of the kernels: {logs})") from error
                page = future.result()
                pages.append(page)
                print(f"  [{len(pages)}/{len(jobs)}] {page.site_path}  {page.seconds:5.1f} s")
    return pages


def build_site(
    out: Path = OUT,
    only: Iterable[str] | None = None,
    jobs: int | None = None,
    root: Path = ROOT,
    work: Path | None = None,
) -> list[Path]:
    """Build the site into ``out``.

    Args:
        out: The site's folder; replaced only when the build succeeds.
        only: Lesson numbers to render (all when empty); the index lists every lesson.
        jobs: Notebooks executed at once (default: the number of CPU cores).
        root: The kit's folder (``notebooks/``, ``labs/``, ``datasets/``, ``images/``).
        work: A folder for the runs' stores (default: a temporary folder, removed after).

    Returns:
        Every file of the finished site.

    Raises:
        BuildFailure: A notebook failed (the message names the cell) or ``out`` is not ours.
    """
    out, root = out.resolve(), root.resolve()
    check_out(out)
    lessons, labs = course(root)
    chosen = select(lessons, only)
    site = SiteMap(
        root=root,
        lessons=tuple(e.path.relative_to(root).as_posix() for e in lessons),
        built=frozenset(e.path.relative_to(root).as_posix() for e in chosen),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-building-", dir=out.parent))
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="kit-site-")) if work is None else work
    keep_work = False
    try:
        pages = [render_lab(entry.path, site, staging) for entry in labs]
        if (root / "datasets" / "README.md").exists():
            pages.append(render_doc("datasets/README.md", site, staging))
        images = sorted((root / "images").rglob("*")) if (root / "images").is_dir() else []
        for image in images:
            if image.is_file() and image.suffix.lower() in IMAGE_SUFFIXES:
                pages.append(publish(image.relative_to(root).as_posix(), site, staging))
        write_page(staging, "index.html", render_index(root, site, lessons, labs))
        template = quiet_template(work / "template")
        timing = expected_seconds(root)
        chosen.sort(key=lambda e: -timing.get(e.path.name, 0.0))
        lesson_jobs = [
            LessonJob(
                e.path, work / e.path.stem, template, site, staging, f"{e.number} · {e.title}"
            )
            for e in chosen
        ]
        for job in lesson_jobs:
            job.work.mkdir(parents=True, exist_ok=True)
        workers = jobs or os.cpu_count() or 1
        print(f"executing {len(lesson_jobs)} lesson(s), {workers} at a time")
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
    index = out / "index.html"
    shown = index.relative_to(Path.cwd()) if index.is_relative_to(Path.cwd()) else index
    return (
        f"site: {pages} pages, {len(files)} files, {size / 2**20:.1f} MiB, "
        f"built in {seconds / 60:.1f} min\nopen {shown} in a browser ({index.as_uri()})"
    )


def main(argv: list[str] | None = None) -> int:
    """Build the site; print a summary, or the failure and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=[], help="lesson numbers, e.g. 00 07")
    parser.add_argument("--out", type=Path, default=OUT, help="the site's folder")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="notebooks executed at once"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        files = build_site(args.out, args.only, args.jobs)
    except BuildFailure as failure:
        print(f"\nsite not built:\n{failure}", file=sys.stderr)
        return 1
    print(summary(files, args.out.resolve(), time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
