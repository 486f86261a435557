"""Draw the course diagrams from their editable sources, as deterministic SVG files.

Each diagram is a short Python file ``images/diagrams/<name>.py`` that defines
``draw(d: Diagram) -> None``: a title, boxes, arrows and frames placed by hand on a grid of
16 x 9 units (one unit is one inch, 96 px on screen; ``x`` grows to the right, ``y``
downwards, so ``(0, 0)`` is the top-left corner). Its picture is written beside it as
``images/diagrams/<name>.svg``.

Run ``python -m tools.diagrams`` (``make diagrams``) after editing a source. ``--check``
changes nothing and exits 1 naming every SVG that differs from what its source draws now;
``--preview FOLDER`` also writes PNG previews there. Every run prints layout problems
(text overflowing a box, overlapping text, an arrow crossing a box or another arrow).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.textpath import TextPath  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "images" / "diagrams"
COMMAND = "make diagrams"

WIDTH, HEIGHT = 16.0, 9.0
INK = "#1a1a1a"
MUTED = "#4d4d4d"
FADED = "#8a8a8a"
TITLE_PT, SUBTITLE_PT = 24, 15
BOX_TITLE_PT, DETAIL_PT, LABEL_PT, FRAME_PT = 15, 12.5, 12.5, 14
LINE = 1.22  # line height, as a multiple of the font size
POINT = 1 / 72  # one typographic point in grid units (inches)

# Deterministic output: the bundled DejaVu fonts drawn as paths, fixed ids, no dates.
STYLE = {
    "svg.fonttype": "path",
    "svg.hashsalt": "mlflow-kit",
    "font.family": "DejaVu Sans",
    "font.monospace": ["DejaVu Sans Mono"],
    "text.color": INK,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "path.simplify": False,
}


@dataclass(frozen=True)
class Kind:
    """One colour of the palette, with what it means."""

    fill: str
    edge: str
    meaning: str
    text: str = INK


PALETTE: dict[str, Kind] = {
    "client": Kind("#e8edf2", "#3c4f63", "client"),
    "mlflow": Kind("#dcebfa", "#0b5aa2", "MLflow"),
    "storage": Kind("#fff0d6", "#a85b00", "storage"),
    "external": Kind("#efe4fa", "#6a2ba0", "external service"),
    "standin": Kind("#dff2e3", "#1d7a35", "this kit's stand-in"),
    "stage": Kind("#ffffff", "#3c4f63", "stage"),
    "accent": Kind("#fde3df", "#b3261e", "highlight"),
    "legacy": Kind("#f4f4f4", "#a6a6a6", "legacy", FADED),
}


@dataclass(frozen=True)
class Box:
    """A rounded box; its methods give points on its sides for arrows.

    ``at`` is the position along the side: 0 is the top (or left) end, 1 the bottom (or
    right) end, 0.5 the middle.
    """

    x: float
    y: float
    w: float
    h: float

    def left(self, at: float = 0.5) -> tuple[float, float]:
        """Return a point on the left side."""
        return (self.x, self.y + at * self.h)

    def right(self, at: float = 0.5) -> tuple[float, float]:
        """Return a point on the right side."""
        return (self.x + self.w, self.y + at * self.h)

    def top(self, at: float = 0.5) -> tuple[float, float]:
        """Return a point on the top side."""
        return (self.x + at * self.w, self.y)

    def bottom(self, at: float = 0.5) -> tuple[float, float]:
        """Return a point on the bottom side."""
        return (self.x + at * self.w, self.y + self.h)

    def bbox(self, inset: float = 0.0) -> Bbox:
        """Return the box's rectangle, shrunk by ``inset`` on every side."""
        return Bbox.from_extents(
            self.x + inset, self.y + inset, self.x + self.w - inset, self.y + self.h - inset
        )


@dataclass
class _Label:
    """A text artist and what it belongs to (for the layout checks)."""

    text: Text
    owner: str
    pad: float = 0.0


