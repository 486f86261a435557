"""Take the MLflow UI screenshots of the lessons from the kit's own runs.

Runs lessons 07, 09 and 10 into one fresh store, starts a tracking server over it, opens
the MLflow UI in headless Chromium and saves four pictures in ``images/screenshots/``:

- ``experiment-runs.png``: the runs table of lesson 07's experiment;
- ``compare-runs.png``: lesson 07's hyperparameter search, its child runs compared;
- ``logged-model.png``: lesson 09's logged model, its ``MLmodel`` file open;
- ``registered-model.png``: lesson 10's registered model, its versions and aliases.

Before each picture the page must show what the store holds (run names, model files,
aliases, read through ``MlflowClient``). When it does not, the script stops and names the
page, its URL and the missing text: the sign that a new MLflow release changed its UI.

Usage: ``python -m tools.screenshots [--out images/screenshots]`` (``make screenshots``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote

import yaml

from tools import runner
from tools.browser import CHROMIUM_ARGS, ChromiumNotInstalled, chromium_path
from utils import servers
from utils.notebook import quiet_mlflow

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "images" / "screenshots"
LESSONS = ("07_mlflow_tracking", "09_mlflow_models", "10_model_registry")
VIEWPORT = {"width": 1440, "height": 900}
# The UI remembers its view ("Model training", not "GenAI") and whether its assistant
# panel is open in local storage; set both before the first page loads.
UI_SETTINGS = {
    "mlflow.workflowType_v1": json.dumps("machine_learning"),
    "mlflow.assistant.panelOpen_v1": json.dumps(False),
    "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": json.dumps(True),
}
# The assistant's floating button covers the bottom right corner of every page.
HIDE_ASSISTANT = '[data-assistant-ui="true"] { visibility: hidden !important; }'


class UIChanged(AssertionError):
    """A page of the MLflow UI, or the store behind it, lacks what a screenshot must show."""


@dataclass(frozen=True)
class Targets:
    """What the screenshots show: the lessons' experiments, models and table columns.

    Attributes:
        runs_experiment: The experiment whose runs table and search are shown (lesson 07).
        models_experiment: The experiment holding the logged model (lesson 09).
        logged_model: The logged model whose ``MLmodel`` file is shown.
        registered_model: The registered model whose versions are shown (lesson 10).
        columns: Parameters and metrics to add as columns of the runs table.
    """

    runs_experiment: str = "07_mlflow_tracking"
    models_experiment: str = "09_mlflow_models"
    logged_model: str = "churn_model"
    registered_model: str = "lesson10-churn"
    columns: tuple[str, ...] = ("model", "C", "val_auc", "val_log_loss")


class Text(NamedTuple):
    """A text a page must show: an element's whole text, or with ``part`` a part of one.

    ``within`` is a CSS selector: the text must then lie inside an element it picks.
    """

    text: str
    within: str | None = None
    part: bool = False


@dataclass(frozen=True)
class Shot:
    """One screenshot: the page, what it must show, and the clicks that prepare it.

    Attributes:
        file: The PNG's file name.
        title: What the page is, for messages.
        route: The UI's route, e.g. ``"#/experiments/1"``.
        expected: Texts the page must show once loaded.
        prepare: Clicks to make before the picture, given the page and a timeout (ms).
        revealed: Texts the page must show after ``prepare``.
        clip_below: The picture ends just below the lowest of these texts (else: the
            whole viewport).
    """

    file: str
    title: str
    route: str
    expected: tuple[Text, ...]
    prepare: Callable[[Page, float], None] | None = None
    revealed: tuple[Text, ...] = field(default=())
    clip_below: tuple[Text, ...] = field(default=())


def build_store(store: Path, work: Path) -> None:
    """Run lessons 07, 09 and 10 into one MLflow store, each in a kernel of its own.

    Args:
        store: The store folder to create (``mlflow.db`` and ``artifacts/``).
        work: An empty folder for the notebook runs (executed copies, scratch files).

    Raises:
        runner.NotebookFailure: A notebook failed; the message says where and why.
    """
    template = runner.migrated_template(work / "template")
    runner.prepare_store(store, template)
    for lesson in LESSONS:
        started = time.perf_counter()
        folder = work / lesson
        folder.mkdir(parents=True)
        result = runner.run_notebook(
            ROOT / "notebooks" / f"{lesson}.ipynb",
            folder,
            template,
            env={"KIT_STORE_DIR": str(store)},
        )
        runner.check_result(result)
        print(f"ran {lesson} in {time.perf_counter() - started:.0f} s")


def show_champion_and_challenger(client: MlflowClient, name: str) -> None:
    """Put the aliases back as lesson 10 sets them in section 7, before the promotion.

    Lesson 10 ends after promoting the challenger: ``champion`` moves to the gradient
    boosting version and ``challenger`` is deleted. The registry picture shows the state
    section 7 describes: ``champion`` on the logistic version, ``challenger`` on the
    boosting one (each version is found by its ``algorithm`` tag).

    Args:
        client: A client of the tracking server.
        name: The registered model of lesson 10.

    Raises:
        UIChanged: The versions tagged by the lesson are not in the store.
    """
    newest = {}
    for version in client.search_model_versions(f"name = '{name}'"):
        algorithm = version.tags.get("algorithm")
        if int(version.version) > int(newest.get(algorithm, "0")):
            newest[algorithm] = version.version
    missing = {"logistic_regression", "gradient_boosting"} - set(newest)
    if missing:
        raise UIChanged(f"{name} has no version tagged algorithm = {sorted(missing)}")
    client.set_registered_model_alias(name, "champion", newest["logistic_regression"])
    client.set_registered_model_alias(name, "challenger", newest["gradient_boosting"])


def _experiment_id(client: MlflowClient, name: str) -> str:
    """Return the id of the experiment ``name``, or fail naming it."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        raise UIChanged(f"the store has no experiment named {name!r}")
    return experiment.experiment_id


