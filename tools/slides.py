"""Present a lesson as slides, and the rule that marks its cells for slides.

Every lesson can be shown as a slideshow straight from the notebook, with the cells still
live (JupyterLab's RISE extension, which ships its own copy of reveal.js and so works
offline). ``make nav`` marks the cells by one rule, so that every lesson looks the same:

- a markdown cell that opens with a ``#`` or ``##`` heading starts a new slide;
- a ``###`` heading, or explanation that follows code, starts a sub-slide (below the
  current one: press the down arrow or the space bar);
- code and the rest of the explanation stay on the slide of the text above them;
- the navigation cells are skipped.

``python -m tools.slides 07`` (``make slides NB=07``) opens lesson 07 as a slideshow.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from tools.notebook_checks import NOTEBOOKS, ROOT, is_navigation, lesson_notebooks, source
from utils import i18n

# The slideshow settings every lesson carries (RISE reads them from the notebook).
RISE_SETTINGS = {
    "scroll": True,
    "start_slideshow_at": "beginning",
    "theme": "white",
    "transition": "none",
}


def slide_type(cell: dict, previous: dict | None) -> str | None:
    """Return the slide type of ``cell``, or ``None`` when it continues the slide.

    Args:
        cell: The cell to mark.
        previous: The cell before it (``None`` for the first cell).

    Returns:
        ``"slide"``, ``"subslide"``, ``"skip"`` or ``None``.
    """
    if is_navigation(cell):
        return "skip"
    if cell.get("cell_type") != "markdown":
        return None
    first = next((line for line in source(cell).splitlines() if line.strip()), "")
    if first.startswith(("# ", "## ")):
        return "slide"
    if first.startswith("### "):
        return "subslide"
    if previous is not None and previous.get("cell_type") == "code":
        return "subslide"
    return None


def with_slides(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Mark every cell of ``nb`` for slides and add the slideshow settings."""
    previous = None
    for cell in nb.cells:
        kind = slide_type(cell, previous)
        if kind is None:
            cell.metadata.pop("slideshow", None)
        else:
            cell.metadata["slideshow"] = {"slide_type": kind}
        previous = cell
    nb.metadata["rise"] = dict(RISE_SETTINGS)
    return nb


def lesson_path(number: str, folder: Path = NOTEBOOKS) -> Path:
    """Return the lesson notebook numbered ``number`` (``"7"`` or ``"07"``).

    Raises:
        SystemExit: With the list of lessons when there is no such lesson.
    """
    lessons = lesson_notebooks(folder)
    wanted = number.strip().zfill(2)
    for path in lessons:
        if path.name[:2] == wanted:
            return path
    names = ", ".join(p.name[:2] for p in lessons)
    raise SystemExit(f"There is no lesson {number!r}. Give one of: {names} (make slides NB=07)")


def slideshow_url_path(path: Path) -> str:
    """Return the JupyterLab URL path that opens ``path`` as a slideshow."""
    return "/rise/" + path.relative_to(ROOT).as_posix()


def slideshow_command(path: Path, port: int) -> list[str]:
    """Return the command that serves the kit and opens ``path`` as a slideshow."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--port={port}",
        f"--ServerApp.root_dir={ROOT}",
        # JupyterLab opens its own start page unless told otherwise: the slideshow.
        f"--LabApp.default_url={slideshow_url_path(path)}",
    ]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    return command


def main(argv: list[str] | None = None) -> int:
    """Open one lesson as a slideshow in the browser, served by JupyterLab."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lesson", help="the lesson's number, e.g. 07")
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--lang", choices=i18n.LANGUAGES, default=i18n.language(),
                        help="en, or es for notebooks/es/ (default: KIT_LANG)")  # fmt: skip
    args = parser.parse_args(argv)
    path = lesson_path(args.lesson, NOTEBOOKS if args.lang == "en" else NOTEBOOKS / args.lang)
    os.environ[i18n.LANG_ENV] = args.lang  # the kernels speak the edition's language
    print(f"Opening {path.name} as slides. Stop with Ctrl+C.")
    print("Keys: space/arrows move, Shift+Enter runs a cell, W shows all slides, ? lists keys.")
    try:
        return subprocess.call(slideshow_command(path, args.port), cwd=ROOT)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
