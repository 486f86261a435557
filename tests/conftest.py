"""Shared fixtures and the isolation every test runs in.

Tests never touch the kit's own store: each test worker works in a temporary folder,
so MLflow's default ``./mlruns`` artifact folder (used by experiments created without
an artifact location) lands there and not in the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from tools import runner
from utils import servers

WORKER_DIR = Path(tempfile.mkdtemp(prefix="kit-tests-"))
os.environ["KIT_STORE_DIR"] = str(WORKER_DIR / "store")

# Seconds each test took in the last profile (`make benchmark` writes the file), so that the
# longest tests start first; a test not in it is guessed from its markers.
DURATIONS = Path(__file__).with_name("durations.json")
GUESSED_SECONDS = {"notebook": 15.0, "slow": 8.0}
SHARED_GUESS = 0.5  # a further test of a module whose shared fixture is already set up


def expected_seconds(item: pytest.Item, durations: dict[str, float], guessed: set[object]) -> float:
    """Return how long ``item`` is expected to take.

    A test not in ``durations`` is guessed from its markers; the tests of a module that
    shares a fixture are guessed slow only once (``guessed`` keeps those modules), since
    what makes them slow is mostly the fixture's set-up.
    """
    if item.nodeid in durations:
        return durations[item.nodeid]
    guess = max(
        (seconds for marker, seconds in GUESSED_SECONDS.items() if item.get_closest_marker(marker)),
        default=0.0,
    )
    if shares_fixtures(item):
        module = getattr(item, "module", None)
        if module in guessed:
            return min(guess, SHARED_GUESS)
        guessed.add(module)
    return guess


def shares_fixtures(item: pytest.Item) -> bool:
    """Whether ``item`` uses a fixture set up once per module, class or package."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = getattr(info, "name2fixturedefs", {}) or {}
    return any(
        getattr(definition, "scope", "function") in ("module", "class", "package")
        for chain in definitions.values()
        for definition in chain
    )


def worker_count(config: pytest.Config) -> int:
    """Return how many xdist workers run the tests (1 without xdist)."""
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if count:
        return int(count)
    option = getattr(config.option, "numprocesses", None)
    if option in ("auto", "logical"):
        return os.cpu_count() or 1
    return int(option or 1)


def longest_first(items: list[pytest.Item], seconds: list[float], workers: int) -> list[int]:
    """Return the order (indices of ``items``) that starts the longest tests first.

    xdist's worksteal scheduler hands each worker one contiguous block of the collection
    (the first ``n // workers`` tests to the first, and so on) and later moves tests from
    the end of a busy worker's queue to an idle one. So the tests are shared out into
    blocks of those sizes, longest first to the block with the least time so far, and each
    block runs its longest tests first: its short tests are then the ones left to steal.
    The tests of a module that sets up a fixture once for the module stay together, in
    their own order, so that the fixture is still set up once.
    """
    if workers <= 1:  # one process takes as long in any order: keep the modules together
        return list(range(len(items)))
    units: dict[object, list[int]] = {}
    for index, item in enumerate(items):
        key = item.module if shares_fixtures(item) else index  # type: ignore[attr-defined]
        units.setdefault(key, []).append(index)
    ordered = sorted(units.values(), key=lambda u: (-sum(seconds[i] for i in u), u[0]))
    sizes, left = [], len(items)
    for remaining in range(workers, 0, -1):
        sizes.append(left // remaining)
        left -= sizes[-1]
    blocks: list[list[int]] = [[] for _ in sizes]
    totals = [0.0] * len(sizes)
    for unit in ordered:
        room = [b for b in range(len(blocks)) if len(blocks[b]) + len(unit) <= sizes[b]]
        if room:
            chosen = min(room, key=lambda b: (totals[b], b))
        else:  # cannot happen while single tests are left to fill the blocks up
            chosen = max(range(len(blocks)), key=lambda b: (sizes[b] - len(blocks[b]), -b))
        blocks[chosen] += unit
        totals[chosen] += sum(seconds[i] for i in unit)
    return [index for block in blocks for index in block]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the longest tests first, spread evenly over the xdist workers."""
    try:
        durations = json.loads(DURATIONS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        durations = {}
    guessed: set[object] = set()
    seconds = [expected_seconds(item, durations, guessed) for item in items]
    items[:] = [items[i] for i in longest_first(items, seconds, worker_count(config))]


@pytest.fixture(scope="session", autouse=True)
def work_in_a_temporary_folder() -> None:
    """Run every test from the worker's temporary folder (after collection)."""
    os.chdir(WORKER_DIR)


@pytest.fixture(autouse=True)
def english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts in English; whatever language a test chooses ends with it."""
    monkeypatch.setenv("KIT_LANG", "en")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite tracking store that notebook runs start from."""
    return runner.migrated_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def isolated_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template_db: Path
) -> Iterator[Path]:
    """A kit store of the test's own (servers' logs go there), with no tracking URI set.

    No ``MLFLOW_TRACKING_URI`` in the environment, and MLflow's current URI (which an earlier
    test in the same worker may have left on a server that has stopped since, where every
    call would wait out MLflow's retries) is the store's database until the test ends.
    """
    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(template_db, store / "mlflow.db")
    monkeypatch.setenv("KIT_STORE_DIR", str(store))
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    with _tracking_to(f"sqlite:///{store / 'mlflow.db'}"):
        yield store


@pytest.fixture(scope="session")
def require_postgres() -> None:
    """PostgreSQL must be present in CI; on a laptop without it the test says so and skips."""
    try:
        servers.postgres_bin_dir()
    except servers.PostgresNotInstalled as missing:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(missing))


@contextmanager
def _tracking_to(uri: str) -> Iterator[None]:
    """Point MLflow at ``uri`` for a block; restore the URI and the active experiment after.

    MLflow has no public way to restore either, so the two private helpers its own tests
    use are called here, in one place: an MLflow upgrade that moves them breaks only this.
    """
    from mlflow.tracking import _tracking_service, fluent

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        patch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
        with _tracking_service.utils._use_tracking_uri(uri):
            yield


@pytest.fixture(scope="session")
def tracking_to() -> Callable[[str], AbstractContextManager[None]]:
    """``with tracking_to(uri):`` runs a block against another tracking store."""
    return _tracking_to


@pytest.fixture(scope="session")
def require_chromium() -> Path:
    """Chromium must be present in CI; on a laptop without it the test says so and skips."""
    from tools import browser

    try:
        return browser.chromium_path()
    except browser.ChromiumNotInstalled as missing:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(missing))


@pytest.fixture
def jupyter_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """JupyterLab serving the kit, as `make start` runs it: yields its URL and its token."""
    import sys

    monkeypatch.setenv("KIT_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    port = servers.free_port()
    token = "kit-test-token"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={runner.ROOT}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    with servers.managed_process("jupyterlab", command, port, "/api", timeout=60) as lab:
        yield lab.url, token