def _tree_node(page: Page, label: str) -> Locator:
    """Return the one entry of the Columns menu whose label is exactly ``label``."""
    page.get_by_placeholder("Search columns").fill(label)
    title = page.locator(".du-bois-light-tree-title", has_text=label)
    nodes = page.get_by_test_id("column-selector-tree").locator(
        ".du-bois-light-tree-treenode", has=title
    )
    matching = [node for node in nodes.all() if node.inner_text().strip() == label]
    if len(matching) != 1:
        raise UIChanged(f"the Columns menu shows {len(matching)} entries named {label!r}, not 1")
    return matching[0]


def _runs_table(parents: Sequence[str], columns: Sequence[str]) -> Callable[[Page, float], None]:
    """Prepare the runs table: unfold the parent runs, choose the columns."""

    def prepare(page: Page, timeout: float) -> None:
        for parent in parents:
            cell = page.get_by_role("gridcell").filter(
                has=page.get_by_role("link", name=parent, exact=True)
            )
            cell.get_by_role("button").first.click(timeout=timeout)
        page.get_by_role("button", name="Columns").click(timeout=timeout)
        for label in ("Source", "Models", "Dataset", *columns):
            _tree_node(page, label).locator(".du-bois-light-tree-checkbox").click(timeout=timeout)
        page.keyboard.press("Escape")

    return prepare


def _fold_visualizations(page: Page, timeout: float) -> None:
    """Fold the plots of the comparison page, so that its tables fill the picture."""
    page.get_by_text("Visualizations", exact=True).click(timeout=timeout)


def _open_mlmodel(page: Page, timeout: float) -> None:
    """Open the ``MLmodel`` file in a logged model's artifact browser."""
    page.get_by_text("MLmodel", exact=True).first.click(timeout=timeout)


def _read_mlmodel(client: MlflowClient, artifact_location: str) -> dict:
    """Return a logged model's ``MLmodel`` file, parsed."""
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{artifact_location}/MLmodel",
            dst_path=folder,
            tracking_uri=client.tracking_uri,
        )
        return yaml.safe_load(Path(path).read_text())


