"""The canvas every chart is drawn on, and text that stays on it.

A figure is 16:9 (16 x 9 inches at 120 dpi: 1920 x 1080 PNG, and SVG) with large type. Text is
measured with the figure's own renderer before it is placed: a label too wide for its room is
set smaller (within bounds), then wrapped (notes, subtitles) or cut with an ellipsis (names,
records: the full text is in the CSV). The axes are then laid out in the band the header and
footer leave (`arrange`). `tests/test_layout.py` checks the result on hostile tables: every
text inside the canvas, none over another.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib_fontja  # noqa: F401  (registers IPAexGothic with matplotlib)
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

from survey.report.labels import Lang
from survey.report.texts import SEPARATOR

matplotlib.use("Agg")

SIZE = (16.0, 9.0)
DPI = 120
#: A bare chart is drawn for a slide's picture (about 9.8 in wide): on a smaller canvas, at the
#: same 1920 x 1080 pixels, so that its text shows near the size it is set in.
SLIDE_SIZE = (12.8, 7.2)
SLIDE_DPI = 150
#: A font list is searched glyph by glyph: Japanese charts fall back to DejaVu Sans. English
#: ones use DejaVu Sans alone (a fallback costs every measurement a third more); a character it
#: lacks is shown as � there (`printable`), the full text is in the CSV.
FONTS: dict[str, list[str]] = {
    "en": ["DejaVu Sans"],
    "ja": ["IPAexGothic", "DejaVu Sans"],
}
MONO = ["DejaVu Sans Mono", "IPAexGothic"]
GREY = "#BDBDBD"
INK = "#212121"
MUTED = "#616161"
EDGE = 0.03  # figure fraction kept free at the left and right (58 px)
TOP_EDGE, BOTTOM_EDGE = 0.035, 0.025
GAP_PX = 14.0  # between the header, the axes and the footer
TITLE_SIZE, MIN_TITLE_SIZE = 34.0, 24.0
SUBTITLE_SIZE, MIN_SUBTITLE_SIZE = 21.0, 16.0
NOTE_SIZE = 17.0
ELLIPSIS = "…"
#: A character shown for a line break inside a record (several records, a joined TXT).
NEWLINE_MARK = " ↵ "
REPLACEMENT = "\ufffd"
# One CJK character a token (lines may break between any two), closing marks kept with it.
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_CLOSERS = "、。，．）」』】〕！？)"
_TOKENS = re.compile(rf"[{_CJK}][{_CLOSERS}]*|[^\s{_CJK}]+\s*|\s+")


def chart_rc(lang: Lang) -> dict[Any, Any]:  # matplotlib types the keys as a Literal union
    """The rc settings of every chart: fonts of `lang`, sizes, no mathtext in record text."""
    return {
        "font.family": FONTS[lang],
        "font.size": 20,
        "axes.titlesize": 28,
        "svg.fonttype": "path",
        "svg.hashsalt": "dmarc-survey",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "text.parse_math": False,  # a `$` in a record is a dollar sign, not mathtext
    }


def new_figure(bare: bool = False) -> Figure:
    """A 1920 x 1080 canvas: 16 x 9 in for a report, smaller for a slide (`bare`)."""
    figure = Figure(figsize=SLIDE_SIZE if bare else SIZE, dpi=SLIDE_DPI if bare else DPI)
    FigureCanvasAgg(figure)
    return figure


class Ruler:
    """Widths in pixels of strings set in one font and size on `figure` (each measured once)."""

    def __init__(
        self,
        figure: Figure,
        size: float,
        family: Sequence[str] | None = None,
        weight: str = "normal",
    ):
        self.size = size
        families = list(family or current_fonts())
        self.prop = FontProperties(family=families, size=size, weight=weight)
        self.renderer: Any = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        self.known: dict[str, float] = {}

    def width(self, text: str) -> float:
        return max(self._line(line) for line in text.split("\n"))

    def _line(self, line: str) -> float:
        if line not in self.known:
            width, _, _ = self.renderer.get_text_width_height_descent(line, self.prop, False)
            self.known[line] = float(width)
        return self.known[line]


def current_fonts() -> list[str]:
    """The font families of the rc context drawing now."""
    return list(matplotlib.rcParams["font.family"])


def _longest(count: int, fits: Callable[[int], bool]) -> int:
    """The largest k in 0..count with fits(k), fits being true up to some k and false after."""
    low, high = 0, count
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def ellipsize(text: str, room: float, ruler: Ruler) -> str:
    """`text`, each of its lines cut with an ellipsis where it would pass `room` pixels."""
    return "\n".join(_ellipsize_line(line, room, ruler) for line in text.split("\n"))


def _ellipsize_line(line: str, room: float, ruler: Ruler) -> str:
    if ruler.width(line) <= room:
        return line
    keep = _longest(len(line), lambda k: ruler.width(line[:k].rstrip() + ELLIPSIS) <= room)
    return line[:keep].rstrip() + ELLIPSIS


def wrap(text: str, room: float, ruler: Ruler) -> str:
    """`text` in lines of at most `room` pixels: breaks between words, or between any two CJK
    characters (not before a closing mark); a word wider than a line is cut with an ellipsis."""
    tokens: list[str] = _TOKENS.findall(text)
    lines: list[str] = []
    start = 0
    while start < len(tokens):
        take = _first_line(tokens[start:], room, ruler)
        lines.append("".join(tokens[start : start + take]).strip())
        start += take
    return "\n".join(ellipsize(line, room, ruler) for line in lines if line)


def _first_line(tokens: Sequence[str], room: float, ruler: Ruler) -> int:
    """How many of `tokens` fill the first line (at least one)."""
    fits = _longest(len(tokens), lambda k: ruler.width("".join(tokens[:k]).strip()) <= room)
    return max(fits, 1)


def fitting_size(
    figure: Figure,
    texts: Iterable[str],
    room: float,
    size: float,
    smallest: float,
    weight: str = "normal",
) -> float:
    """The largest size from `size` down to `smallest` (in points, by halves) at which every
    text fits `room` pixels; `smallest` when none does."""
    texts = list(texts)

    def ruler(at: float) -> Ruler:
        return Ruler(figure, at, weight=weight)

    widest = max((ruler(size).width(text) for text in texts), default=0.0)
    if widest <= room:
        return size
    # Widths grow in proportion to the size; hinting may add a pixel: check, and step down.
    chosen = max(smallest, math.floor(2 * size * room / widest) / 2)
    while chosen > smallest and max(ruler(chosen).width(t) for t in texts) > room:
        chosen -= 0.5
    return chosen


def fit_all(
    figure: Figure,
    texts: Sequence[str],
    room: float,
    size: float,
    smallest: float,
    weight: str = "normal",
) -> tuple[float, list[str]]:
    """One size for all `texts` (shrunk within bounds), and each cut to `room` if still wider."""
    chosen = fitting_size(figure, texts, room, size, smallest, weight)
    ruler = Ruler(figure, chosen, weight=weight)
    return chosen, [ellipsize(text, room, ruler) for text in texts]


@cache
def _covered(families: tuple[str, ...]) -> frozenset[int]:
    points: set[int] = set()
    for family in families:
        path = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
        points.update(FT2Font(path).get_charmap())
    return frozenset(points)


def printable(text: object, families: Sequence[str] | None = None) -> str:
    """`text` with nothing the fonts cannot draw: a line break becomes ↵, a tab a space, control
    and format characters and glyphs no font of `families` has become �."""
    covered = _covered(tuple(families or current_fonts()))
    out = []
    for char in str(text).replace("\r\n", "\n"):
        if char == "\n":
            out.append(NEWLINE_MARK)
        elif char == "\t":
            out.append(" ")
        elif ord(char) in covered and unicodedata.category(char)[0] != "C":
            out.append(char)
        elif char != "\r":
            out.append(REPLACEMENT)
    return "".join(out)


def width_px(figure: Figure) -> float:
    return float(figure.bbox.width)


def height_px(figure: Figure) -> float:
    return float(figure.bbox.height)


def _bottom(text: Text) -> float:
    """The bottom of `text` in figure fraction."""
    figure = text.get_figure()
    assert isinstance(figure, Figure)
    box = text.get_window_extent(figure.canvas.get_renderer())  # type: ignore[attr-defined]
    return float(box.y0) / height_px(figure)


def header(figure: Figure, title: str, subtitle: str) -> float:
    """Title and subtitle at the top, each fitted to the width; returns the header's bottom
    (figure fraction)."""
    room = (1 - 2 * EDGE) * width_px(figure)
    # IPAexGothic has one weight only: ask for bold only where the font has it.
    weight = "bold" if current_fonts()[0] == FONTS["en"][0] else "normal"
    size, (line,) = fit_all(figure, [printable(title)], room, TITLE_SIZE, MIN_TITLE_SIZE, weight)
    shown = figure.text(EDGE, 1 - TOP_EDGE, line, fontsize=size, weight=weight, color=INK, va="top")
    below = _bottom(shown) - GAP_PX / 2 / height_px(figure)
    lines = _subtitle_lines(figure, printable(subtitle), room)
    size = fitting_size(figure, lines.split("\n"), room, SUBTITLE_SIZE, MIN_SUBTITLE_SIZE)
    shown = figure.text(EDGE, below, lines, fontsize=size, color=MUTED, va="top")
    return _bottom(shown)


def _subtitle_lines(figure: Figure, subtitle: str, room: float) -> str:
    """The subtitle on one line if it fits at the smallest size, else broken at its separators
    into as few lines as fit."""
    ruler = Ruler(figure, MIN_SUBTITLE_SIZE)
    if ruler.width(subtitle) <= room:
        return subtitle
    lines: list[str] = []
    for part in subtitle.split(SEPARATOR):
        joined = f"{lines[-1]}{SEPARATOR}{part}" if lines else part
        if lines and ruler.width(joined) <= room:
            lines[-1] = joined
        else:
            lines.append(part)
    return "\n".join(ellipsize(line, room, ruler) for line in lines)


def footer(figure: Figure, notes: Sequence[str]) -> float:
    """The notes under the chart, each wrapped to the width; returns their top (figure
    fraction), or the bottom edge when there are none."""
    notes = [note for note in notes if note]
    if not notes:
        return BOTTOM_EDGE
    room = (1 - 2 * EDGE) * width_px(figure)
    ruler = Ruler(figure, NOTE_SIZE)
    text = "\n".join(wrap(printable(note), room, ruler) for note in notes)
    shown = figure.text(EDGE, BOTTOM_EDGE, text, fontsize=NOTE_SIZE, color=MUTED, va="bottom")
    box = shown.get_window_extent(figure.canvas.get_renderer())  # type: ignore[attr-defined]
    return float(box.y1) / height_px(figure)


@dataclass(frozen=True, slots=True)
class Band:
    """The vertical room left for the axes, in figure fraction."""

    top: float
    bottom: float


def frame(figure: Figure, title: str, subtitle: str, notes: Sequence[str], bare: bool) -> Band:
    """Header and footer (none when `bare`: a slide carries them as its own text); the band
    between them, where the axes go."""
    if bare:
        return Band(1 - TOP_EDGE, BOTTOM_EDGE)
    top = header(figure, title, subtitle)
    return Band(top, footer(figure, notes))


def arrange(figure: Figure, band: Band, left: float = EDGE, right: float = 1 - EDGE) -> None:
    """Lay the axes out so that they and their labels, ticks and legend fit inside `band`
    (and between `left` and `right`), a gap from the header and the footer."""
    gap = GAP_PX / height_px(figure)
    figure.tight_layout(rect=(left, band.bottom + gap, right, band.top - gap), pad=0.3)


def save(figure: Figure, stem: Path, formats: Iterable[str] = ("png", "svg")) -> list[Path]:
    """Write `figure` as `stem.png`, `stem.svg`, …; returns the files."""
    paths = []
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "dmarc-survey"}):
        for fmt in formats:
            path = stem.with_name(f"{stem.name}.{fmt}")
            metadata = {"Date": None} if fmt == "svg" else None
            figure.savefig(path, format=fmt, dpi=figure.dpi, metadata=metadata)
            paths.append(path)
    return paths
