"""Class progress from the class tracking server: ``make gradebook DIR=~/class-mlflow``.

Reads, as the instructor (the ``admin`` account of the class folder's credentials
file), every student's lab work on the running class server (:mod:`utils.classroom`):

- the tasks that leave MLflow state (runs, models, signatures, aliases) are graded from
  that state by each lab's ``grade_state``: what the student did, not what a check said;
- the other tasks from the results the student's checks recorded in ``<user>/lab-results``
  (:mod:`utils.results`): the best attempt counts.

It writes, in ``DIR/gradebook/`` unless ``--out`` says otherwise, one CSV per lab
(``username``, the points of each task, ``total``, ``possible``, ``last_attempt``) that
Moodle and Canvas import, and ``index.html``: a class-progress table and, per lab, a chart
of how many students passed each task. The page is one file with no script and nothing
loaded from the network. For a final grade that re-executes each notebook in a clean
kernel, collect the notebooks and run ``make grade``.
"""

from __future__ import annotations

import argparse
import csv
import html
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import grade, labs, runner
from utils import classroom, grading, results

STATE = "MLflow state"
RECORDED = "recorded check"


@dataclass
class Cell:
    """One student's result on one task.

    Attributes:
        score: Points earned.
        points: Points possible.
        status: ``passed``, ``failed``, ``unfinished`` or ``not started``.
        source: Where the score comes from: MLflow state or a recorded check.
        message: What is wrong, if anything.
    """

    score: float
    points: int
    status: str
    source: str
    message: str = ""


@dataclass
class LabRow:
    """One student's row of one lab.

    Attributes:
        student: The user name.
        lab: The lab id.
        tasks: ``{task label: Cell}``, in task order.
        last_attempt: When the student last ran a check of this lab (epoch seconds).
    """

    student: str
    lab: str
    tasks: dict[str, Cell] = field(default_factory=dict)
    last_attempt: float = 0.0

    @property
    def total(self) -> float:
        """Points earned in the lab."""
        return sum(cell.score for cell in self.tasks.values())

    @property
    def possible(self) -> int:
        """Points the lab is worth."""
        return sum(cell.points for cell in self.tasks.values())


def lab_ids() -> list[str]:
    """Every lab of the kit, in order."""
    return [path.name.split("_")[0] for path in labs.solution_notebooks()]


def student_row(client: Any, tracking_uri: str, student: str, lab: str) -> LabRow:
    """Grade one student's lab on the server (MLflow must authenticate as the admin)."""
    from utils import checks

    recorded = results.read_results(client, student).get(lab, {})
    row = LabRow(student, lab)
    for task in grade.task_order(lab):
        points = checks.POINTS[lab][task]
        found = recorded.get(results.task_key(task))
        if found is None:
            row.tasks[task] = Cell(0, points, "not started", RECORDED)
        else:
            status = "passed" if found.best_score >= points else found.status
            row.tasks[task] = Cell(found.best_score, points, status, RECORDED, found.message)
            row.last_attempt = max(row.last_attempt, found.last_attempt)
    state = grading.state_tasks(lab)
    if state:
        experiment = grade.lab_experiment(client, lab, student)
        if experiment is None:
            for task in state:
                row.tasks[task] = Cell(0, checks.POINTS[lab][task], "not started", STATE)
        else:
            with grading.graded_experiment(tracking_uri, experiment.experiment_id):
                graded = grading.grade_state(lab, experiment.experiment_id, student)
            for feedback in graded:
                row.tasks[feedback.task] = Cell(
                    feedback.score, feedback.points, feedback.status, STATE, feedback.message
                )
    return row


def collect(url: str, admin_password: str, students: list[str]) -> dict[str, list[LabRow]]:
    """Grade every student's every lab on the class server at ``url``."""
    import mlflow

    credentials = {
        "MLFLOW_TRACKING_USERNAME": classroom.ADMIN,
        "MLFLOW_TRACKING_PASSWORD": admin_password,
        "MLFLOW_TRACKING_URI": url,
    }
    with runner.patched_environ(credentials):
        client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)
        return {
            lab: [student_row(client, url, student, lab) for student in students]
            for lab in lab_ids()
        }


def _number(value: float) -> str:
    return f"{value:g}"


def write_csvs(book: dict[str, list[LabRow]], folder: Path) -> list[Path]:
    """Write one CSV per lab: username, points per task, total, possible, last attempt."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for lab, rows in book.items():
        order = grade.task_order(lab)
        path = folder / f"{lab}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["username", *order, "total", "possible", "last_attempt"])
            for row in rows:
                writer.writerow(
                    [
                        row.student,
                        *[_number(row.tasks[task].score) for task in order],
                        _number(row.total),
                        row.possible,
                        results.last_attempt_text(row.last_attempt),
                    ]
                )
        written.append(path)
    return written


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: center; }
th:first-child, td:first-child { text-align: left; }
td.passed { background: #d8f0d8; } td.failed { background: #f6d6d6; }
td.unfinished, td.partial { background: #fbefc8; } td.none { color: #999; }
.note { color: #555; font-size: 0.9rem; }
"""


