"""Run the whole suite against the newest release of every direct dependency.

``make test-latest`` (``python -m tools.test_latest``) is the step before changing a pin.
It builds a second virtual environment, ``.venv-latest/``, from ``requirements.txt`` with
the pins taken off (extras such as ``mlflow[auth]`` kept), registers the kit's kernel
inside it, runs every test there, checks that a tracking store made with the pinned
MLflow upgrades to the newest one, and writes what it found to ``TEST_LATEST.md``.

When the newest release of a package cannot be installed here (missing from the
registry, or in conflict with the others), the newest release that can be installed
takes its place, and the report says so. The pins in ``requirements.txt`` never change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
LATEST_VENV = ROOT / ".venv-latest"
PINNED_VENV = ROOT / ".venv"
REPORT = ROOT / "TEST_LATEST.md"
OUTPUT_DIR = ROOT / "build" / "test-latest"
KERNEL_NAME = "mlflow-kit"
# Older releases tried, per package, when its newest one does not install.
MAX_TRIES = 5

REQUIREMENT_LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[^\]]*\])?\s*==\s*(?P<pin>[^\s;#]+)"
)
SUMMARY_LINE = re.compile(r"^=+ (?P<text>.*\b(passed|failed|error|errors|skipped)\b.*) =+$")


class LatestEnvError(RuntimeError):
    """The latest environment could not be built; the message says what to do."""


@dataclass
class Requirement:
    """One pinned line of ``requirements.txt``.

    Attributes:
        name: The distribution name, as written.
        extras: The extras with their brackets (``"[auth]"``) or ``""``.
        pinned: The pinned version.
    """

    name: str
    extras: str
    pinned: str

    def spec(self, version: str | None = None) -> str:
        """Return ``name[extras]``, pinned to ``version`` when given."""
        return f"{self.name}{self.extras}" + (f"=={version}" if version else "")


@dataclass
class Choice:
    """The release of one dependency that the latest environment installs.

    Attributes:
        requirement: The pinned requirement.
        newest: The newest release the registry lists (``None`` when it could not be read).
        chosen: The release to install (``None``: left for pip to choose).
        rejected: Newer releases that did not resolve, newest first.
        note: Why ``chosen`` is not ``newest``, or ``""``.
        installed: The version found in the environment after installing.
    """

    requirement: Requirement
    newest: str | None
    chosen: str | None
    rejected: list[str] = field(default_factory=list)
    note: str = ""
    installed: str | None = None


@dataclass
class Failure:
    """One failing test: its pytest id and the first line of its error."""

    test: str
    message: str


@dataclass
class StoreCheck:
    """The result of upgrading a tracking store made with the pinned MLflow.

    Attributes:
        ok: Whether every step worked and every run survived.
        steps: One line per step, in order.
    """

    ok: bool
    steps: list[str]


# --- Reading ------------------------------------------------------------------------


def parse_requirements(text: str) -> list[Requirement]:
    """Return the pinned lines of a requirements file, in order.

    Raises:
        ValueError: A requirement line is not of the form ``name[extras]==version``.
    """
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = REQUIREMENT_LINE.match(line)
        if not match:
            raise ValueError(
                f"requirements.txt line {number} is not `name==version`: {raw.strip()!r}. "
                "Pin every direct dependency exactly."
            )
        found.append(Requirement(match["name"], match["extras"] or "", match["pin"]))
    return found


def parse_index_versions(output: str) -> list[str]:
    """Return the versions of ``pip index versions`` output, newest first."""
    for line in output.splitlines():
        if line.startswith("Available versions:"):
            return [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]
    return []


def parse_junit(xml_text: str) -> list[Failure]:
    """Return the failed and erroring tests of a pytest JUnit XML report."""
    failures = []
    for case in ET.fromstring(xml_text).iter("testcase"):
        for kind in ("failure", "error"):
            problem = case.find(kind)
            if problem is None:
                continue
            module = case.get("classname", "").replace(".", "/")
            test = f"{module}.py::{case.get('name', '')}" if module else case.get("name", "")
            text = (problem.get("message") or problem.text or kind).strip()
            failures.append(Failure(test, first_line(text)))
    return failures


def first_line(text: str) -> str:
    """Return the first non-empty line of ``text``, cut to 200 characters."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 200 else line[:197] + "..."
    return ""


def pytest_summary(output: str) -> str:
    """Return pytest's closing summary (``5 failed, 300 passed in 900.00s``), or ``""``."""
    for line in reversed(output.splitlines()):
        match = SUMMARY_LINE.match(line.strip())
        if match:
            return match["text"]
    return ""


