"""Slide-ready charts of the snapshot tables. Draws; computes nothing.

Every figure is 16:9 (1920 x 1080 PNG, and SVG, see `canvas`), with its title, `n = …`, the
unresolved share and the snapshot label; `bare=True` draws the chart alone (a slide of the deck
carries the title, that line and the notes as its own text). A table is drawn as horizontal bars
of shares with the share and count at each bar (`draw_table`); the mistakes charts add an example
record to each row; the types A–F also as the talk's stacked 100% bars, by domains and by mail
volume side by side (`draw_types_stack`). Trend charts are in `trend_charts`.

Colours are fixed per category (`palette`), labels are words, not codes (`labels`), in English or
Japanese (`lang="ja"`, IPAexGothic).

To add a chart of a new table: name its categories' family in `palette.FAMILY` (colours in
`palette.COLOURS`, labels in `labels.CATEGORY_TEXT`, or `labels.CODES_OF_TABLE` for codes), its
title in `texts.TITLES`; `draw_table` then draws it, and `tests/test_layout.py` checks it on
hostile data once it is in the tables of `tally.snapshot_tables`. A chart of another shape
starts with `canvas.new_figure`, `canvas.frame` and ends with `canvas.arrange`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from matplotlib.transforms import blended_transform_factory

from survey.report import palette
from survey.report.canvas import (
    DPI,
    EDGE,
    FONTS,
    GREY,
    INK,
    MONO,
    MUTED,
    SIZE,
    Band,
    Ruler,
    arrange,
    chart_rc,
    fit_all,
    fitting_size,
    frame,
    header,
    new_figure,
    printable,
    save,
    width_px,
)
from survey.report.labels import CATEGORY_TEXT, LANGS, Lang, category_label
from survey.report.palette import COLOURS, FAMILY, colour_of
from survey.report.stack import draw_types_stack, stack_columns
from survey.report.texts import (
    TITLES,
    TOP_BY_TEXT,
    UI_TEXT,
    Attrs,
    compact,
    subtitle,
    title_of,
    trend_subtitle,
)
from survey.report.trend_charts import draw_counts, draw_trend

__all__ = [
    "CATEGORY_TEXT", "COLOURS", "DPI", "FAMILY", "FONTS", "GREY", "INK", "LANGS", "MUTED",
    "SIZE", "TITLES", "TOP_BY_TEXT", "UI_TEXT", "Attrs", "Lang", "category_label", "chart_rc",
    "colour_of", "draw_counts", "draw_table", "draw_trend", "draw_types_stack", "header",
    "new_figure", "save", "stack_columns", "subtitle", "table_notes", "title_of",
    "trend_subtitle",
]  # fmt: skip

MAX_BARS = 12
VENDOR_TABLES = frozenset({"rua_vendors", "ruf_vendors", "rua_other", "ruf_other"})
LABEL_SIZE, MIN_LABEL_SIZE = 21.0, 15.0
VALUE_SIZE, MIN_VALUE_SIZE = 19.0, 13.0
VALUE_ROOM = 0.45  # of the axes' width, at most, for the values beside the bars
EXAMPLE_SIZE, MIN_EXAMPLE_SIZE = 15.0, 12.0
LABEL_ROOM = 0.30  # of the figure's width, for the category labels
LABEL_ROOM_EXAMPLES = 0.25
EXAMPLES_LEFT = 0.60  # figure fraction where the example records start
PAD_PX = 10.0  # between a bar and its value


def table_notes(name: str, table: pd.DataFrame, lang: Lang) -> list[str]:
    """The notes under a table's chart (on a slide: its footer)."""
    text = UI_TEXT[lang]
    notes = []
    if name in VENDOR_TABLES:
        notes.append(text["sum_past_100"])
    if FAMILY.get(name) == "problem":
        notes.append(text["problem_colours"])
        if _has_examples(table):
            notes.append(text["examples"])
    if name == "rfc9989_tags":
        notes.append(text["tags_note"])
    if name == "rfc_differences":
        notes.append(text["differences_note"])
    if len(table) > MAX_BARS:
        notes.append(text["more_rows"].format(shown=MAX_BARS, rows=len(table)))
    return notes


def _has_examples(table: pd.DataFrame) -> bool:
    return "example_record" in table.columns and bool(table["example_record"].notna().any())


def draw_table(
    name: str,
    table: pd.DataFrame,
    label: str,
    lang: Lang = "en",
    *,
    bare: bool = False,
    facts: str | None = None,
    note: str | None = None,
) -> Figure:
    """One snapshot table as a horizontal bar chart of shares, with counts at the bars.
    `facts` and `note` replace the line under the title and the notes (the flow report's)."""
    with matplotlib.rc_context(chart_rc(lang)):
        figure = new_figure(bare)
        title = title_of(name, table.attrs, lang)
        line = subtitle(table.attrs, label, lang) if facts is None else facts
        notes = table_notes(name, table, lang) if note is None else [note] if note else []
        band = frame(figure, title, line, notes, bare)
        axes = figure.add_subplot()
        if table.empty:
            _no_data(axes, lang)
            arrange(figure, band)
        else:
            _draw_bars(axes, band, table.head(MAX_BARS), name, lang)
    return figure


