"""Trend charts: a trend table as lines of share over the snapshots (`draw_trend`), and the
domains of each snapshot as stacked bars (`draw_counts`).

Each point's label carries its `n` under it. When the labels do not fit side by side, their
numbers are written short (1.2M, 1,235億), then set smaller, and at last only every k-th point is
labelled, the latest always (a note says so; every point is in the table).
"""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from survey.report.canvas import (
    EDGE,
    Ruler,
    arrange,
    chart_rc,
    fit_all,
    fitting_size,
    frame,
    new_figure,
    printable,
    width_px,
)
from survey.report.labels import Lang, category_label
from survey.report.palette import COLOURS, series_colours
from survey.report.texts import (
    TITLES,
    UI_TEXT,
    compact,
    counts_subtitle,
    title_of,
    trend_subtitle,
    unit,
)
from survey.report.ticks import TICK_ROOM, Ticks, numbered_ticks, point_ticks

MAX_LINES = 8
VENDOR_TABLES = frozenset({"rua_vendors", "ruf_vendors", "rua_other", "ruf_other"})
LEGEND_ROOM = 0.27  # of the figure's width
LEGEND_SIZE, MIN_LEGEND_SIZE = 18.0, 13.0
TOTAL_SIZE, MIN_TOTAL_SIZE = 19.0, 12.0


def _slot(figure: Figure, points: int, legend: bool) -> float:
    """The width of one point's slot, before layout: the axes' likely width over the points."""
    share = 1 - 2 * EDGE - 0.1 - (LEGEND_ROOM if legend else 0.0)
    return share * width_px(figure) / max(points, 1)


def _trend_ticks(figure: Figure, table: pd.DataFrame, lang: Lang) -> Ticks | None:
    if table.empty:
        return None
    points = table.drop_duplicates("label")
    labels = [printable(label) for label in points["label"]]
    slot = _slot(figure, len(labels), legend=True)
    return numbered_ticks(figure, labels, points["n"].astype(int).tolist(), lang, slot)


def _counts_ticks(figure: Figure, table: pd.DataFrame) -> Ticks:
    labels = [printable(label) for label in table["label"]]
    return point_ticks(figure, labels, _slot(figure, len(labels), legend=False))


def trend_notes_of(name: str, table: pd.DataFrame, lang: Lang, *, bare: bool = False) -> list[str]:
    """The notes `draw_trend` (`draw_counts` for `domain_counts`) prints under this table, drawn
    whole or `bare` (on a slide, its footer)."""
    with matplotlib.rc_context(chart_rc(lang)):
        figure = new_figure(bare)
        counts = name == "domain_counts"
        ticks = _counts_ticks(figure, table) if counts else _trend_ticks(figure, table, lang)
    return trend_notes(name, ticks, lang)


def draw_trend(
    name: str,
    table: pd.DataFrame,
    lang: Lang = "en",
    *,
    bare: bool = False,
    facts: str | None = None,
    note: str | None = None,
) -> Figure:
    """A trend table (one row per snapshot and category) as lines of share over time.
    `facts` and `note` replace the line under the title and the notes (the flow trend's; the
    note on left-out points stays)."""
    with matplotlib.rc_context(chart_rc(lang)):
        figure = new_figure(bare)
        ticks = _trend_ticks(figure, table, lang)
        notes = trend_notes(name, ticks, lang)
        if note is not None:  # in place of the shares-past-100% note; the points' note stays
            kept = [text for text in notes if text != UI_TEXT[lang]["sum_past_100"]]
            notes = [note, *kept] if note else kept
        line = trend_subtitle(table, lang) if facts is None else facts
        band = frame(figure, title_of(name, table.attrs, lang), line, notes, bare)
        axes = figure.add_subplot()
        if ticks is None:
            _no_data(axes, lang)
        else:
            _lines(axes, table, name, lang)
            _set_ticks(axes, ticks)
            axes.set_ylabel(UI_TEXT[lang][f"share_{table.attrs.get('by', 'domains')}"])
        arrange(figure, band)
    return figure