@dataclass
class Diagram:
    """A figure of ``WIDTH`` x ``HEIGHT`` grid units, drawn with the kit's style."""

    heading: str = ""
    boxes: dict[str, Box] = field(default_factory=dict)
    arrows: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    labels: list[_Label] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.figure = plt.figure(figsize=(WIDTH, HEIGHT), dpi=96)
        self.ax = self.figure.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, WIDTH)
        self.ax.set_ylim(HEIGHT, 0)
        self.ax.set_axis_off()

    def _text(self, x: float, y: float, text: str, owner: str, pad: float = 0.0, **kw) -> Text:
        artist = self.ax.text(x, y, text, parse_math=False, clip_on=False, **kw)
        self.labels.append(_Label(artist, owner, pad))
        return artist

    def _lines(
        self,
        x: float,
        y: float,
        lines: list[tuple[str, float, str]],
        owner: str,
        ha: str,
        color: str,
        gap: float = 0.0,
        background: bool = False,
    ) -> None:
        """Stack lines of text centred on ``y``, a line between backticks in monospace.

        Args:
            x: Where the lines are anchored horizontally, as ``ha`` says.
            y: The vertical centre of the stack.
            lines: ``(text, points, weight)`` for each line.
            owner: What the lines belong to, for the layout checks.
            ha: ``"left"``, ``"center"`` or ``"right"``.
            color: The text colour.
            gap: Extra space after the bold lines (between a title and its detail).
            background: Put each line on a white background (labels set on arrows).
        """
        heights = [pt * LINE * POINT * (1 if line else 0.5) for line, pt, _ in lines]
        bold = sum(weight == "bold" for _, _, weight in lines)
        gap = gap if 0 < bold < len(lines) else 0.0
        top = y - (sum(heights) + gap) / 2
        pad = 0.05 if background else 0.0
        for index, ((line, pt, weight), height) in enumerate(zip(lines, heights, strict=True)):
            if not line:  # a blank line: half a line of space
                top += height
                continue
            mono = line.count("`") == 2 and line.startswith("`") and line.endswith("`")
            self._text(
                x,
                top + height / 2,
                line.strip("`") if mono else line,
                owner,
                pad=pad,
                fontsize=pt,
                weight=weight,
                family="monospace" if mono else "sans-serif",
                color=color,
                ha=ha,
                va="center",
                zorder=4,
                bbox=(
                    {"boxstyle": f"square,pad={pad / (pt * POINT):.3f}", "fc": "white", "lw": 0}
                    if background
                    else None
                ),
            )
            top += height + (gap if index == bold - 1 else 0.0)

    def title(self, text: str, subtitle: str = "") -> None:
        """Write the diagram's title at the top left, and a one-line subtitle under it.

        Args:
            text: The title, a few words.
            subtitle: One short sentence: the message of the picture.
        """
        self.heading = text
        self._text(0.45, 0.3, text, "title", fontsize=TITLE_PT, weight="bold", va="top")
        if subtitle:
            self._text(0.45, 0.82, subtitle, "title", fontsize=SUBTITLE_PT, color=MUTED, va="top")

    def box(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        title: str,
        detail: str = "",
        kind: str = "stage",
        size: float = BOX_TITLE_PT,
    ) -> Box:
        """Draw a rounded box with a bold title and smaller detail lines, centred.

        Args:
            x: Left edge, in grid units.
            y: Top edge, in grid units.
            w: Width.
            h: Height.
            title: The bold first line(s); ``\\n`` breaks lines.
            detail: Smaller lines under the title; ``\\n`` breaks lines, and a line written
                between backticks, like ```mlflow server```, is set in a monospace font.
            kind: A key of ``PALETTE``: what the box stands for.
            size: The title's font size in points.

        Returns:
            The box, whose ``left()``, ``right()``, ``top()`` and ``bottom()`` give points
            for arrows.
        """
        style = PALETTE[kind]
        dashed = kind == "legacy"
        self.ax.add_patch(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=0.14",
                facecolor=style.fill,
                edgecolor=style.edge,
                linewidth=2.2,
                linestyle=(0, (5, 3)) if dashed else "solid",
                zorder=2,
            )
        )
        owner = f"box {title.splitlines()[0]!r}"
        if owner in self.boxes:
            owner = f"{owner} ({len(self.boxes) + 1})"
        self.boxes[owner] = box = Box(x, y, w, h)
        lines = [(line, size, "bold") for line in title.splitlines()]
        lines += [(line, DETAIL_PT, "normal") for line in detail.splitlines()]
        self._lines(x + w / 2, y + h / 2, lines, owner, "center", style.text, gap=0.07)
        return box

    def arrow(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        label: str = "",
        via: tuple[tuple[float, float], ...] = (),
        label_at: tuple[float, float] | None = None,
        both: bool = False,
        dashed: bool = False,
        color: str = MUTED,
    ) -> None:
        """Draw an arrow from ``start`` to ``end``, optionally bent through ``via`` points.

        Args:
            start: Where it starts, e.g. ``client.right()``.
            end: Where its head points, e.g. ``server.left()``.
            label: A short text set on the arrow (on a white background); ``\\n`` breaks it.
            via: Corner points in between, for arrows that turn (use right angles).
            label_at: Where to centre the label; by default, the middle of the longest
                straight part.
            both: Draw a head at both ends (a two-way exchange).
            dashed: Draw a dashed line (optional, legacy or "later" paths).
            color: The line colour.
        """
        points = [start, *via, end]
        codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
        name = f"arrow {len(self.arrows) + 1} {label.splitlines()[0] if label else ''}".strip()
        self.arrows[name] = points
        self.ax.add_patch(
            FancyArrowPatch(
                path=MplPath(points, codes),
                arrowstyle="<|-|>" if both else "-|>",
                mutation_scale=22,
                linewidth=2.2,
                linestyle=(0, (5, 3)) if dashed else "solid",
                joinstyle="round",
                color=color,
                zorder=1,
            )
        )
        if label:
            if label_at is None:
                label_at = _label_place(points, label)
            self.note(*label_at, label, ha="center", owner=name, background=True)

    def note(
        self,
        x: float,
        y: float,
        text: str,
        ha: str = "left",
        faded: bool = False,
        bold: bool = False,
        owner: str = "",
        background: bool = False,
        size: float = LABEL_PT,
        color: str = "",
    ) -> None:
        """Write free text, vertically centred on ``y``.

        Args:
            x: Where the text is anchored horizontally, as ``ha`` says.
            y: The text's vertical centre.
            text: The text; ``\\n`` breaks lines.
            ha: ``"left"``, ``"center"`` or ``"right"``.
            faded: Grey text, for what is legacy or aside.
            bold: Bold text.
            owner: What the text belongs to (an arrow's name for its label).
            background: Put the text on a white, rounded background.
            size: Font size in points.
            color: The text colour, e.g. ``PALETTE["mlflow"].edge``; grey by default.
        """
        weight = "bold" if bold else "normal"
        lines = [(line, size, weight) for line in text.splitlines()]
        color = color or (FADED if faded else INK if bold else MUTED)
        owner = owner or f"note {text.splitlines()[0]!r}"
        self._lines(x, y, lines, owner, ha, color, background=background)

    def frame(self, x: float, y: float, w: float, h: float, label: str, color: str = MUTED) -> None:
        """Draw a dashed frame that groups boxes, with its label inside, at the top left.

        Args:
            x: Left edge.
            y: Top edge.
            w: Width.
            h: Height.
            label: A few words naming the group.
            color: The colour of the frame and its label.
        """
        self.ax.add_patch(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=0.2",
                facecolor="none",
                edgecolor=color,
                linewidth=1.8,
                linestyle=(0, (6, 4)),
                zorder=0,
            )
        )
        self._text(
            x + 0.2,
            y + 0.27,
            label,
            f"frame {label!r}",
            fontsize=FRAME_PT,
            weight="bold",
            color=color,
            va="center",
            zorder=4,
        )

    def legend(
        self, x: float, y: float, kinds: list[str | tuple[str, str]], step: float = 2.6
    ) -> None:
        """Draw a row of colour swatches saying what each colour means.

        Args:
            x: Left end of the row.
            y: Vertical centre of the row.
            kinds: Keys of ``PALETTE`` in the order to show them, or ``(key, words)`` pairs
                to say what the colour means in this diagram.
            step: The distance from one swatch to the next.
        """
        for index, item in enumerate(kinds):
            kind, meaning = item if isinstance(item, tuple) else (item, PALETTE[item].meaning)
            style = PALETTE[kind]
            left = x + index * step
            self.ax.add_patch(
                Rectangle(
                    (left, y - 0.13),
                    0.34,
                    0.26,
                    facecolor=style.fill,
                    edgecolor=style.edge,
                    linewidth=2,
                    zorder=2,
                )
            )
            self.note(left + 0.46, y, meaning, owner="legend")

    def problems(self) -> list[str]:
        """Return the layout problems of the drawing, each as one sentence.

        Returns:
            Text overflowing its box or the canvas, overlapping text, text over a box it
            does not belong to, and arrows that cross a box, a text or another arrow.
        """
        self.figure.canvas.draw()
        renderer = self.figure.canvas.get_renderer()
        to_grid = self.ax.transData.inverted()
        extents = []
        for label in self.labels:
            bbox = label.text.get_window_extent(renderer).transformed(to_grid)
            extents.append((label, bbox.padded(label.pad)))
        found = []
        canvas = Bbox.from_extents(0.1, 0.1, WIDTH - 0.1, HEIGHT - 0.1)
        for label, bbox in extents:
            words = repr(label.text.get_text().splitlines()[0])
            if not _inside(bbox, canvas):
                found.append(f"text {words} runs off the canvas")
            for owner, box in self.boxes.items():
                if owner == label.owner and not _inside(bbox, box.bbox(0.1)):
                    found.append(f"text {words} overflows its {owner}")
                if owner != label.owner and bbox.overlaps(box.bbox(-0.04)):
                    found.append(f"text {words} lies over {owner}")
        for (first, one), (second, other) in combinations(extents, 2):
            if first.owner != second.owner and one.overlaps(other):
                found.append(
                    f"texts {first.text.get_text().splitlines()[0]!r} and "
                    f"{second.text.get_text().splitlines()[0]!r} overlap"
                )
        for name, points in self.arrows.items():
            path = MplPath(points)
            for owner, box in self.boxes.items():
                if path.intersects_bbox(box.bbox(0.03), filled=False):
                    found.append(f"{name} crosses {owner}")
            for label, bbox in extents:
                if label.owner != name and path.intersects_bbox(bbox, filled=False):
                    found.append(f"{name} crosses text {label.text.get_text().splitlines()[0]!r}")
        for (one, a), (other, b) in combinations(self.arrows.items(), 2):
            if _polylines_cross(a, b):
                found.append(f"{one} and {other} cross")
        return found

    def svg(self) -> bytes:
        """Return the drawing as SVG bytes, identical on every run and machine."""
        buffer = io.BytesIO()
        self.figure.savefig(
            buffer,
            format="svg",
            metadata={"Title": self.heading, "Date": None, "Creator": None},
        )
        return buffer.getvalue()

    def png(self, path: Path) -> None:
        """Write a PNG preview of the drawing (for looking at it, not for committing)."""
        self.figure.savefig(path, format="png", dpi=96)

    def close(self) -> None:
        """Free the figure."""
        plt.close(self.figure)