def group_of(test: str) -> str:
    """Name the lesson or lab a test belongs to, or its test file when neither."""
    lab = re.search(r"lab(\d\d)", test)
    if lab:
        return f"lab {lab[1]}"
    lesson = re.search(r"(?<![0-9])(\d\d)_[a-z]", test)
    if lesson:
        return f"lesson {lesson[1]}"
    return test.split("::", 1)[0]


def group_failures(failures: Sequence[Failure]) -> dict[str, list[Failure]]:
    """Group failures by lesson or lab (lessons first, then labs, then files), in order."""
    groups: dict[str, list[Failure]] = {}
    for failure in failures:
        groups.setdefault(group_of(failure.test), []).append(failure)

    def order(name: str) -> tuple[int, str]:
        rank = 0 if name.startswith("lesson ") else 1 if name.startswith("lab ") else 2
        return rank, name

    return {name: groups[name] for name in sorted(groups, key=order)}


# --- Choosing versions ----------------------------------------------------------------


def choose_versions(
    requirements: Sequence[Requirement],
    available: Callable[[str], list[str]],
    resolve: Callable[[list[str]], dict[str, str] | None],
    max_tries: int = MAX_TRIES,
    log: Callable[[str], None] = lambda message: None,
) -> list[Choice]:
    """Pick the newest release of every requirement that installs together with the rest.

    First the newest release of everything is tried at once. When pip cannot resolve
    that, pip chooses with no pins at all; each package it then holds below its newest
    release is tried again at each newer release (newest first, at most
    ``1 + max_tries`` of them) together with the others' choices, and keeps the first
    that resolves, or else pip's choice.

    Args:
        requirements: The pinned requirements.
        available: Returns a package's releases, newest first (empty when unknown).
        resolve: Returns what pip would install for a list of specs, as
            ``{normalized name: version}``, or ``None`` when it cannot resolve them.
        max_tries: Releases tried per package after its newest one.
        log: Receives a line for each step.

    Returns:
        One :class:`Choice` per requirement, in the same order.

    Raises:
        LatestEnvError: pip cannot resolve the requirements even without pins.
    """
    listed = {req.name: available(req.name) for req in requirements}
    choices = [Choice(req, (listed[req.name] or [None])[0], None) for req in requirements]
    if all(c.newest for c in choices):
        if resolve([c.requirement.spec(c.newest) for c in choices]) is not None:
            for choice in choices:
                choice.chosen = choice.newest
            return choices
        log("The newest releases do not install together: letting pip choose without pins")
    free = resolve([req.spec() for req in requirements])
    if free is None:
        raise LatestEnvError(
            "pip cannot install requirements.txt even without its pins (see the lines "
            "above); check that the package registry is reachable."
        )
    for choice in choices:
        choice.chosen = free.get(normalize(choice.requirement.name))
        if choice.newest is None:
            choice.note = "the registry listed no releases; pip chose"
    for choice in choices:
        if choice.newest is None or choice.chosen == choice.newest:
            continue
        releases = listed[choice.requirement.name]
        newer = releases[: releases.index(choice.chosen)] if choice.chosen in releases else []
        for version in newer[: max_tries + 1]:
            others = [c.requirement.spec(c.chosen) for c in choices if c is not choice]
            if resolve([*others, choice.requirement.spec(version)]) is not None:
                choice.chosen = version
                break
            choice.rejected.append(version)
        untried = len(newer) - len(choice.rejected) - (choice.chosen in newer)
        if choice.chosen == choice.newest:
            continue
        if not choice.rejected:
            choice.note = "pip chose this release, not the newest"
            continue
        choice.note = f"{', '.join(choice.rejected)} did not resolve here; fell back" + (
            f" ({untried} newer releases not tried)" if untried > 0 else ""
        )
    return choices


# --- The environment ------------------------------------------------------------------


