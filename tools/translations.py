"""Write the Spanish edition of the notebooks from the English ones and a catalogue.

The English notebooks are the one source. ``translations/es/<stem>.yaml`` holds, for
each markdown cell of the notebook ``<stem>`` (a lesson, or a lab's solution), its
Spanish text and the hash of the English text it was translated from::

    source: notebooks/07_mlflow_tracking.ipynb
    cells:
      6e9015f0:
        en: 3f2a9c1b7d4e
        es: |-
          # 07 · MLflow Tracking
          ...

``python -m tools.translations`` (``make translations``) writes ``notebooks/es/<stem>.ipynb``
and, for a lab, ``labs/<lab>/es/labNN_solution.ipynb`` and the student notebook made from
it (as ``make labs`` does): every code cell byte-identical to the English one, markdown
from the catalogue, links pointing at the Spanish edition where there is one.
It also writes the course map of ``README.es.md`` (between the markers the English README
uses): the Spanish lesson titles and subtitles from each lesson's catalogue, the Spanish lab
titles from ``labs/<lab>/README.es.md``, and the English ones where there is no Spanish
text yet.
``--check`` changes nothing and exits 1 when a Spanish notebook or the Spanish course map is
stale, a cell has no translation, or an English cell changed after its translation (it
names the cell).
``--skeleton STEM`` prints a catalogue to start from (the English text in place of the
Spanish); ``--rehash STEM`` records the current English hashes once the Spanish text of
the changed cells has been updated.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import os
import posixpath
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import yaml

from tools import labs, navigation
from tools.notebook_checks import LABS, ROOT, is_navigation, lesson_notebooks

LANG = "es"
CATALOGUES = ROOT / "translations" / LANG
# libyaml's safe loader reads the catalogues about ten times faster than the pure-Python one
# (the checks read them hundreds of times), with the same result.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
COURSE_MAP = "[Mapa del curso](../../README.es.md#mapa-del-curso)"
#: Until the Spanish README exists, the navigation points at the English course map.
COURSE_MAP_EN = "[Mapa del curso](../../README.md#course-map)"
LINK = re.compile(r"(!?\[[^\]]*\]\()(\s*<?)([^)\s>]+)")
HTML_SRC = re.compile(r"(<img\b[^>]*\ssrc=\")([^\"]+)")
#: English documents and their Spanish editions.
DOCUMENTS: dict[str, str] = {
    "README.md": "README.es.md",
    "INSTRUCTOR_GUIDE.md": "INSTRUCTOR_GUIDE.es.md",
}
README_ES = ROOT / "README.es.md"
#: The course map's column headers (as ``tools.navigation`` writes them) in Spanish.
MAP_HEADERS: dict[str, str] = {
    "| # | Lesson | What you will do |": "| # | Lección | Qué harás |",
    "| Lab | After lesson | What you will do |": "| Lab | Después de la lección | Qué harás |",
}


class CatalogueError(ValueError):
    """A catalogue is not valid YAML or not shaped as the module docstring says."""


def english_sources() -> list[Path]:
    """Every English notebook the Spanish edition translates: lessons and lab solutions."""
    return lesson_notebooks() + labs.solution_notebooks()


def text_hash(text: str) -> str:
    """The hash a catalogue keeps of an English cell's text (12 hex digits)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def catalogue_path(source: Path) -> Path:
    """Where the catalogue of an English notebook lives."""
    return CATALOGUES / f"{source.stem}.yaml"


def spanish_path(source: Path) -> Path:
    """Where the Spanish edition of an English notebook (or document) goes."""
    if source.suffix == ".md":
        return source.with_name(source.name.replace(".md", f".{LANG}.md"))
    return source.parent / LANG / source.name


def _label(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def load_catalogue(path: Path) -> dict[str, dict[str, str]]:
    """Read a catalogue: ``{cell id: {"en": hash, "es": text}}``.

    Raises:
        CatalogueError: The file is not valid YAML or an entry lacks ``en`` or ``es``.
    """
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as error:
        raise CatalogueError(f"{_label(path)} is not valid YAML: {error}") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, dict):
        raise CatalogueError(f"{_label(path)} needs a `cells:` mapping of cell ids")
    for cell_id, entry in cells.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("es"), str) and entry.get("en")):
            raise CatalogueError(
                f"{_label(path)}: cell {cell_id} needs `en` (the English hash) and "
                "`es` (the Spanish text)"
            )
    return {str(cell_id): entry for cell_id, entry in cells.items()}


def spanish_target(target: Path) -> Path:
    """Return the Spanish edition of a linked file when there is one, else the file."""
    if target.suffix == ".ipynb" and (target in english_sources() or _is_student(target)):
        return spanish_path(target)
    if target.suffix == ".md":
        spanish = spanish_path(target)
        return spanish if spanish.exists() else target
    return target


