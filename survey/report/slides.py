"""A slide deck of the report: `report.pptx`, 16:9, one chart a slide, ready for a talk.

The deck holds a title slide, a summary slide (two charts side by side: the types A–F by domains
and by mail volume, as the talk showed them), then one slide per chart: its title, a line with
`n`, the unresolved share and the snapshot label, the chart (a 16:9 PNG drawn without its own
header, placed whole) and the source note. The words are slide text, editable in the deck. Text
is set in the chart's language; Japanese runs name an East Asian font, so that PowerPoint and
LibreOffice pick one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pptx import Presentation
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.oxml.ns import qn
from pptx.text.text import TextFrame
from pptx.util import Emu, Pt

from survey.report.canvas import Ruler, wrap
from survey.store.snapshot import write_atomically

WIDTH, HEIGHT = Emu(12_192_000), Emu(6_858_000)  # 13.333 × 7.5 in: 16:9
MARGIN = Emu(380_000)
TOP = Emu(150_000)
TITLE_HEIGHT = Emu(700_000)
SUBTITLE_HEIGHT = Emu(420_000)
FOOTER_HEIGHT = Emu(420_000)
EAST_ASIAN_FONT = {"ja": "IPAexGothic"}
LATIN_FONT = "DejaVu Sans"
BLANK_LAYOUT = 6  # the default template's blank layout: every shape is placed by us
EMU_PER_PT = 12_700
INSET_X, INSET_Y = 91_440, 45_720  # a text box's default inner margins (0.1 in, 0.05 in)
SAFETY = 0.08
LINE_SPACING = 1.2  # a line's height over its font size, in both applications
MIN_SIZE = 9.0
_MEASURE = Figure(dpi=72)  # measures in points: one pixel a point at 72 dpi
FigureCanvasAgg(_MEASURE)


@dataclass(frozen=True, slots=True)
class ChartSlide:
    """One chart: its title, the facts under it (n, unresolved, snapshot), the PNG, the note."""

    title: str
    subtitle: str
    image: Path
    footer: str = ""


@dataclass(frozen=True, slots=True)
class Deck:
    title: str
    subtitle: str  # the snapshot label(s) and the date
    summary_title: str
    summary: Sequence[Path]  # one or two PNGs shown side by side
    charts: Sequence[ChartSlide]
    lang: str = "en"
    summary_subtitle: str = ""  # the summary's facts (n, unresolved); the deck's subtitle if none
    summary_footer: str = ""


def write_deck(deck: Deck, path: Path) -> Path:
    """Write `deck` to `path` (atomically: a deck is never left half-written)."""
    presentation = Presentation()
    presentation.slide_width, presentation.slide_height = WIDTH, HEIGHT
    _title_slide(presentation, deck)
    if deck.summary:
        facts = deck.summary_subtitle or deck.subtitle
        summary = ChartSlide(deck.summary_title, facts, deck.summary[0], deck.summary_footer)
        _pictures_slide(presentation, summary, deck.summary, deck.lang)
    for chart in deck.charts:
        _pictures_slide(presentation, chart, (chart.image,), deck.lang)
    temporary = path.with_name(path.name + ".tmp")
    presentation.save(str(temporary))
    write_atomically(path, temporary.read_bytes())
    temporary.unlink()
    return path


def _title_slide(presentation: Any, deck: Deck) -> None:
    slide = presentation.slides.add_slide(presentation.slide_layouts[BLANK_LAYOUT])
    inner = WIDTH - 2 * MARGIN
    _text(slide, deck.title, (MARGIN, Emu(2_300_000), inner, Emu(1_200_000)), 44, deck.lang)
    _text(slide, deck.subtitle, (MARGIN, Emu(3_600_000), inner, Emu(800_000)), 24, deck.lang)


def _pictures_slide(
    presentation: Any, chart: ChartSlide, images: Sequence[Path], lang: str
) -> None:
    """Title and subtitle, the pictures side by side at 16:9 in the space left, a footer."""
    slide = presentation.slides.add_slide(presentation.slide_layouts[BLANK_LAYOUT])
    inner = WIDTH - 2 * MARGIN
    _text(slide, chart.title, (MARGIN, TOP, inner, TITLE_HEIGHT), 30, lang)
    _text(slide, chart.subtitle, (MARGIN, TOP + TITLE_HEIGHT, inner, SUBTITLE_HEIGHT), 16, lang)
    top = TOP + TITLE_HEIGHT + SUBTITLE_HEIGHT
    space_h = HEIGHT - top - FOOTER_HEIGHT - TOP
    slot_w = inner // len(images)
    width = min(slot_w, space_h * 16 // 9)
    height = width * 9 // 16
    for index, image in enumerate(images):
        left = MARGIN + index * slot_w + (slot_w - width) // 2
        slide.shapes.add_picture(str(image), Emu(left), Emu(top), Emu(width), Emu(height))
    if chart.footer:
        _text(slide, chart.footer, (MARGIN, HEIGHT - FOOTER_HEIGHT, inner, FOOTER_HEIGHT), 14, lang)


def _text(slide: Any, text: str, box: tuple[int, int, int, int], size: int, lang: str) -> None:
    """A text box at `box` (left, top, width, height in EMU), wrapped, in `size` points or less:
    as large as lets the wrapped text fit the box (see `fitted_size`)."""
    shape = slide.shapes.add_textbox(*(Emu(value) for value in box))
    frame: TextFrame = shape.text_frame
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.NONE
    frame.text = text
    points = fitted_size(text, box[2], box[3], size, lang)
    for paragraph in frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(points)
            run.font.name = LATIN_FONT
            if lang in EAST_ASIAN_FONT:
                _east_asian(run, EAST_ASIAN_FONT[lang], lang)


def fitted_size(text: str, width: int, height: int, size: float, lang: str) -> float:
    """The largest size from `size` down to MIN_SIZE (points, by halves) at which `text`, wrapped
    as a slide application wraps it, fits a text box of `width` x `height` EMU (inner margins and
    a safety share off: LibreOffice and PowerPoint measure a little differently from matplotlib)."""
    room_pt = (width - 2 * INSET_X) / EMU_PER_PT * (1 - SAFETY)
    height_pt = (height - 2 * INSET_Y) / EMU_PER_PT
    while size > MIN_SIZE:
        if _lines(text, room_pt, size, lang) * size * LINE_SPACING <= height_pt:
            return size
        size -= 0.5
    return MIN_SIZE


def _lines(text: str, room_pt: float, size: float, lang: str) -> int:
    ruler = Ruler(_MEASURE, size, [LATIN_FONT, *EAST_ASIAN_FONT.values()])
    return sum(len(wrap(line, room_pt, ruler).split("\n")) for line in text.split("\n"))


def _east_asian(run: Any, font: str, lang: str) -> None:
    """python-pptx sets only the Latin typeface: add `<a:ea>` and the run's language."""
    properties = run._r.get_or_add_rPr()
    properties.set("lang", {"ja": "ja-JP"}.get(lang, lang))
    east_asian = properties.find(qn("a:ea"))
    if east_asian is None:
        east_asian = properties.makeelement(qn("a:ea"), {})
        properties.append(east_asian)
    east_asian.set("typeface", font)