def plan_shots(client: MlflowClient, targets: Targets | None = None) -> list[Shot]:
    """Read the store and describe the four screenshots and what each must show.

    Args:
        client: A client of the tracking server the UI belongs to.
        targets: The experiments and models to show; the lessons' by default.

    Returns:
        The shots, in the order they are taken.

    Raises:
        UIChanged: Something to show is not in the store.
    """
    targets = targets or Targets()
    runs_id = _experiment_id(client, targets.runs_experiment)
    runs = client.search_runs([runs_id], max_results=200)
    parent_of = {run.info.run_id: run.data.tags.get("mlflow.parentRunId") for run in runs}
    names = {run.info.run_id: run.info.run_name for run in runs}
    children: dict[str, list[str]] = {}
    for run_id, parent in parent_of.items():
        if parent:
            children.setdefault(parent, []).append(run_id)
    if not children:
        raise UIChanged(f"{targets.runs_experiment} has no nested runs to compare")
    search = max(children, key=lambda parent: len(children[parent]))
    trials = sorted(children[search], key=lambda run_id: names[run_id])
    metrics = sorted({key for run in runs if run.info.run_id in trials for key in run.data.metrics})

    models_id = _experiment_id(client, targets.models_experiment)
    found = client.search_logged_models(
        [models_id], filter_string=f"name = '{targets.logged_model}'", max_results=1
    )
    if not found:
        raise UIChanged(f"{targets.models_experiment} has no logged model {targets.logged_model!r}")
    model = found[0]
    files = [item.path for item in client.list_logged_model_artifacts(model.model_id)]
    mlmodel = _read_mlmodel(client, model.artifact_location)
    loader = mlmodel["flavors"]["python_function"]["loader_module"]

    registered = client.get_registered_model(targets.registered_model)
    aliases = sorted(registered.aliases.items())
    if not aliases:
        raise UIChanged(f"the registered model {registered.name!r} has no alias")

    return [
        Shot(
            file="experiment-runs.png",
            title=f"runs table of the experiment {targets.runs_experiment}",
            route=f"#/experiments/{runs_id}",
            expected=tuple(Text(names[r]) for r in parent_of if not parent_of[r]),
            prepare=_runs_table([names[search]], targets.columns),
            revealed=(
                *(Text(names[run_id]) for run_id in trials),
                *(Text(column, "[role=columnheader]") for column in targets.columns),
            ),
            clip_below=tuple(Text(name) for name in names.values()),
        ),
        Shot(
            file="compare-runs.png",
            title=f"comparison of the child runs of {names[search]}",
            route="#/compare-runs?runs={}&experiments={}".format(
                json.dumps(trials, separators=(",", ":")), json.dumps([runs_id])
            ),
            expected=(
                Text(f"Comparing {len(trials)} Runs", part=True),
                *(Text(names[run_id]) for run_id in trials),
            ),
            prepare=_fold_visualizations,
            revealed=(Text("Parameters"), Text("Metrics"), Text(targets.columns[-1])),
            clip_below=tuple(Text(key) for key in metrics),
        ),
        Shot(
            file="logged-model.png",
            title=f"artifacts of the logged model {targets.logged_model}",
            route=f"#/experiments/{models_id}/models/{model.model_id}/artifacts",
            expected=(Text(targets.logged_model), *(Text(name) for name in files)),
            prepare=_open_mlmodel,
            revealed=(
                *(Text(f"{flavor}:", "pre", part=True) for flavor in mlmodel["flavors"]),
                Text(f"loader_module: {loader}", "pre", part=True),
                Text(f"mlflow_version: {mlmodel['mlflow_version']}", "pre", part=True),
            ),
        ),
        Shot(
            file="registered-model.png",
            title=f"versions of the registered model {registered.name}",
            route=f"#/models/{quote(registered.name)}",
            expected=(
                Text(registered.name),
                *(
                    Text(alias, f'[role=row]:has(:text-is("Version {version}"))', part=True)
                    for alias, version in aliases
                ),
            ),
        ),
    ]


def _wait_for(page: Page, shot: Shot, wanted: Sequence[Text], timeout: float) -> None:
    """Wait until the page shows every text of ``wanted``; fail naming what is missing."""
    deadline = time.monotonic() + timeout / 1000
    for item in wanted:
        scope = page.locator(item.within) if item.within else page
        left = max(deadline - time.monotonic(), 0.001) * 1000
        try:
            match = scope.get_by_text(item.text, exact=not item.part)
            match.first.wait_for(state="visible", timeout=left)
        except Exception as error:  # noqa: BLE001 - Playwright's TimeoutError, reworded
            where = f" inside {item.within!r}" if item.within else ""
            raise UIChanged(
                f"The MLflow UI changed: the {shot.title} (screenshot {shot.file}) did not show "
                f"{item.text!r}{where} within {timeout / 1000:.0f} s.\nURL: {page.url}"
            ) from error


