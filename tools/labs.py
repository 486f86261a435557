"""Generate every lab's student notebook from its solution notebook.

The solution notebook ``labs/labNN_name/labNN_solution.ipynb`` is the one source of truth.
``python -m tools.labs`` (``make labs``) writes ``labNN_student.ipynb`` beside it;
``--check`` changes nothing and exits 1 when a student notebook is out of date (the
test suite runs it).

Markers in the solution notebook:

- In code cells, the lines from ``# BEGIN SOLUTION`` to ``# END SOLUTION`` are dropped,
  and a line ``# STUDENT: code`` becomes ``code``. So a task cell reads::

      # STUDENT: threshold = ...
      # BEGIN SOLUTION
      threshold = best_threshold(costs)
      # END SOLUTION

- In markdown cells, the text from ``<!-- BEGIN SOLUTION -->`` to
  ``<!-- END SOLUTION -->`` is dropped.
- In the setup cell, ``setup_notebook("labNN_solution")`` becomes
  ``setup_notebook("labNN_student")``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from tools.notebook_checks import LABS, write_generated

CODE_BLOCK = re.compile(
    r"^[ \t]*# BEGIN SOLUTION[ \t]*\n.*?^[ \t]*# END SOLUTION[ \t]*\n?", re.DOTALL | re.MULTILINE
)
STUDENT_LINE = re.compile(r"^([ \t]*)# STUDENT: ?", re.MULTILINE)
TEXT_BLOCK = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->\n?", re.DOTALL)


class LabSourceError(ValueError):
    """A solution notebook's markers do not pair up."""


def solution_notebooks(folder: Path = LABS) -> list[Path]:
    """Return every lab's solution notebook."""
    return sorted(folder.glob("lab*/lab*_solution.ipynb"))


def student_path(solution: Path) -> Path:
    """Return where the student notebook of a solution notebook goes."""
    return solution.with_name(solution.name.replace("_solution", "_student"))


def student_code(text: str) -> str:
    """Return a code cell's source as the student sees it."""
    if text.count("# BEGIN SOLUTION") != text.count("# END SOLUTION"):
        raise LabSourceError(f"unpaired solution markers in cell:\n{text[:200]}")
    return STUDENT_LINE.sub(r"\1", CODE_BLOCK.sub("", text)).rstrip("\n")


def student_markdown(text: str) -> str:
    """Return a markdown cell's source as the student sees it."""
    if text.count("<!-- BEGIN SOLUTION -->") != text.count("<!-- END SOLUTION -->"):
        raise LabSourceError(f"unpaired solution markers in cell:\n{text[:200]}")
    return TEXT_BLOCK.sub("", text).strip("\n")


def student_notebook(solution: Path) -> nbformat.NotebookNode:
    """Build the student notebook from a solution notebook."""
    nb = nbformat.read(solution, as_version=4)
    stem, student_stem = solution.stem, student_path(solution).stem
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = student_code(cell.source).replace(
                f'setup_notebook("{stem}")', f'setup_notebook("{student_stem}")'
            )
        elif cell.cell_type == "markdown":
            cell.source = student_markdown(cell.source)
        if cell.source.strip():
            cells.append(cell)
    nb.cells = cells
    return nb


def planned_changes() -> dict[Path, str]:
    """Return every student notebook whose generated text differs, with its new text."""
    changes = {}
    for solution in solution_notebooks():
        target = student_path(solution)
        text = nbformat.writes(student_notebook(solution)) + "\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changes[target] = text
    return changes


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` only report) the student notebooks."""
    return write_generated(planned_changes, "make labs", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