def run(command: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its text output (never raises for its exit code)."""
    return subprocess.run(list(command), capture_output=True, text=True, **kwargs)


def venv_python(venv: Path) -> Path:
    """Return the Python of a virtual environment."""
    return venv / "bin" / "python"


def create_venv(venv: Path, python: str) -> None:
    """Create an empty virtual environment with a current pip, replacing any old one."""
    if venv.exists():
        shutil.rmtree(venv)
    made = run([python, "-m", "venv", str(venv)])
    if made.returncode:
        raise LatestEnvError(f"`{python} -m venv {venv}` failed:\n{made.stderr[-2000:]}")
    run([str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])


def pip_available(python: Path) -> Callable[[str], list[str]]:
    """Return a function listing a package's releases with ``pip index versions``."""

    def available(name: str) -> list[str]:
        listed = run([str(python), "-m", "pip", "index", "versions", name])
        return parse_index_versions(listed.stdout) if listed.returncode == 0 else []

    return available


def pip_resolver(python: Path, log: Callable[[str], None]) -> Callable[..., dict[str, str] | None]:
    """Return a function telling what pip would install for specs (a dry run)."""

    def resolve(specs: list[str]) -> dict[str, str] | None:
        with tempfile.TemporaryDirectory(prefix="kit-pip-") as folder:
            report = Path(folder) / "report.json"
            done = run(
                [str(python), "-m", "pip", "install", "--quiet", "--dry-run",
                 "--ignore-installed", "--report", str(report), *specs]
            )  # fmt: skip
            if done.returncode or not report.exists():
                what = specs[-1] if len(specs) == 1 else f"{specs[-1]} with {len(specs) - 1} others"
                log(f"  does not resolve: {what} ({pip_reason(done.stderr)})")
                return None
            install = json.loads(report.read_text()).get("install", [])
        return {normalize(i["metadata"]["name"]): i["metadata"]["version"] for i in install}

    return resolve


def pip_reason(stderr: str) -> str:
    """Return the line of pip's error output that says why it could not install."""
    errors = [
        line.removeprefix("ERROR:").strip()
        for line in stderr.splitlines()
        if line.startswith("ERROR:") and not line.startswith("ERROR: Ignored the following")
    ]
    return first_line(errors[0] if errors else stderr) or "no reason given"


def installed_versions(python: Path) -> dict[str, str]:
    """Return ``{normalized name: version}`` of what an environment holds."""
    listed = run([str(python), "-m", "pip", "list", "--format", "json"])
    if listed.returncode:
        return {}
    return {normalize(p["name"]): p["version"] for p in json.loads(listed.stdout)}


def normalize(name: str) -> str:
    """Normalize a distribution name the way PyPI does."""
    return re.sub(r"[-_.]+", "-", name).lower()


def build_latest_env(venv: Path, python: str, log: Callable[[str], None]) -> list[Choice]:
    """Build ``venv`` with the newest installable release of every direct dependency."""
    requirements = parse_requirements(REQUIREMENTS.read_text())
    log(f"Creating {venv.name} with {python}")
    create_venv(venv, python)
    py = venv_python(venv)
    log("Reading the newest releases from the registry and checking they resolve")
    choices = choose_versions(requirements, pip_available(py), pip_resolver(py, log), log=log)
    specs = [c.requirement.spec(c.chosen) for c in choices]
    log("Installing: " + " ".join(specs))
    done = run([str(py), "-m", "pip", "install", "--quiet", *specs])
    if done.returncode:
        raise LatestEnvError(f"pip could not install the latest set:\n{done.stderr[-3000:]}")
    kit = run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(ROOT)])
    if kit.returncode:
        raise LatestEnvError(f"installing the kit's utils failed:\n{kit.stderr[-2000:]}")
    kernel = run(
        [
            str(py), "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
            "--display-name", "Python (MLflow kit, latest)",
            "--env", "MLFLOW_DISABLE_TELEMETRY", "true",
            "--env", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true",
        ]
    )  # fmt: skip
    if kernel.returncode:
        raise LatestEnvError(f"registering the kernel failed:\n{kernel.stderr[-2000:]}")
    versions = installed_versions(py)
    for choice in choices:
        choice.installed = versions.get(normalize(choice.requirement.name))
    return choices


#: The versions the latest environment holds, as pins: what lesson 00 checks it against.
INSTALLED_REQUIREMENTS = OUTPUT_DIR / "requirements-installed.txt"


def write_installed_requirements(choices: Sequence[Choice], target: Path) -> Path:
    """Write the installed version of every direct dependency as a pin, one per line."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{c.requirement.name}{c.requirement.extras}=={c.installed}" for c in choices if c.installed
    ]
    target.write_text("# Installed by make test-latest in .venv-latest\n" + "\n".join(lines) + "\n")
    return target


def suite_environment(venv: Path) -> dict[str, str]:
    """Environment for running the suite in ``venv``: its kernels found before any other,
    and lesson 00 checking the environment against the versions installed in it."""
    env = dict(os.environ)
    if venv.resolve() == LATEST_VENV.resolve() and INSTALLED_REQUIREMENTS.exists():
        env["KIT_REQUIREMENTS"] = str(INSTALLED_REQUIREMENTS)
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONHOME", None)
    return env


KERNEL_PROBE = """
import json, sys, tempfile, pathlib
import nbformat, papermill
nb = nbformat.v4.new_notebook()
kernel = sys.argv[1]
nb.metadata["kernelspec"] = {"name": kernel, "display_name": "kit", "language": "python"}
nb.cells = [nbformat.v4.new_code_cell(
    "import sys, mlflow; print(sys.executable); print(mlflow.__version__)")]