def trend_notes(name: str, ticks: Ticks | None, lang: Lang) -> list[str]:
    """The notes under a trend chart (on a slide: its footer)."""
    notes = [UI_TEXT[lang]["sum_past_100"]] if name in VENDOR_TABLES else []
    if ticks is not None and ticks.step > 1:
        notes.append(UI_TEXT[lang]["more_points"].format(step=ticks.step))
    return notes


def _no_data(axes: Axes, lang: Lang) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, UI_TEXT[lang]["no_data"], ha="center", va="center", fontsize=28)


def _set_ticks(axes: Axes, ticks: Ticks) -> None:
    axes.set_xticks(range(len(ticks.texts)), ticks.texts, fontsize=ticks.size)
    axes.set_xlim(-0.3, len(ticks.texts) - 0.7)


def _lines(axes: Axes, table: pd.DataFrame, name: str, lang: Lang) -> None:
    key = table.columns[1]
    labels = list(dict.fromkeys(table["label"]))
    groups = list(table.groupby(key, sort=False))[:MAX_LINES]
    styles = series_colours(name, [str(value) for value, _ in groups])
    for (value, rows), (colour, dashed) in zip(groups, styles, strict=True):
        points = rows.set_index("label").reindex(labels)["share"].astype(float)
        axes.plot(
            range(len(labels)), points.tolist(), marker="o", linewidth=4, markersize=12,
            color=colour, linestyle="--" if dashed else "-",
            label=printable(category_label(name, str(value), lang)),
        )  # fmt: skip
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    axes.set_ylim(bottom=0, top=max(float(table["share"].max()), 0.01) * 1.15)
    _legend(axes, lang)


def _legend(axes: Axes, lang: Lang) -> None:
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    handles, labels = axes.get_legend_handles_labels()
    room = LEGEND_ROOM * width_px(figure) - 80  # the line sample and padding
    size, labels = fit_all(figure, labels, room, LEGEND_SIZE, MIN_LEGEND_SIZE)
    axes.legend(handles, labels, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False,
                fontsize=size)  # fmt: skip


def draw_counts(table: pd.DataFrame, lang: Lang = "en", *, bare: bool = False) -> Figure:
    """Domains (resolved and unresolved) per snapshot, as stacked bars with the total on top."""
    with matplotlib.rc_context(chart_rc(lang)):
        figure = new_figure(bare)
        ticks = _counts_ticks(figure, table)
        band = frame(figure, TITLES["domain_counts"][lang], counts_subtitle(table, lang),
                     trend_notes("domain_counts", ticks, lang), bare)  # fmt: skip
        axes = figure.add_subplot()
        _count_bars(axes, table, lang)
        _set_ticks(axes, ticks)
        axes.set_xlim(-0.6, len(table) - 0.4)
        _totals(axes, table, ticks, lang)
        arrange(figure, band)
    return figure


def _count_bars(axes: Axes, table: pd.DataFrame, lang: Lang) -> None:
    text = UI_TEXT[lang]
    x = list(range(len(table)))
    resolved = table["resolved"].astype(int).tolist()
    axes.bar(x, resolved, color=COLOURS["count:resolved"], label=text["resolved"])
    axes.bar(x, table["unresolved"].astype(int).tolist(), bottom=resolved,
             color=COLOURS["count:unresolved"], label=text["unresolved"])  # fmt: skip
    axes.set_ylim(0, max([*table["domains"].astype(int), 1]) * 1.15)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: compact(int(value), lang)))
    axes.set_ylabel(unit("domains", lang))
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False)


def _totals(axes: Axes, table: pd.DataFrame, ticks: Ticks, lang: Lang) -> None:
    """Each bar's total above it, where its point is labelled: full if it fits, else short."""
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    totals = table["domains"].astype(int).tolist()
    room = _slot(figure, len(totals), legend=False) * TICK_ROOM * ticks.step
    size = TOTAL_SIZE
    for texts in ([f"{n:,}" for n in totals], [compact(n, lang) for n in totals]):
        size = fitting_size(figure, texts, room, TOTAL_SIZE, MIN_TOTAL_SIZE)
        if max((Ruler(figure, size).width(t) for t in texts), default=0) <= room:
            break
    for x, (total, text) in enumerate(zip(totals, texts, strict=True)):
        if ticks.texts[x]:
            axes.text(x, total, text, ha="center", va="bottom", fontsize=size)