def _bar_chart(lab: str, rows: list[LabRow]) -> str:
    """An inline SVG: for each task, how many students passed it."""
    order = grade.task_order(lab)
    width, bar, gap, left = 560, 22, 8, 250
    height = len(order) * (bar + gap) + 30
    total = max(len(rows), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="Students who passed each task of {lab}">'
    ]
    for index, task in enumerate(order):
        passed = sum(1 for row in rows if row.tasks[task].status == "passed")
        y = 10 + index * (bar + gap)
        length = (width - left - 60) * passed / total
        parts.append(
            f'<text x="0" y="{y + 16}" font-size="13">{html.escape(task)}</text>'
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="#3b7dd8"/>'
            f'<rect x="{left}" y="{y}" width="{width - left - 60}" height="{bar}" '
            'fill="none" stroke="#bbb"/>'
            f'<text x="{width - 52}" y="{y + 16}" font-size="13" class="count">'
            f"{passed}/{len(rows)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _status_class(cell: Cell) -> str:
    if cell.status == "not started":
        return "none"
    return cell.status if cell.status in ("passed", "failed", "unfinished") else "partial"


def render_html(book: dict[str, list[LabRow]], generated: str) -> str:
    """Return the gradebook page: class progress, then per lab a chart and a table."""
    students = [row.student for row in next(iter(book.values()), [])]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Class progress</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>Class progress</h1>",
        f'<p class="note">Read from the class tracking server on {html.escape(generated)}. '
        "Tasks that leave MLflow state are graded from that state; the others from the "
        "best result the student's checks recorded. For final grades, "
        "<code>make grade</code> re-executes the notebooks.</p>",
        "<table><thead><tr><th>Student</th>",
    ]
    out += [f"<th>{lab}</th>" for lab in book]
    out.append("</tr></thead><tbody>")
    for index, student in enumerate(students):
        out.append(f"<tr><td>{html.escape(student)}</td>")
        for rows in book.values():
            row = rows[index]
            done = "passed" if row.total == row.possible else "partial" if row.total else "none"
            out.append(f'<td class="{done}">{_number(row.total)}/{row.possible}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    for lab, rows in book.items():
        order = grade.task_order(lab)
        out.append(f'<h2 id="{lab}">{lab}</h2>')
        out.append(_bar_chart(lab, rows))
        out.append("<table><thead><tr><th>Student</th>")
        out += [f"<th>{html.escape(task)}</th>" for task in order]
        out.append("<th>Total</th><th>Last attempt</th></tr></thead><tbody>")
        for row in rows:
            out.append(f"<tr><td>{html.escape(row.student)}</td>")
            for task in order:
                cell = row.tasks[task]
                title = html.escape(f"{cell.status} ({cell.source}): {cell.message}", quote=True)
                out.append(
                    f'<td class="{_status_class(cell)}" title="{title}">'
                    f"{_number(cell.score)}/{cell.points}</td>"
                )
            out.append(
                f"<td>{_number(row.total)}/{row.possible}</td>"
                f"<td>{results.last_attempt_text(row.last_attempt)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_gradebook(book: dict[str, list[LabRow]], folder: Path) -> Path:
    """Write the CSVs and ``index.html`` into ``folder``; return the page's path."""
    write_csvs(book, folder)
    page = folder / "index.html"
    page.write_text(render_html(book, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    return page


def main(argv: list[str] | None = None) -> int:
    """Read the class server and write the gradebook."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="the class folder")
    parser.add_argument("--port", type=int, default=classroom.DEFAULT_PORT)
    parser.add_argument("--url", help="the server's address (default: this machine, --port)")
    parser.add_argument("--out", type=Path, help="where to write (default: DIR/gradebook)")
    args = parser.parse_args(argv)
    directory = args.dir.expanduser()
    credentials = directory / classroom.CREDENTIALS_FILE
    if not credentials.exists():
        print(
            f"make gradebook: {credentials} not found: give the class folder that "
            "`make classroom` created (DIR=...)",
            file=sys.stderr,
        )
        return 2
    passwords = classroom.read_credentials(credentials)
    students = sorted(name for name in passwords if name != classroom.ADMIN)
    url = args.url or f"http://127.0.0.1:{args.port}"
    import requests

    try:
        requests.get(f"{url}/health", timeout=5).raise_for_status()
    except requests.RequestException as error:
        print(
            f"make gradebook: the class server does not answer at {url} ({type(error).__name__}); "
            "start it with `make classroom`, or give its address with ARGS='--url ...'",
            file=sys.stderr,
        )
        return 2
    book = collect(url, passwords[classroom.ADMIN], students)
    page = write_gradebook(book, args.out or directory / "gradebook")
    print(f"gradebook of {len(students)} students: {page} and one CSV per lab beside it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