def _clip(page: Page, shot: Shot) -> dict[str, float] | None:
    """Return the region to save: the viewport down to just below ``shot.clip_below``."""
    bottoms = [
        box["y"] + box["height"]
        for item in shot.clip_below
        for match in page.get_by_text(item.text, exact=True).all()
        if match.is_visible() and (box := match.bounding_box()) is not None
    ]
    if not bottoms:
        return None
    bottom = min(max(bottoms) + 24, VIEWPORT["height"])
    return {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": bottom}


def take_shots(
    tracking_url: str, shots: Sequence[Shot], out_dir: Path, timeout: float = 30.0
) -> list[Path]:
    """Open each shot's page in headless Chromium, check it, and save it as a PNG.

    Args:
        tracking_url: The tracking server whose UI is shown.
        shots: What to capture (see :func:`plan_shots`).
        out_dir: Where the PNGs go (created if needed).
        timeout: Seconds a page may take to show what it must.

    Returns:
        The PNG files written, in the order of ``shots``.

    Raises:
        ChromiumNotInstalled: No Chromium on this machine.
        UIChanged: A page did not show what it must; nothing more is written.
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=list(CHROMIUM_ARGS)
        )
        try:
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
            settings = json.dumps(UI_SETTINGS)
            context.add_init_script(
                f"for (const [k, v] of Object.entries({settings})) localStorage.setItem(k, v);"
            )
            for shot in shots:
                # A fresh page for each shot: the UI keeps the last experiment in memory.
                page = context.new_page()
                page.goto(f"{tracking_url}/{shot.route}")
                page.add_style_tag(content=HIDE_ASSISTANT)
                _wait_for(page, shot, shot.expected, timeout * 1000)
                if shot.prepare is not None:
                    shot.prepare(page, timeout * 1000)
                    _wait_for(page, shot, shot.revealed, timeout * 1000)
                page.mouse.move(VIEWPORT["width"] - 1, VIEWPORT["height"] - 1)
                page.evaluate("document.activeElement?.blur()")
                page.wait_for_timeout(500)  # let menus close and tables settle
                path = out_dir / shot.file
                page.screenshot(path=path, clip=_clip(page, shot))
                page.close()
                written.append(path)
        finally:
            browser.close()
    return written


def capture(
    tracking_url: str, out_dir: Path, targets: Targets | None = None, timeout: float = 30.0
) -> list[Path]:
    """Take the four screenshots of the MLflow UI served at ``tracking_url``.

    Args:
        tracking_url: A running tracking server, e.g. ``"http://127.0.0.1:5123"``.
        out_dir: Where the PNGs go.
        targets: The experiments and models to show; the lessons' by default.
        timeout: Seconds a page may take to show what it must.

    Returns:
        The PNG files written.

    Raises:
        UIChanged: A page did not show what the store holds.
    """
    from mlflow import MlflowClient

    shots = plan_shots(MlflowClient(tracking_uri=tracking_url), targets)
    return take_shots(tracking_url, shots, out_dir, timeout)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the lessons' store, serve it, and save the screenshots.

    Args:
        argv: Command-line arguments (``--out``).

    Returns:
        0 when every screenshot was saved, 1 otherwise.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tools.screenshots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the PNG files")
    args = parser.parse_args(argv)
    quiet_mlflow()
    from mlflow import MlflowClient

    started = time.perf_counter()
    try:
        chromium_path()
        with tempfile.TemporaryDirectory(prefix="kit-screenshots-") as folder:
            store = Path(folder) / "mlflow_store"
            build_store(store, Path(folder) / "work")
            isolated = {var: None for var in runner.ISOLATE_VARS}
            with runner.patched_environ({**isolated, "KIT_STORE_DIR": str(store)}):
                with servers.tracking_server(
                    backend_store_uri=f"sqlite:///{store / 'mlflow.db'}",
                    artifacts_destination=str(store / "artifacts"),
                ) as server:
                    client = MlflowClient(tracking_uri=server.url)
                    show_champion_and_challenger(client, Targets().registered_model)
                    written = capture(server.url, args.out.resolve())
    except (ChromiumNotInstalled, UIChanged, runner.NotebookFailure, servers.ServerError) as error:
        print(f"screenshots: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {runner.label(path)} ({path.stat().st_size / 1024:.0f} KB)")
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
