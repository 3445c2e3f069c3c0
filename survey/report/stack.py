"""Types A–F as the talk showed them: stacked 100% bars side by side, one by domains and one by
mail volume (or one per unit and snapshot, in a trend's summary). A segment carries its share
where the share fits inside it; the legend, top to bottom, is the stack's order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from survey.report.canvas import (
    Ruler,
    arrange,
    chart_rc,
    fit_all,
    frame,
    new_figure,
    printable,
    width_px,
)
from survey.report.labels import Lang, category_label
from survey.report.palette import colour_of, text_colour_on
from survey.report.texts import SEPARATOR, TITLES, UI_TEXT, Attrs, unresolved_text
from survey.report.ticks import numbered_ticks

BAR_WIDTH = 0.55
LEGEND_ROOM = 0.32  # of the figure's width
SEGMENT_SIZE = 18.0
LEGEND_SIZE, MIN_LEGEND_SIZE = 19.0, 14.0


@dataclass(frozen=True, slots=True)
class Column:
    """One stacked bar: a types table, and the snapshot label to show over its unit and `n`."""

    table: pd.DataFrame
    label: str | None = None

    @property
    def by(self) -> str:
        return str(self.table.attrs.get("by", "domains"))


def stack_columns(tables: Mapping[str, pd.DataFrame], label: str | None = None) -> list[Column]:
    """A column per unit of `tables` (`by` → types table), under the snapshot `label` if given."""
    return [Column(table, label) for table in tables.values()]


def stack_subtitle(columns: Sequence[Column], label: str, lang: Lang) -> str:
    """The unresolved domains with their share of each unit (of the last column of each unit),
    and the snapshot label."""
    latest = {column.by: column.table.attrs for column in columns}
    domains, volume = latest.get("domains", {}), latest.get("volume")
    if volume is None:
        unresolved = unresolved_text(domains, lang)
    else:
        unresolved = UI_TEXT[lang]["stack_unresolved"].format(
            domains=int(domains.get("unresolved_domains", 0)),
            domains_share=_share(domains),
            volume_share=_share(volume),
        )
    return SEPARATOR.join([unresolved, UI_TEXT[lang]["snapshot"].format(label=label)])


def _share(attrs: Attrs) -> float:
    total = int(attrs.get("total", 0) or 0)
    return int(attrs.get("unresolved", 0) or 0) / total if total else 0.0


def draw_types_stack(
    columns: Sequence[Column], label: str, lang: Lang = "en", *, bare: bool = False
) -> Figure:
    """Types A–F as stacked 100% bars, one per column."""
    with matplotlib.rc_context(chart_rc(lang)):
        figure = new_figure(bare)
        title, line = TITLES["types_stack"][lang], stack_subtitle(columns, label, lang)
        band = frame(figure, title, line, [], bare)
        axes = figure.add_subplot()
        segments = _bars(axes, columns, lang)
        _axis(axes, figure, lang)
        for _ in range(2):  # the ticks fit the width the legend leaves, which the ticks change
            arrange(figure, band)
            _ticks(axes, figure, columns, lang)
        arrange(figure, band)
        _segment_labels(axes, segments)
    return figure


Segment = tuple[int, float, float, str]  # column, bottom, share, colour


def _bars(axes: Axes, columns: Sequence[Column], lang: Lang) -> list[Segment]:
    """The stacks, type A on top; returns every segment drawn."""
    keys = [str(key) for key in columns[0].table["type"]]
    shares = [column.table.set_index("type")["share"].astype(float) for column in columns]
    bottoms = [0.0] * len(columns)
    segments: list[Segment] = []
    for key in reversed(keys):
        heights = [float(share.get(key, 0.0)) for share in shares]
        colour = colour_of("types", key)
        axes.bar(
            range(len(columns)), heights, BAR_WIDTH, bottom=bottoms, color=colour,
            edgecolor="white", label=printable(category_label("types", key, lang)),
        )  # fmt: skip
        segments += [(i, bottoms[i], h, colour) for i, h in enumerate(heights) if h > 0]
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    axes.set_xlim(-0.6, len(columns) - 0.4)
    return segments


def _axis(axes: Axes, figure: Figure, lang: Lang) -> None:
    """The share axis and the legend at the right, type A at the top as in the stack."""
    axes.set_ylim(0, 1)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.tick_params(axis="y", labelsize=17)
    handles, labels = axes.get_legend_handles_labels()
    room = LEGEND_ROOM * width_px(figure) - 60  # the legend's handles and padding
    size, labels = fit_all(figure, labels[::-1], room, LEGEND_SIZE, MIN_LEGEND_SIZE)
    axes.legend(
        handles[::-1], labels, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False,
        fontsize=size,
    )  # fmt: skip


def _ticks(axes: Axes, figure: Figure, columns: Sequence[Column], lang: Lang) -> None:
    """Under each bar: the snapshot label (if any), the unit and `n`, fitted to its slot."""
    box = axes.get_window_extent(figure.canvas.get_renderer())  # type: ignore[attr-defined]
    slot = float(box.width) / (len(columns) + 0.2)
    units = [UI_TEXT[lang][f"by_{column.by}"] for column in columns]
    labels = [
        printable(c.label) if c.label else unit for c, unit in zip(columns, units, strict=True)
    ]
    middles = [unit if c.label else "" for c, unit in zip(columns, units, strict=True)]
    ns = [int(column.table.attrs.get("n", 0) or 0) for column in columns]
    ticks = numbered_ticks(figure, labels, ns, lang, slot, middles)
    axes.set_xticks(range(len(columns)), ticks.texts, fontsize=ticks.size)


def _segment_labels(axes: Axes, segments: Sequence[Segment]) -> None:
    """Each segment's share inside it, in black or white by its colour, where it fits."""
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    box = axes.get_window_extent(figure.canvas.get_renderer())  # type: ignore[attr-defined]
    per_unit_y = float(box.height)
    per_unit_x = float(box.width) / (axes.get_xlim()[1] - axes.get_xlim()[0])
    ruler = Ruler(figure, SEGMENT_SIZE)
    line_px = SEGMENT_SIZE * figure.dpi / 72 * 1.25
    for column, bottom, share, colour in segments:
        text = f"{share:.1%}" if share < 0.1 else f"{share:.0%}"
        fits_x = ruler.width(text) + 8 <= BAR_WIDTH * per_unit_x
        if share * per_unit_y >= line_px + 4 and fits_x:
            shown = axes.text(
                column, bottom + share / 2, text, ha="center", va="center",
                fontsize=SEGMENT_SIZE, color=text_colour_on(colour),
            )  # fmt: skip
            shown.set_in_layout(False)


def types_at(table: pd.DataFrame, label: str) -> pd.DataFrame:
    """One snapshot's rows of a types trend table, as a types table with its attrs."""
    rows = table[table["label"] == label]
    point = rows[["type", "count", "share"]].reset_index(drop=True)
    facts = ("n", "unresolved", "unresolved_domains", "total")
    point.attrs = {key: int(rows[key].iloc[0]) if len(rows) else 0 for key in facts}
    point.attrs["by"] = table.attrs.get("by", "domains")
    return point


def trend_columns(tables: Mapping[str, pd.DataFrame], labels: Sequence[str]) -> list[Column]:
    """Types A–F at the first and the last of the trend's snapshots (`labels`), by each unit
    the trend `tables` (`<name>_<by>` → table) have at that snapshot."""
    columns = []
    for end in dict.fromkeys([labels[0], labels[-1]]):
        units = {}
        for by in ("domains", "volume"):
            table = tables.get(f"types_{by}")
            if table is not None and not table.empty and end in set(table["label"]):
                units[by] = types_at(table, end)
        columns += stack_columns(units, end)
    return columns
