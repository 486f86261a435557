"""The course diagrams: every committed SVG is what its source draws, and looks sane."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tools import diagrams

SOURCES = diagrams.sources()
NAMES = [source.stem for source in SOURCES]
EXPECTED = {
    "productionize-ml-models",
    "machine-learning-production-modules",
    "mlops",
    "tracking-server-storage",
    "tracking-server-network",
    "model-registry",
    "aws-basic-flow-diagram",
}


def test_the_seven_diagrams_have_a_source_and_an_svg() -> None:
    svgs = {path.stem for path in diagrams.DIAGRAMS.glob("*.svg")}
    assert set(NAMES) == EXPECTED
    assert svgs == set(NAMES), "every source needs its SVG and every SVG its source"


@pytest.mark.parametrize("source", SOURCES, ids=NAMES)
def test_committed_svg_matches_its_source(source: Path) -> None:
    committed = source.with_suffix(".svg").read_bytes()
    assert diagrams.render(source) == committed, f"run `{diagrams.COMMAND}`"


@pytest.mark.parametrize("source", SOURCES, ids=NAMES)
def test_svg_parses_and_has_a_sensible_size(source: Path) -> None:
    root = ET.parse(source.with_suffix(".svg")).getroot()
    assert root.tag.endswith("svg")
    width, height = (float(root.get(key, "0").removesuffix("pt")) for key in ("width", "height"))
    assert 1000 <= width * 4 / 3 <= 1700  # in CSS pixels
    assert 1.5 <= width / height <= 1.9
    assert root.find("{http://www.w3.org/2000/svg}title") is not None


@pytest.mark.parametrize("source", SOURCES, ids=NAMES)
def test_layout_has_no_overlaps(source: Path) -> None:
    with diagrams.drawn(source) as diagram:
        assert diagram.problems() == []


def test_rendering_is_deterministic_across_processes(tmp_path: Path) -> None:
    source = diagrams.DIAGRAMS / "mlops.py"
    shutil.copy(source, tmp_path / source.name)
    code = (
        "import sys; from pathlib import Path; from tools import diagrams; "
        "sys.exit(diagrams.main([], folder=Path(sys.argv[1])))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=diagrams.ROOT)
    assert (tmp_path / "mlops.svg").read_bytes() == source.with_suffix(".svg").read_bytes()


def test_check_names_a_stale_diagram(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = diagrams.DIAGRAMS / "model-registry.py"
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    shutil.copy(source.with_suffix(".svg"), tmp_path / "model-registry.svg")
    assert diagrams.main(["--check"], folder=tmp_path) == 0

    copy.write_text(copy.read_text(encoding="utf-8").replace('"Deployment"', '"App"'))
    capsys.readouterr()
    assert diagrams.main(["--check"], folder=tmp_path) == 1
    out = capsys.readouterr().out
    assert "model-registry.svg is out of date" in out and "make diagrams" in out

    assert diagrams.main([], folder=tmp_path) == 0
    assert diagrams.main(["--check"], folder=tmp_path) == 0


def test_check_reports_missing_and_orphan_svgs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    shutil.copy(diagrams.DIAGRAMS / "mlops.py", tmp_path / "mlops.py")
    (tmp_path / "old.svg").write_text("<svg/>")
    assert diagrams.main(["--check"], folder=tmp_path) == 1
    out = capsys.readouterr().out
    assert "mlops.svg is missing" in out
    assert "old.svg has no source" in out
