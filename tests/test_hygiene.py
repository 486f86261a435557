"""The kit's notebooks are clean, well named and shaped alike; the checkers catch faults.

The first tests run the checks over the real kit. The others feed the checkers small
notebooks made here, including ones that must fail, so a checker that passes everything
is caught.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools import navigation
from tools import notebook_checks as checks

ROOT = checks.ROOT


# --- The real kit ---------------------------------------------------------------------


def test_kit_notebooks_pass_every_hygiene_check() -> None:
    problems = checks.check_all()
    assert not problems, "\n".join(problems)


def test_navigation_and_course_map_are_up_to_date() -> None:
    stale = [p.relative_to(ROOT).as_posix() for p in navigation.planned_changes()]
    assert not stale, f"out of date, run `make nav`: {stale}"


def test_ruff_passes_on_code_notebooks_and_documents() -> None:
    """The same as `make check`: code, notebooks and the code blocks of markdown files."""
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "."],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_notebook_declares_the_kit_kernel() -> None:
    for path in checks.lesson_notebooks() + checks.lab_notebooks():
        kernel = checks.load(path)["metadata"].get("kernelspec", {}).get("name")
        assert kernel == "mlflow-kit", f"{path.name}: kernel is {kernel!r}, not 'mlflow-kit'"


# --- The checkers on fixtures -----------------------------------------------------------


def make_notebook(
    number: str = "03",
    title_cell: str | None = None,
    closing: tuple[str, ...] = ("## Summary\n- a point", "## Exercises\n1. a task"),
    setup_name: str | None = None,
    nav: bool = True,
) -> nbformat.NotebookNode:
    """Build a small notebook that follows the template unless told otherwise."""
    name = f"{number}_sample_lesson"
    opening = f"# {number} · Sample lesson\n*One line.*\n\n## Learning objectives\n- one"
    title = title_cell or opening
    cells = [
        nbformat.v4.new_markdown_cell(title),
        nbformat.v4.new_code_cell(
            f'from utils import setup_notebook\n\nkit = setup_notebook("{setup_name or name}")'
        ),
        nbformat.v4.new_code_cell("x = 1\nassert x == 1"),
        *(nbformat.v4.new_markdown_cell(text) for text in closing),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    return navigation.with_navigation(nb, "nav") if nav else nb


def problems_of(nb: nbformat.NotebookNode, name: str = "03_sample_lesson.ipynb") -> list[str]:
    path = ROOT / "notebooks" / name
    data = nbformat.from_dict(nb)
    return checks.check_opening(data, path) + checks.check_closing(data, path)


def test_a_template_notebook_passes() -> None:
    nb = make_notebook()
    assert problems_of(nb) == []
    assert checks.check_clean(nb, "x") == []


def test_outputs_and_execution_counts_fail() -> None:
    nb = make_notebook()
    nb.cells[2].execution_count = 4
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    problems = checks.check_clean(nb, "03_sample_lesson.ipynb")
    assert any("has outputs" in p for p in problems)
    assert any("execution count" in p for p in problems)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["00_a.ipynb", "01_b.ipynb", "03_c.ipynb"], "gaps: missing [2]"),
        (["00_a.ipynb", "01_b.ipynb", "01_c.ipynb"], "used more than once"),
        (["00_a.ipynb", "1_b.ipynb"], "name must look like"),
        (["00_a.ipynb", "01_Data-Cleaning.ipynb"], "name must look like"),
    ],
)
def test_bad_names_and_gaps_fail(names: list[str], expected: str) -> None:
    problems = checks.check_names([Path(n) for n in names])
    assert any(expected in p for p in problems), problems


def test_good_names_pass() -> None:
    assert checks.check_names([Path("00_a.ipynb"), Path("01_b_c.ipynb")]) == []


def test_missing_summary_fails() -> None:
    nb = make_notebook(closing=("## Exercises\n1. a task",))
    assert any("Summary" in p for p in problems_of(nb))


def test_section_after_exercises_fails() -> None:
    nb = make_notebook(closing=("## Summary\n- a", "## Exercises\n1. b", "## Extra\nmore"))
    assert any("must close with" in p for p in problems_of(nb))


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Sample lesson\n*One line.*\n\n## Learning objectives\n- one", "first line must be"),
        ("# 04 · Sample\n*One line.*\n\n## Learning objectives\n- one", "does not match"),
        ("# 03 · Sample\n\n## Learning objectives\n- one", "one-line subtitle"),
        ("# 03 · Sample\n*One line.*", "Learning objectives"),
        ("# 03 · Sample\n*One line.*\n\n## Learning objectives\nprose", "bullet list"),
    ],
)
def test_bad_openings_fail(title: str, expected: str) -> None:
    problems = problems_of(make_notebook(title_cell=title))
    assert any(expected in p for p in problems), problems


def test_setup_cell_must_name_the_notebook() -> None:
    problems = problems_of(make_notebook(setup_name="02_other"))
    assert any("setup_notebook" in p for p in problems)


def test_missing_navigation_fails() -> None:
    problems = problems_of(make_notebook(nav=False))
    assert any("navigation cell" in p for p in problems)


def test_broken_links_fail_and_good_links_pass(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"png")
    text = (
        "![ok](images/a.png) [web](https://example.org) [anchor](#top) "
        '![missing](images/b.png) <img src="images/c.svg"> [doc](other.md#part)'
    )
    problems = checks.check_links(text, tmp_path, "x.md")
    assert len(problems) == 3
    assert {p.split("`")[1] for p in problems} == {"images/b.png", "images/c.svg", "other.md#part"}


def test_navigation_links_previous_and_next() -> None:
    entries = [
        navigation.Entry("00", "Welcome", "", Path("00_welcome.ipynb")),
        navigation.Entry("01", "Business", "", Path("01_business.ipynb")),
        navigation.Entry("02", "Data", "", Path("02_data.ipynb")),
    ]
    assert "←" not in navigation.nav_text(entries, 0)
    middle = navigation.nav_text(entries, 1)
    assert "[← 00 Welcome](00_welcome.ipynb)" in middle
    assert "[02 Data →](02_data.ipynb)" in middle
    assert "→" not in navigation.nav_text(entries, 2)


def test_navigation_is_idempotent() -> None:
    nb = make_notebook()
    once = nbformat.writes(navigation.with_navigation(nb, "nav"))
    twice = nbformat.writes(navigation.with_navigation(nbformat.reads(once, 4), "nav"))
    assert once == twice
    assert sum(checks.is_navigation(c) for c in nbformat.reads(twice, 4).cells) == 2


# --- Labs ------------------------------------------------------------------------------

GOOD_README = """# Lab 02 · Clean a batch
*Clean a raw batch and build a pipeline.*

