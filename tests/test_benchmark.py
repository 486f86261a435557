"""The suite's profile in BENCHMARK.md: reading a JUnit report, rendering the section, and
the durations file the tests are ordered by."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from tools import benchmark

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1"
skipped="0" tests="6" time="120.5">
<testcase classname="tests.test_notebooks" name="test_notebook_runs[00_welcome]" time="30.0"/>
<testcase classname="tests.test_notebooks" name="test_notebook_runs[01_business]" time="20.0"/>
<testcase classname="tests.test_notebooks" name="test_required_outputs" time="0.5"/>
<testcase classname="tests.test_labs" name="test_lab_solution_passes_every_check[lab01-solution]"
 time="25.0"/>
<testcase classname="tests.test_labs"
 name="test_lab_student_version_runs_with_every_task_unfinished[lab01-student]" time="15.0">
<failure message="boom">boom</failure></testcase>
<testcase classname="tests.test_site.TestPages" name="test_links" time="9.5"/>
</testsuite></testsuites>
"""


@pytest.fixture
def junit(tmp_path: Path) -> Path:
    """A small JUnit report as `pytest --junitxml` writes it."""
    path = tmp_path / "suite.xml"
    path.write_text(JUNIT, encoding="utf-8")
    return path


def test_node_ids_come_back_from_junit_names(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    assert benchmark.node_id("tests.test_x", "test_a[1]", tmp_path) == "tests/test_x.py::test_a[1]"
    assert (
        benchmark.node_id("tests.test_x.TestY", "test_b", tmp_path)
        == "tests/test_x.py::TestY::test_b"
    )
    # A file that is not there (yet) is found by its test_ prefix.
    assert (
        benchmark.node_id("tests.test_gone.TestZ", "test_c", tmp_path)
        == "tests/test_gone.py::TestZ::test_c"
    )


def test_a_junit_report_sums_per_file_and_counts_the_notebooks(junit: Path) -> None:
    profile = benchmark.parse_junit(junit)
    assert profile.seconds == pytest.approx(120.5)
    assert profile.per_file == pytest.approx(
        {"tests/test_notebooks.py": 50.5, "tests/test_labs.py": 40.0, "tests/test_site.py": 9.5}
    )
    assert profile.tests_per_file == {
        "tests/test_notebooks.py": 3,
        "tests/test_labs.py": 2,
        "tests/test_site.py": 1,
    }
    assert profile.summed == pytest.approx(100.0)
    assert profile.notebook_runs == 4  # test_required_outputs executes no notebook
    assert profile.notebook_seconds == pytest.approx(90.0)
    assert profile.failures == 1
    assert profile.per_test["tests/test_site.py::TestPages::test_links"] == pytest.approx(9.5)


def test_the_section_shows_files_shares_components_and_the_floor(junit: Path) -> None:
    profile = benchmark.parse_junit(junit)
    components = [("a fresh kernel", 2.0), ("PostgreSQL", None)]
    text = benchmark.render_profile(profile, components, 3.0, 2, "From suite.xml")
    assert text.startswith(benchmark.PROFILE_HEADING + "\n")
    rows = [line for line in text.splitlines() if line.startswith("| tests/")]
    assert rows == [
        "| tests/test_notebooks.py | 3 | 50.5 | 50.5% |",
        "| tests/test_labs.py | 2 | 40.0 | 40.0% |",
        "| tests/test_site.py | 1 | 9.5 | 9.5% |",
    ]
    assert "6 tests, 1 failed, 120 s (2.0 min) of wall time on 2 cores" in text
    assert "4 tests execute one whole notebook each" in text and "90.0% of the test" in text
    assert "| a fresh kernel | 2.0 |" in text and "| PostgreSQL | not measured |" in text
    # 4 notebooks x 3 s / 2 cores = 6 s against 120.5 s.
    assert "= 6 s. Measured suite: 120 s. Ratio: 20.1x." in text


def test_the_section_shows_where_the_cpu_went_and_the_cpu_floor(junit: Path) -> None:
    profile = benchmark.parse_junit(junit)
    cpu = benchmark.CpuUse(
        busy_s=200.0,
        wall_s=125.0,
        cores=2,
        per_kind={"notebook kernels": 90.0, "PostgreSQL": 10.0, benchmark.OTHER_KIND: 60.0},
    )
    text = benchmark.render_profile(profile, [], 3.0, 2, "From suite.xml", cpu)
    assert "200 s of CPU time in 125 s on 2 cores: the cores were busy 80% of the time" in text
    assert "every core: 100 s (its CPU floor)" in text and "at most 360 s of CPU" in text
    rows = [line for line in text.split("### Where the CPU goes")[1].splitlines() if "|" in line]
    assert rows[2:] == [
        "| notebook kernels | 90 | 45% |",
        f"| {benchmark.OTHER_KIND} | 60 | 30% |",
        "| PostgreSQL | 10 | 5% |",
        "| not attributed (processes shorter than a sample, interrupts, the sampling) | 40 | 20% |",
    ]
    assert "Where the CPU goes" not in benchmark.render_profile(profile, [], 3.0, 2, "x")


@pytest.mark.parametrize(
    ("cmdline", "kind"),
    [
        ("/v/bin/python -m tools.warm_kernels /tmp/s.sock pandas", "notebook kernels"),
        ("/v/bin/python -m ipykernel_launcher -f k.json", "notebook kernels"),
        ("/v/bin/python -c import os\ndef run_in_place(command, env): ... server --port 5",
         "MLflow tracking and model servers"),
        ("/v/bin/python -u -c import sys;exec(eval(sys.stdin.readline()))",
         "pytest and its workers"),
        ("/usr/lib/postgresql/15/bin/postgres -D /tmp/db -p 5433", "PostgreSQL"),
        ("/proc/self/exe --type=renderer --lang=en", "Chromium and its driver (UI, slides, "
         "screenshots)"),
        ("python train.py --data d --C 1.0", benchmark.OTHER_KIND),
    ],
)  # fmt: skip
def test_every_process_of_a_suite_run_has_a_kind(cmdline: str, kind: str) -> None:
    assert benchmark.process_kind(cmdline) == kind


def test_the_sampler_counts_what_a_process_spends_while_it_samples() -> None:
    import subprocess
    import sys
    import time

    def spin(marker: str) -> str:  # one second of CPU
        return (
            f"# {marker}\nimport time\nend = time.process_time() + 1\n"
            "while time.process_time() < end: 0\n"
        )

    def kind_of(cmdline: str) -> str:
        return next((k for k in ("burner", "spinner") if f"# {k}" in cmdline), "rest")

    # The spinner spends its second before the sampling starts, then sleeps: none counts.
    spinner = subprocess.Popen([sys.executable, "-c", spin("spinner") + "time.sleep(60)"])
    try:
        spent, deadline = psutil.Process(spinner.pid), time.monotonic() + 60
        while sum(spent.cpu_times()[:2]) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        with benchmark.CpuSampler(interval=0.05, kind_of=kind_of) as sampler:
            subprocess.run([sys.executable, "-c", spin("burner")], timeout=120, check=True)
    finally:
        spinner.kill()
        spinner.wait()
    use = sampler.use
    assert use.cores >= 1 and use.wall_s >= 1.0
    assert 0.8 <= use.per_kind["burner"] <= 1.3
    assert use.per_kind["spinner"] < 0.2
    assert use.busy_s >= use.per_kind["burner"]


def test_the_section_replaces_its_old_self_and_keeps_the_others(junit: Path) -> None:
    profile = benchmark.parse_junit(junit)
    section = benchmark.render_profile(profile, [], 3.0, 2, "From suite.xml")
    old = "# Benchmark\n\n## Notebooks\n\nrows\n\n## Where the suite's time goes\n\nold\n\n"
    old += "### Component costs\n\nold\n\n## Grading a class's submissions\n\ngrades\n"
    new = benchmark.replace_section(old, benchmark.PROFILE_HEADING, section)
    assert "old" not in new and new.count(benchmark.PROFILE_HEADING) == 1
    assert new.index("## Notebooks") < new.index(benchmark.PROFILE_HEADING)
    assert new.index(benchmark.PROFILE_HEADING) < new.index("## Grading a class's")
    assert new.endswith("grades\n") and "\n\n## Grading a class's" in new


def test_the_durations_file_keeps_the_tests_that_take_time(junit: Path) -> None:
    durations = json.loads(benchmark.durations_json(benchmark.parse_junit(junit), least=1.0))
    assert durations == {
        "tests/test_labs.py::test_lab_solution_passes_every_check[lab01-solution]": 25.0,
        "tests/test_labs.py::test_lab_student_version_runs_with_every_task_unfinished"
        "[lab01-student]": 15.0,
        "tests/test_notebooks.py::test_notebook_runs[00_welcome]": 30.0,
        "tests/test_notebooks.py::test_notebook_runs[01_business]": 20.0,
        "tests/test_site.py::TestPages::test_links": 9.5,
    }


def test_only_profile_renders_from_a_junit_file_without_running_the_suite(
    junit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_suite(*args: object, **kwargs: object) -> float:
        raise AssertionError("the suite ran")

    def quick(
        path: Path, repeat: int, template: Path, label: str, warm: bool = False
    ) -> benchmark.Row:
        seconds = {
            "empty kernel": 2.0,
            "bare": 3.0,
            "kit setup": 3.5,
            "warm-kernel server start": 4.0,
            "empty warm kernel": 0.5,
            "kit setup, warm": 0.75,
        }[label]
        assert warm == ("warm" in label), label
        return benchmark.Row(label, seconds, [seconds], 100.0, True)

    monkeypatch.setattr(benchmark, "run_suite", no_suite)
    monkeypatch.setattr(benchmark, "measure", quick)
    monkeypatch.setattr(benchmark, "measure_component", lambda code, repeat, template: 1.25)
    monkeypatch.setattr(benchmark.runner, "migrated_template", lambda folder: folder / "t.db")
    output = tmp_path / "BENCHMARK.md"
    output.write_text("# Benchmark\n\n## Notebooks and labs\n\nkept\n", encoding="utf-8")
    durations = tmp_path / "durations.json"
    argv = ["--only-profile", "--suite-junit", str(junit), "--output", str(output)]
    assert benchmark.main([*argv, "--durations", str(durations), "--repeat", "1"]) == 0

    text = output.read_text(encoding="utf-8")
    assert "kept" in text and benchmark.PROFILE_HEADING in text
    assert "| a fresh kernel (start, one empty cell, shut down) | 2.0 |" in text
    assert "beyond its start) | 1.0 |" in text  # import mlflow, pandas, sklearn: 3.0 - 2.0
    assert "| the kit's setup cell (in that kernel, beyond its start) | 1.5 |" in text
    assert text.count("| 1.2 |") == len(benchmark.COMPONENTS)  # 1.25 s each, one decimal
    warm_row = "| a warm kernel, as the tests fork it (start, one empty cell, shut down) | 0.5 |"
    assert warm_row in text
    assert "| the kit's setup cell (in a warm kernel, beyond its start) | 0.2 |" in text
    # The floor counts the fixed cost of the tests' kernels, the warm ones.
    assert "4 notebook executions x 0.8 s fixed cost per notebook" in text
    assert json.loads(durations.read_text())["tests/test_site.py::TestPages::test_links"] == 9.5


def test_a_component_is_timed_in_a_fresh_python_with_a_migrated_store(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    template.write_bytes(b"migrated")
    code = (
        "import os, pathlib\n"
        "store = pathlib.Path(os.environ['KIT_STORE_DIR'])\n"
        "assert (store / 'mlflow.db').read_bytes() == b'migrated'\n"
        "assert 'MLFLOW_TRACKING_URI' not in os.environ\n"
        "print('noise')\nprint(0.5)\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere")
        assert benchmark.measure_component(code, 3, template) == 0.5
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        benchmark.measure_component("1 / 0", 1)


def fake_items(*specs: tuple[str, bool]) -> list[SimpleNamespace]:
    """Test items named ``module::name``; the flag says the test uses a module fixture."""
    items = []
    for nodeid, shared in specs:
        scope = "module" if shared else "function"
        definition = SimpleNamespace(scope=scope)
        items.append(
            SimpleNamespace(
                nodeid=nodeid,
                module=nodeid.split("::")[0],
                _fixtureinfo=SimpleNamespace(name2fixturedefs={"f": [definition]}),
                get_closest_marker=lambda name: None,
            )
        )
    return items


def test_the_longest_tests_start_first_on_every_worker() -> None:
    import conftest  # tests/conftest.py, on the path pytest gives the tests

    items = fake_items(
        ("a::t1", False), ("a::t2", False), ("b::t1", False), ("b::t2", False),
        ("c::t1", True), ("c::t2", True), ("d::t1", False), ("d::t2", False),
    )  # fmt: skip
    seconds = [1.0, 30.0, 0.0, 20.0, 5.0, 6.0, 25.0, 0.0]
    assert conftest.longest_first(items, seconds, 1) == list(range(8))  # one process: as is
    order = conftest.longest_first(items, seconds, 2)
    assert sorted(order) == list(range(8))
    first, second = order[:4], order[4:]  # worksteal hands out two blocks of 4 tests
    assert first[0] == 1 and second[0] == 6  # the two longest start at once
    for block in (first, second):
        durations = [seconds[i] for i in block if i not in (4, 5)]
        assert durations == sorted(durations, reverse=True)
    block = first if 4 in first else second
    assert block[block.index(4) + 1] == 5  # module c's shared fixture is set up once
    totals = [sum(seconds[i] for i in b) for b in (first, second)]
    assert abs(totals[0] - totals[1]) <= 15


def test_a_test_missing_from_the_durations_is_guessed_from_its_markers() -> None:
    import conftest

    slow = SimpleNamespace(name="slow")
    items = fake_items(("e::t1", True), ("e::t2", True), ("f::t1", False))
    for item in items:
        item.get_closest_marker = lambda name, found=slow: found if name == "slow" else None
    guessed: set[object] = set()
    seconds = [conftest.expected_seconds(item, {"f::t1": 2.0}, guessed) for item in items]
    slow_guess = conftest.GUESSED_SECONDS["slow"]
    assert seconds == [slow_guess, conftest.SHARED_GUESS, 2.0]