folder = pathlib.Path(tempfile.mkdtemp())
nbformat.write(nb, folder / "probe.ipynb")
papermill.execute_notebook(str(folder / "probe.ipynb"), str(folder / "out.ipynb"),
                           kernel_name=kernel, progress_bar=False)
out = nbformat.read(folder / "out.ipynb", as_version=4).cells[0].outputs[0]["text"].split()
print(json.dumps({"python": out[0], "mlflow": out[1]}))
"""


def kernel_probe(venv: Path) -> dict[str, str]:
    """Execute a notebook with the kit's kernel as the suite does; say where it ran.

    Returns:
        ``{"python": the kernel's sys.executable, "mlflow": its MLflow version}``.

    Raises:
        LatestEnvError: The notebook did not run, or ran on another environment's Python.
    """
    probe = [str(venv_python(venv)), "-c", KERNEL_PROBE, KERNEL_NAME]
    done = run(probe, env=suite_environment(venv))
    if done.returncode:
        raise LatestEnvError(f"the kernel {KERNEL_NAME} did not run:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(found["python"]).is_relative_to(venv):
        raise LatestEnvError(
            f"notebooks would run on {found['python']}, not on {venv}: another "
            f"{KERNEL_NAME} kernel comes first (see `jupyter kernelspec list`)."
        )
    return found


def run_suite(venv: Path, args: Sequence[str], log: Callable[[str], None]) -> tuple[str, str]:
    """Run every test with ``venv``'s Python; return pytest's output and its JUnit XML."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    junit = OUTPUT_DIR / "junit.xml"
    junit.unlink(missing_ok=True)
    command = [
        str(venv_python(venv)), "-m", "pytest", "-n", "auto", "--dist", "worksteal",
        "-p", "no:cacheprovider", f"--junitxml={junit}", *args,
    ]  # fmt: skip
    log("Running the suite: " + " ".join(command[1:]))
    lines = []
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=suite_environment(venv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
    output = "".join(lines)
    (OUTPUT_DIR / "pytest.log").write_text(output)
    return output, junit.read_text() if junit.exists() else ""


# --- The store upgrade --------------------------------------------------------------------

MAKE_STORE = """
import json, sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("upgrade-check")
runs = {}
for i in range(3):
    with mlflow.start_run(run_name=f"run-{i}") as run:
        mlflow.log_param("alpha", i)
        mlflow.log_metric("auc", 0.5 + i / 10)
        mlflow.set_tag("made_by", mlflow.__version__)
    runs[run.info.run_id] = {"alpha": str(i), "auc": 0.5 + i / 10}
print(json.dumps({"mlflow": mlflow.__version__, "runs": runs}))
"""

OPEN_STORE = """
import json, sys, mlflow
client = mlflow.MlflowClient(tracking_uri=sys.argv[1])
try:
    experiment = client.get_experiment_by_name("upgrade-check")
    found = client.search_runs([experiment.experiment_id])
except Exception as error:
    print(json.dumps({"mlflow": mlflow.__version__, "error": str(error).splitlines()[0]}))
    raise SystemExit(0)
runs = {r.info.run_id: {"alpha": r.data.params.get("alpha"), "auc": r.data.metrics.get("auc")}
        for r in found}
print(json.dumps({"mlflow": mlflow.__version__, "runs": runs}))
"""


def _python_json(python: Path, script: str, uri: str) -> dict:
    done = run([str(python), "-c", script, uri])
    if done.returncode:
        raise LatestEnvError(
            first_line(done.stderr.strip().splitlines()[-1] if done.stderr else "")
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def schema_revision(db: Path) -> str:
    """Return the Alembic revision a SQLite tracking store is at."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def store_upgrade_check(pinned: Path, latest: Path, folder: Path) -> StoreCheck:
    """Make a store with the pinned MLflow, then detect, back up and upgrade it with the latest.

    Args:
        pinned: The environment with the pinned MLflow (``.venv``).
        latest: The environment with the newest MLflow (``.venv-latest``).
        folder: An empty folder for the store and its backup.

    Returns:
        A :class:`StoreCheck`; ``ok`` only when every run and its data survived.
    """
    db = folder / "mlflow.db"
    uri = f"sqlite:///{db}"
    steps = []
    try:
        made = _python_json(venv_python(pinned), MAKE_STORE, uri)
        before = schema_revision(db)
        steps.append(
            f"Made a store with MLflow {made['mlflow']} (pinned): {len(made['runs'])} runs, "
            f"schema revision `{before}`."
        )
        opened = _python_json(venv_python(latest), OPEN_STORE, uri)
        if "error" in opened:
            steps.append(f"MLflow {opened['mlflow']} (latest) refuses it: {opened['error']}")
        else:
            steps.append(
                f"MLflow {opened['mlflow']} (latest) opens it as it is: no schema change "
                "between the two versions."
            )
        backup = db.with_name(f"mlflow.db.backup-{made['mlflow']}")
        shutil.copy2(db, backup)
        steps.append(f"Backed it up to `{backup.name}` before upgrading.")
        upgrade = run([str(latest / "bin" / "mlflow"), "db", "upgrade", uri])
        if upgrade.returncode:
            reason = first_line(upgrade.stderr.strip().splitlines()[-1] if upgrade.stderr else "")
            steps.append(f"`mlflow db upgrade` failed: {reason}")
            return StoreCheck(False, steps)
        after = schema_revision(db)
        steps.append(f"`mlflow db upgrade` (latest) moved the schema to revision `{after}`.")
        reopened = _python_json(venv_python(latest), OPEN_STORE, uri)
        if "error" in reopened:
            steps.append(f"After the upgrade MLflow {reopened['mlflow']} still refuses it: ")
            steps[-1] += reopened["error"]
            return StoreCheck(False, steps)
        survived = reopened["runs"] == made["runs"]
        steps.append(
            f"After the upgrade: {len(reopened['runs'])} of {len(made['runs'])} runs found, "
            + ("each with its parameter and metric." if survived else "but they differ.")
        )
        restored = _python_json(venv_python(pinned), OPEN_STORE, f"sqlite:///{backup}")
        back_ok = "error" not in restored and restored["runs"] == made["runs"]
        steps.append(
            "The backup still opens with the pinned MLflow, with every run: the way back."
            if back_ok
            else f"The backup does not open with the pinned MLflow: {restored.get('error')}"
        )
        return StoreCheck(survived and back_ok, steps)
    except (LatestEnvError, OSError, KeyError, ValueError) as error:
        steps.append(f"The check stopped: {error}")
        return StoreCheck(False, steps)


# --- The report -------------------------------------------------------------------------


def next_steps(choices: Sequence[Choice], failures: Sequence[Failure], summary: str) -> list[str]:
    """Say what to do with the result, from what changed and what failed."""
    moved = [c for c in choices if c.installed and c.installed != c.requirement.pinned]
    held = [c for c in choices if c.note]
    steps = []
    if held:
        names = ", ".join(c.requirement.name for c in held)
        steps.append(
            f"Newest releases that do not install here: {names}. Run `make test-latest` "
            "again when the registry has them; do not pin them before."
        )
    if not summary:
        steps.append("The suite did not finish: read `build/test-latest/pytest.log`.")
    elif failures:
        groups = ", ".join(group_failures(failures))
        steps.append(
            f"Before moving a pin, fix what fails above ({groups}): each failure names the "
            "cell or the check. A failure in a lesson is a change the students will meet."
        )
    elif moved:
        steps.append(
            "Everything passes with the newest releases: the pins can move to the versions "
            "above. Change `requirements.txt`, run `make setup` and `make test`, commit both."
        )
    else:
        steps.append("Every pin is already the newest release: nothing to move.")
    steps.append(
        "Move one pin at a time when failures point at one package, and rerun "
        "`make test-latest` after each change to `requirements.txt`."
    )
    return steps


def machine() -> str:
    """Describe this machine in one line: cores, memory, OS."""
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{round(pages / 2**30)} GiB, "
    except (ValueError, OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {memory}{platform.system()} {platform.machine()}"


def kit_commit() -> str:
    """Return the kit's current commit (short hash, ``+changes`` if the tree differs), or ""."""
    head = run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    if head.returncode != 0:
        return ""
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT)
    return head.stdout.strip() + (" +changes" if dirty.stdout.strip() else "")


def render_report(
    *,
    date: str,
    machine_line: str,
    python: str,
    choices: Sequence[Choice],
    kernel: dict[str, str],
    summary: str,
    failures: Sequence[Failure],
    store: StoreCheck,
    minutes: float,
    commit: str = "",
) -> str:
    """Return the text of ``TEST_LATEST.md``."""
    lines = [
        "# The suite on the newest releases",
        "",
        "Written by `make test-latest` (`python -m tools.test_latest`); do not edit by hand.",
        "It installs the newest release of every direct dependency of `requirements.txt`",
        "into `.venv-latest/`, runs every test there and upgrades a tracking store made",
        "with the pinned MLflow. Run it before changing a pin (see CONTRIBUTING.md).",
        "",
        f"Date: {date}. Machine: {machine_line}. Python {python}. Took {minutes:.0f} min.",
        *([f"The kit at commit `{commit}`."] if commit else []),
        "",
        "## Versions",
        "",
        "| package | pinned | newest listed | installed | note |",
        "|---|---|---|---|---|",
    ]
    for c in choices:
        req = c.requirement
        mark = "" if c.installed == req.pinned else " **(new)**"
        lines.append(
            f"| {req.name}{req.extras} | {req.pinned} | {c.newest or '?'} | "
            f"{c.installed or 'missing'}{mark} | {c.note} |"
        )
    lines += [
        "",
        f"Notebooks ran on the kernel `{KERNEL_NAME}` of `.venv-latest`: "
        f"`{kernel.get('python', '?')}`, MLflow {kernel.get('mlflow', '?')}.",
        "",
        "## Tests",
        "",
        f"pytest: **{summary or 'did not finish'}**",
        "",
    ]
    if failures:
        lines += ["Failing tests, by lesson or lab, with the first line of each error:", ""]
        for group, items in group_failures(failures).items():
            lines.append(f"### {group}")
            lines.append("")
            for failure in items:
                message = failure.message.replace("|", "\\|")
                lines.append(f"- `{failure.test}`: {message}")
            lines.append("")
    elif summary:
        lines += ["No test failed.", ""]
    lines += [
        "## Upgrading a store made with the pinned MLflow",
        "",
        *[f"{n}. {step}" for n, step in enumerate(store.steps, start=1)],
        "",
        f"Result: **{'every run survived' if store.ok else 'FAILED'}**.",
        "",
        "## What to do next",
        "",
        *[f"- {step}" for step in next_steps(choices, failures, summary)],
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the latest environment, run the suite there and write ``TEST_LATEST.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="Python for .venv-latest")
    parser.add_argument("--pinned", type=Path, default=PINNED_VENV, help="the pinned venv")
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the report")
    parser.add_argument("pytest_args", nargs="*", help="more options for pytest")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[test-latest] {message}", flush=True)

    if not venv_python(args.pinned).exists():
        print(
            f"The pinned environment {args.pinned} is missing: run `make setup` first.",
            file=sys.stderr,
        )
        return 2
    start = time.monotonic()
    try:
        choices = build_latest_env(LATEST_VENV, args.python, log)
        write_installed_requirements(choices, INSTALLED_REQUIREMENTS)
        kernel = kernel_probe(LATEST_VENV)
        log(f"Notebooks will run on {kernel['python']} (MLflow {kernel['mlflow']})")
    except LatestEnvError as error:
        print(f"make test-latest: {error}", file=sys.stderr)
        return 2
    log("Upgrading a store made with the pinned MLflow")
    with tempfile.TemporaryDirectory(prefix="kit-upgrade-") as folder:
        store = store_upgrade_check(args.pinned, LATEST_VENV, Path(folder))
    for step in store.steps:
        log("  " + step)
    output, junit = run_suite(LATEST_VENV, args.pytest_args, log)
    failures = parse_junit(junit) if junit else []
    python = run(
        [str(venv_python(LATEST_VENV)), "-c", "import platform; print(platform.python_version())"]
    )
    report = render_report(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine_line=machine(),
        python=python.stdout.strip(),
        choices=choices,
        kernel=kernel,
        summary=pytest_summary(output),
        failures=failures,
        store=store,
        minutes=(time.monotonic() - start) / 60,
        commit=kit_commit(),
    )
    args.report.write_text(report)
    summary = pytest_summary(output)
    log(f"Wrote {args.report.name}: {summary or 'the suite did not finish'}")
    print(textwrap.indent("\n".join(next_steps(choices, failures, summary)), "  "))
    return 0 if summary and not failures and store.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