- **After lesson:** 05

## Objectives
## Duration
## Prerequisites
## Tasks
## Rubric
Exemplary, adequate, needs work.
## Instructor notes
"""


def make_lab(
    tmp_path: Path,
    readme: str = GOOD_README,
    name: str = "lab02_clean_a_batch",
    setup: str = "lab02_solution",
) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "README.md").write_text(readme)
    for kind in ("solution", "student"):
        stem = setup if kind == "solution" else "lab02_student"
        setup_cell = f'from utils import setup_notebook\nkit = setup_notebook("{stem}")'
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell("# Lab 02 · Clean a batch\n*One line.*"),
            nbformat.v4.new_code_cell(setup_cell),
        ])  # fmt: skip
        nbformat.write(nb, folder / f"lab02_{kind}.ipynb")
    return folder


def test_a_complete_lab_passes(tmp_path: Path) -> None:
    assert checks.check_lab(make_lab(tmp_path)) == []


@pytest.mark.parametrize(
    ("readme", "expected"),
    [
        (GOOD_README.replace("## Rubric\n", ""), "`## Rubric`"),
        (GOOD_README.replace("needs work", "poor"), "`needs work`"),
        (GOOD_README.replace("- **After lesson:** 05\n", ""), "After lesson"),
        (GOOD_README.replace("# Lab 02 ·", "# Lab two ·"), "first line must be"),
    ],
)
def test_an_incomplete_lab_readme_fails(tmp_path: Path, readme: str, expected: str) -> None:
    problems = checks.check_lab(make_lab(tmp_path, readme=readme))
    assert any(expected in p for p in problems), problems


def test_lab_notebooks_and_names_are_checked(tmp_path: Path) -> None:
    assert any("setup_notebook" in p for p in checks.check_lab(make_lab(tmp_path, setup="x")))
    assert "named like" in checks.check_lab(make_lab(tmp_path, name="Lab2"))[0]
    folders = [Path("lab01_a"), Path("lab03_b")]
    assert checks.check_lab_numbers(folders)
    assert checks.check_lab_numbers([Path("lab01_a"), Path("lab02_b")]) == []


# --- Images ------------------------------------------------------------------------


def test_images_need_alt_text_and_in_lessons_a_caption() -> None:
    good = "![The MLOps loop](../images/x.svg)\n\n*The MLOps loop: build, deploy, watch.*"
    assert checks.check_image_text(good, "07.ipynb", captions=True) == []
    no_alt = "![](../images/x.svg)\n\n*Caption.*"
    assert "needs alt text" in checks.check_image_text(no_alt, "07.ipynb", captions=True)[0]
    placeholder = '<img src="../images/x.png" alt="alt text">'
    assert "needs alt text" in checks.check_image_text(placeholder, "README.md", captions=False)[0]
    no_caption = "![The loop](../images/x.svg)\n\nThe next paragraph."
    problems = checks.check_image_text(no_caption, "07.ipynb", captions=True)
    assert problems == ["07.ipynb: image `../images/x.svg` needs a caption: an *italic line* "
                        "right below it"]  # fmt: skip
    assert checks.check_image_text(no_caption, "README.md", captions=False) == []


def test_every_picture_in_images_must_be_shown(tmp_path: Path) -> None:
    images = tmp_path / "images"
    (images / "diagrams").mkdir(parents=True)
    for name in ("diagrams/loop.svg", "diagrams/loop.py", "shot.png", "unused.png"):
        (images / name).write_text("x")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    text = '![The loop](../images/diagrams/loop.svg)\n<img src="../images/shot.png" alt="UI">'
    shown = checks.shown_images(text, notebooks)
    assert shown == {images / "diagrams/loop.svg", images / "shot.png"}
    problems = checks.check_unused_images(shown, images)
    assert problems == [
        "images/unused.png is not shown by any notebook or document: show it where it "
        "belongs, or delete it"
    ]  # the source loop.py is not a picture, so it need not be shown


def test_a_missing_image_fails_the_link_check(tmp_path: Path) -> None:
    text = "![The loop](../images/missing.svg)"
    problems = checks.check_links(text, tmp_path, "07.ipynb")
    assert problems == ["07.ipynb: link to `../images/missing.svg` does not resolve"]


# --- Instructor guide ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("guide_name", "lessons", "readme_name"),
    [("INSTRUCTOR_GUIDE.md", "notebooks/", "README.md"),
     ("INSTRUCTOR_GUIDE.es.md", "notebooks/es/", "README.es.md")],
    ids=["en", "es"],
)  # fmt: skip
def test_instructor_guide_covers_every_lesson_and_lab_with_the_labs_durations(
    guide_name: str, lessons: str, readme_name: str
) -> None:
    guide = (checks.ROOT / guide_name).read_text(encoding="utf-8")
    targets = set(checks.markdown_targets(guide))
    for path in checks.lesson_notebooks():
        assert f"{lessons}{path.name}" in targets, f"the guide's schedule misses {path.name}"
    for folder in checks.lab_folders():
        readme = f"labs/{folder.name}/{readme_name}"
        assert readme in targets, f"the guide misses {folder.name}"
        duration = (folder / "README.md").read_text(encoding="utf-8").split("## Duration")[1]
        minutes = re.search(r"About (\d+) minutes", duration).group(1)
        rows = [line for line in guide.splitlines() if f"]({readme})" in line]
        assert rows and all(f"| {minutes} min |" in row for row in rows), (
            f"the guide's duration for {folder.name} differs from its README ({minutes} min)"
        )


def test_a_section_in_the_middle_of_a_cell_fails() -> None:
    nb = make_notebook()
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("Some text.\n\n## 2. Next section"))
    fence = "```bash\n# a comment, not a heading\n```"
    nb.cells.insert(3, nbformat.v4.new_markdown_cell(f"Text.\n{fence}"))
    problems = checks.check_sections(nb, Path("03_sample_lesson.ipynb"))
    assert problems == [
        "03_sample_lesson.ipynb: cell 4: `## 2. Next section` must start a markdown cell "
        "of its own (split the cell before it)"
    ]