def _is_student(target: Path) -> bool:
    return target.name.endswith("_student.ipynb") and target.parent.parent == LABS


def relink(text: str, source: Path) -> str:
    """Rewrite the relative links of ``source``'s text for its Spanish edition's folder."""
    home = source.parent
    spanish_home = spanish_path(source).parent

    def move(link: str) -> str:
        if re.match(r"^[a-z]+:|^#|^/", link):
            return link
        path, _, anchor = link.partition("#")
        if not path:
            return link
        target = Path(os.path.normpath(home / path))
        moved = os.path.relpath(spanish_target(target), spanish_home)
        return posixpath.join(*Path(moved).parts) + (f"#{anchor}" if anchor else "")

    text = LINK.sub(lambda m: m.group(1) + m.group(2) + move(m.group(3)), text)
    return HTML_SRC.sub(lambda m: m.group(1) + move(m.group(2)), text)


def spanish_heading(source: Path) -> tuple[str, str, str]:
    """Return a lesson's number, title and subtitle, in Spanish when its catalogue has them."""
    notebook = nbformat.read(source, as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "markdown" and not is_navigation(c))
    text = first.source
    if catalogue_path(source).exists():
        text = load_catalogue(catalogue_path(source)).get(first.id, {}).get("es", text)
    return navigation.heading_and_subtitle(text)


def spanish_title(source: Path) -> tuple[str, str]:
    """Return a lesson's number and title, in Spanish when its catalogue has them."""
    number, title, _ = spanish_heading(source)
    return number, title


def spanish_lab_entries() -> list[navigation.Entry]:
    """The labs as the course map lists them, titled from ``README.es.md`` where it exists."""
    entries = []
    for entry in navigation.lab_entries():
        readme = spanish_path(entry.path / "README.md")
        if readme.exists():
            _, title, subtitle = navigation.heading_and_subtitle(readme.read_text(encoding="utf-8"))
            entry = dataclasses.replace(entry, title=title, subtitle=subtitle)
        entries.append(entry)
    return entries


def spanish_course_map() -> str:
    """Return the course map of ``README.es.md``: Spanish titles, headers and links."""
    lessons = [navigation.Entry(*spanish_heading(p), p) for p in lesson_notebooks()]
    english = navigation.course_map(lessons, spanish_lab_entries())
    text = "\n".join(MAP_HEADERS.get(line, line) for line in english.splitlines())
    return relink(text, ROOT / "README.md")


def course_map_changes() -> dict[Path, str]:
    """``README.es.md`` with its generated course map, when that differs from the file.

    Raises:
        CatalogueError: A lesson's catalogue is broken, or ``README.es.md`` lacks the
            course map's markers.
    """
    if not README_ES.exists():
        return {}
    text = README_ES.read_text(encoding="utf-8")
    try:
        updated = navigation.replace_between(
            text, navigation.MAP_START, navigation.MAP_END, spanish_course_map()
        )
    except ValueError:
        raise CatalogueError(
            f"{_label(README_ES)} needs the course map's markers, {navigation.MAP_START!r} "
            f"and {navigation.MAP_END!r}, under `## Mapa del curso`"
        ) from None
    return {README_ES: updated} if updated != text else {}


def write_course_map() -> bool:
    """Write the course map of ``README.es.md`` only; return whether it changed."""
    changes = course_map_changes()
    for path, text in changes.items():
        path.write_text(text, encoding="utf-8")
    return bool(changes)


def spanish_navigation(source: Path) -> str:
    """Return the navigation line of a lesson's Spanish edition (empty for a lab)."""
    lessons = lesson_notebooks()
    if source not in lessons:
        return ""
    index = lessons.index(source)
    parts = []
    if index > 0:
        number, title = spanish_title(lessons[index - 1])
        parts.append(f"[← {number} {title}]({lessons[index - 1].name})")
    parts.append(COURSE_MAP if (ROOT / "README.es.md").exists() else COURSE_MAP_EN)
    if index + 1 < len(lessons):
        number, title = spanish_title(lessons[index + 1])
        parts.append(f"[{number} {title} →]({lessons[index + 1].name})")
    return " | ".join(parts)