def _width(line: str, size: float) -> float:
    """Return the width of one line of text in grid units (monospace between backticks)."""
    mono = line.count("`") == 2 and line.startswith("`") and line.endswith("`")
    font = FontProperties(family="DejaVu Sans Mono" if mono else "DejaVu Sans", size=size)
    return (
        TextPath((0, 0), line.strip("`") if mono else line, prop=font).get_extents().width * POINT
    )


def _label_place(points: list[tuple[float, float]], label: str) -> tuple[float, float]:
    """Return where an arrow's label goes: on the middle of its longest straight part, or
    just above that part when it is horizontal and too short for the label to sit on it.
    """
    pairs = list(zip(points, points[1:], strict=False))
    a, b = max(pairs, key=lambda p: abs(p[1][0] - p[0][0]) + abs(p[1][1] - p[0][1]))
    x, y = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    lines = label.splitlines()
    width = max(_width(line, LABEL_PT) for line in lines)
    if abs(a[1] - b[1]) < 0.01 and width > 0.5 * abs(b[0] - a[0]):
        y -= len(lines) * LABEL_PT * LINE * POINT / 2 + 0.1
    return (x, y)


def _inside(inner: Bbox, outer: Bbox) -> bool:
    """Tell whether ``inner`` lies entirely within ``outer``."""
    return (
        inner.x0 >= outer.x0
        and inner.x1 <= outer.x1
        and inner.y0 >= outer.y0
        and inner.y1 <= outer.y1
    )