def _no_data(axes: Axes, lang: Lang) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, UI_TEXT[lang]["no_data"], ha="center", va="center", fontsize=28)


def _draw_bars(axes: Axes, band: Band, shown: pd.DataFrame, name: str, lang: Lang) -> None:
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    examples = FAMILY.get(name) == "problem" and _has_examples(shown)
    positions = list(range(len(shown)))
    shares = shown["share"].astype(float).tolist()
    keys = [str(key) for key in shown[shown.columns[0]]]
    colours = _bar_colours(shown, name, keys)
    hatches = [palette.HATCH if palette.is_sampled(name, key) else "" for key in keys]
    axes.barh(positions, shares, color=colours, height=0.7, hatch=hatches, edgecolor="white")
    room = (LABEL_ROOM_EXAMPLES if examples else LABEL_ROOM) * width_px(figure)
    labels = [printable(category_label(name, key, lang)) for key in keys]
    size, fitted = fit_all(figure, labels, room, LABEL_SIZE, MIN_LABEL_SIZE)
    axes.set_yticks(positions, fitted, fontsize=size)
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    axes.tick_params(axis="x", labelsize=17, colors=MUTED)
    axes.set_xlabel(UI_TEXT[lang][f"share_{shown.attrs.get('by', 'domains')}"])
    arrange(figure, band, right=EXAMPLES_LEFT - 0.015 if examples else 1 - EDGE)
    _values(axes, shares, shown["count"].astype("int64").tolist(), lang)
    if examples:
        _examples(axes, shown)


def _bar_colours(table: pd.DataFrame, name: str, keys: Sequence[str]) -> list[str]:
    if FAMILY.get(name) == "problem":
        return [colour_of(name, kind) for kind in table["kind"]]
    return [colour_of(name, key) for key in keys]


def _value_texts(
    figure: Figure, shares: Sequence[float], counts: Sequence[int], lang: Lang, room: float
) -> tuple[float, list[str]]:
    """Share and count of each bar, at one size, in `room` pixels: the count in full, else
    short (1.2M, 1,235億), else the share alone (the table has the counts)."""
    choices = [
        [f"{share:.1%}  ({count:,})" for share, count in zip(shares, counts, strict=True)],
        [
            f"{share:.1%}  ({compact(count, lang)})"
            for share, count in zip(shares, counts, strict=True)
        ],
        [f"{share:.1%}" for share in shares],
    ]
    for texts in choices:
        size = fitting_size(figure, texts, room, VALUE_SIZE, MIN_VALUE_SIZE)
        if max(Ruler(figure, size).width(text) for text in texts) <= room:
            break
    return size, texts


def _values(axes: Axes, shares: Sequence[float], counts: Sequence[int], lang: Lang) -> None:
    """Each bar's share and count beside it, the x limits wide enough that all fit inside the
    axes (the values take at most VALUE_ROOM of its width, the bars the rest)."""
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    width = float(axes.get_window_extent(figure.canvas.get_renderer()).width)  # type: ignore[attr-defined]
    size, texts = _value_texts(figure, shares, counts, lang, width * VALUE_ROOM - PAD_PX)
    ruler = Ruler(figure, size)
    limit = max([*shares, 0.01]) * 1.04
    for share, text in zip(shares, texts, strict=True):
        limit = max(limit, share * width / max(width - PAD_PX - ruler.width(text), width / 5))
    axes.set_xlim(0, limit)
    # No tick near the right end: its label would reach past the axes the layout measured.
    ticks = MaxNLocator(4).tick_values(0, limit * 0.9)
    axes.set_xticks([tick for tick in ticks if 0 <= tick <= limit * 0.9])
    for y, (share, text) in enumerate(zip(shares, texts, strict=True)):
        shown = axes.text(share + PAD_PX * limit / width, y, text, va="center", fontsize=size)
        shown.set_in_layout(False)


def _examples(axes: Axes, shown: pd.DataFrame) -> None:
    """An example record at the right of each row, in a monospaced font, cut to fit."""
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    room = (1 - EDGE - EXAMPLES_LEFT) * width_px(figure)
    records = [printable("" if pd.isna(r) else r, MONO) for r in shown["example_record"]]
    with matplotlib.rc_context({"font.family": MONO}):
        size, fitted = fit_all(figure, records, room, EXAMPLE_SIZE, MIN_EXAMPLE_SIZE)
    where = blended_transform_factory(figure.transFigure, axes.transData)
    for y, record in enumerate(fitted):
        text = axes.text(
            EXAMPLES_LEFT, y, record, transform=where, va="center", fontsize=size,
            family=MONO, color=INK,
        )  # fmt: skip
        text.set_in_layout(False)