def translate(source: Path) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """Return the Spanish edition of ``source`` and what stands in its way.

    Returns:
        The notebook (``None`` when there is no catalogue) and the problems: cells
        without a translation, cells whose English text changed since, orphan entries.
    """
    path = catalogue_path(source)
    if not path.exists():
        return None, []
    name = source.relative_to(ROOT).as_posix()
    catalogue = load_catalogue(path)
    notebook = nbformat.read(source, as_version=4)
    problems, seen = [], set()
    navigation = spanish_navigation(source)
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        if is_navigation(cell):
            cell.source = navigation
            continue
        seen.add(cell.id)
        entry = catalogue.get(cell.id)
        first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
        if entry is None:
            problems.append(f"{name}: cell {cell.id} (`{first}`) has no Spanish text")
            continue
        if entry["en"] != text_hash(cell.source):
            problems.append(
                f"{name}: cell {cell.id} (`{first}`) changed after its translation: update "
                f"its Spanish text, then run `python -m tools.translations --rehash {source.stem}`"
            )
        cell.source = relink(entry["es"].rstrip("\n"), source)
    orphans = sorted(set(catalogue) - seen)
    if orphans:
        problems.append(
            f"{_label(path)}: cells {', '.join(orphans)} are not markdown cells of "
            f"{name} any more: delete them"
        )
    notebook.metadata["language"] = LANG
    return notebook, problems


def planned_changes() -> dict[Path, str]:
    """Every Spanish notebook (and ``README.es.md``) whose generated text differs, with its text.

    Raises:
        CatalogueError: A catalogue is broken, a cell is untranslated or out of date.
    """
    changes, problems = course_map_changes(), []
    for source in english_sources():
        notebook, found = translate(source)
        problems += found
        if notebook is None or found:
            continue
        outputs = {spanish_path(source): notebook}
        if source in labs.solution_notebooks():
            student = labs.student_path(source)
            outputs[spanish_path(student)] = labs.student_version(
                copy.deepcopy(notebook), source.stem, student.stem
            )
        for target, nb in outputs.items():
            text = nbformat.writes(nb) + "\n"
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                changes[target] = text
    if problems:
        raise CatalogueError("\n".join(problems))
    return changes


def untranslated() -> list[str]:
    """The English notebooks and documents that have no Spanish edition yet."""
    missing = [
        p.relative_to(ROOT).as_posix() for p in english_sources() if not catalogue_path(p).exists()
    ]
    for english in [
        *DOCUMENTS,
        *(p.relative_to(ROOT).as_posix() for p in sorted(LABS.glob("*/README.md"))),
    ]:
        if not spanish_path(ROOT / english).exists():
            missing.append(english)
    return missing


class _Literal(str):
    """A string that YAML writes as a literal block."""


def _literal(dumper: yaml.Dumper, text: _Literal) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")


def skeleton(source: Path, spanish: dict[str, str] | None = None) -> str:
    """Return a catalogue for ``source``: the given Spanish texts, else the English ones."""
    dumper = yaml.SafeDumper
    dumper.add_representer(_Literal, _literal)
    notebook = nbformat.read(source, as_version=4)
    cells = {}
    for cell in notebook.cells:
        if cell.cell_type != "markdown" or is_navigation(cell):
            continue
        if spanish is not None and cell.id not in spanish:
            continue
        text = cell.source if spanish is None else spanish[cell.id]
        cells[cell.id] = {"en": text_hash(cell.source), "es": _Literal(text.rstrip("\n") + "\n")}
    data = {"source": source.relative_to(ROOT).as_posix(), "cells": cells}
    header = (
        f"# Spanish edition of {data['source']}: one entry per markdown cell, by cell id.\n"
        "# `en` is the hash of the English text the entry was translated from.\n"
    )
    return header + yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=1000)


def _source_named(stem: str) -> Path:
    found = [p for p in english_sources() if p.stem == stem]
    if not found:
        raise SystemExit(f"no English notebook is named {stem!r}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    """Write (or check) the Spanish notebooks; or print a skeleton; or rehash one."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    parser.add_argument("--skeleton", metavar="STEM", help="print a catalogue to start from")
    parser.add_argument("--rehash", metavar="STEM", help="record the English hashes of STEM")
    args = parser.parse_args(argv)
    if args.skeleton:
        print(skeleton(_source_named(args.skeleton)), end="")
        return 0
    if args.rehash:
        source = _source_named(args.rehash)
        spanish = {k: v["es"] for k, v in load_catalogue(catalogue_path(source)).items()}
        catalogue_path(source).write_text(skeleton(source, spanish), encoding="utf-8")
        print(f"recorded the English hashes of {source.relative_to(ROOT)}")
        return 0
    failed = False
    try:
        changes = planned_changes()
    except CatalogueError as error:
        print(error)
        failed = True
        try:  # the course map does not wait for every catalogue to be complete
            changes = course_map_changes()
        except CatalogueError:
            changes = {}
    for path, text in changes.items():
        name = _label(path)
        if args.check:
            print(f"{name} is out of date: run `make translations`")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"updated {name}")
    return 1 if failed or (args.check and changes) else 0


if __name__ == "__main__":
    sys.exit(main())