def _polylines_cross(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    """Tell whether two polylines cross (sharing an end point does not count)."""

    def side(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    for p1, p2 in zip(a, a[1:], strict=False):
        for q1, q2 in zip(b, b[1:], strict=False):
            d1, d2 = side(q1, q2, p1), side(q1, q2, p2)
            d3, d4 = side(p1, p2, q1), side(p1, p2, q2)
            if d1 * d2 < 0 and d3 * d4 < 0:
                return True
    return False


@contextmanager
def _style() -> Iterator[None]:
    """Draw with matplotlib's defaults plus ``STYLE``, whatever the user's matplotlibrc."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(STYLE)
        yield


def sources(folder: Path = DIAGRAMS) -> list[Path]:
    """Return the diagram sources of ``folder`` (``*.py``), sorted by name.

    Args:
        folder: The folder of the sources, ``images/diagrams`` by default.

    Returns:
        The paths of the sources.
    """
    return sorted(folder.glob("*.py"))


def load(source: Path) -> Callable[[Diagram], None]:
    """Import a diagram source and return its ``draw`` function.

    Args:
        source: The path of a ``<name>.py`` source.

    Returns:
        The source's ``draw(d: Diagram) -> None`` function.
    """
    spec = importlib.util.spec_from_file_location(f"diagram_{source.stem}", source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.draw


@contextmanager
def drawn(source: Path) -> Iterator[Diagram]:
    """Draw a source and yield its diagram, closing the figure afterwards.

    Args:
        source: The path of a ``<name>.py`` source.

    Yields:
        The drawn diagram.
    """
    draw = load(source)
    with _style():
        diagram = Diagram()
        try:
            draw(diagram)
            yield diagram
        finally:
            diagram.close()


def render(source: Path) -> bytes:
    """Return the SVG bytes that a source draws.

    Args:
        source: The path of a ``<name>.py`` source.

    Returns:
        The SVG file's bytes.
    """
    with drawn(source) as diagram:
        return diagram.svg()


def stale(folder: Path = DIAGRAMS) -> list[str]:
    """Return the diagrams whose SVG is missing, out of date, or has no source.

    Args:
        folder: The folder of the sources and their SVG files.

    Returns:
        One sentence per problem, naming the diagram.
    """
    found = []
    for source in sources(folder):
        svg = source.with_suffix(".svg")
        if not svg.exists():
            found.append(f"{svg.name} is missing: run `{COMMAND}`")
        elif svg.read_bytes() != render(source):
            found.append(f"{svg.name} is out of date: run `{COMMAND}`")
    names = {source.stem for source in sources(folder)}
    for svg in sorted(folder.glob("*.svg")):
        if svg.stem not in names:
            found.append(f"{svg.name} has no source {svg.stem}.py")
    return found


def write_all(folder: Path = DIAGRAMS, preview: Path | None = None) -> list[str]:
    """Draw every source of ``folder`` and write the SVG files that changed.

    Args:
        folder: The folder of the sources; each SVG is written beside its source.
        preview: A folder for PNG previews, or None for none.

    Returns:
        One line per diagram: what was written, and any layout problem.
    """
    report = []
    for source in sources(folder):
        with drawn(source) as diagram:
            svg, target = diagram.svg(), source.with_suffix(".svg")
            if not target.exists() or target.read_bytes() != svg:
                target.write_bytes(svg)
                report.append(f"updated {target.name}")
            if preview is not None:
                preview.mkdir(parents=True, exist_ok=True)
                diagram.png(preview / f"{source.stem}.png")
            report += [f"{source.name}: {problem}" for problem in diagram.problems()]
    return report


def main(argv: list[str] | None = None, folder: Path = DIAGRAMS) -> int:
    """Write every diagram, or with ``--check`` only report the stale ones.

    Args:
        argv: The command-line arguments (``sys.argv`` when None).
        folder: The folder of the sources and their SVG files.

    Returns:
        The exit code: 1 when ``--check`` found a stale diagram, else 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    parser.add_argument("--preview", type=Path, help="also write PNG previews to this folder")
    args = parser.parse_args(argv)
    if args.check:
        found = stale(folder)
        for line in found:
            print(line)
        return 1 if found else 0
    for line in write_all(folder, args.preview):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
