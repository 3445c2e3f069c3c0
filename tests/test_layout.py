"""No text leaves the canvas or lies over another text, in any chart, in either language, drawn
whole or bare (for a slide), from tables built to break layouts (tests/chart_data.py): every text
artist matplotlib draws is caught as it is drawn and its extent taken from the figure's renderer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from unittest import mock

import matplotlib
import pandas as pd
import pytest
from chart_data import hostile_tables, hostile_trend, write_hostile
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from survey.report import charts
from survey.report.canvas import chart_rc, new_figure
from survey.report.labels import Lang
from survey.report.stack import trend_columns

MARGIN_PX = 10.0  # no text nearer the canvas' edge than this
LABEL = "2026-02-isp-sender-domains-of-one-day"


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, pd.DataFrame]]:
    return hostile_tables(write_hostile(tmp_path_factory.mktemp("layout")))


@pytest.fixture(scope="module")
def trend_tables(tables: dict[str, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    return hostile_trend(tables)


Draw = Callable[[], Figure]


def every_chart(
    tables: dict[str, dict[str, pd.DataFrame]],
    trend_tables: dict[str, pd.DataFrame],
    lang: Lang,
    bare: bool,
) -> Iterator[tuple[str, Draw]]:
    """(name, drawing) of every chart of a report and a trend."""
    for by, named in tables.items():
        for name, table in named.items():
            yield (
                f"{name}_{by}",
                lambda n=name, t=table: charts.draw_table(n, t, LABEL, lang, bare=bare),
            )
    units = {by: named["types"] for by, named in tables.items()}
    yield (
        "types_stack",
        lambda: charts.draw_types_stack(charts.stack_columns(units), LABEL, lang, bare=bare),
    )
    labels = list(dict.fromkeys(trend_tables["types_domains"]["label"]))
    columns = trend_columns(trend_tables, labels)
    yield "trend_types_stack", lambda: charts.draw_types_stack(columns, "x", lang, bare=bare)
    for key, table in trend_tables.items():
        if key == "domain_counts":
            yield "trend_" + key, lambda t=table: charts.draw_counts(t, lang, bare=bare)
        else:
            name = key.rsplit("_", 1)[0]
            yield "trend_" + key, lambda n=name, t=table: charts.draw_trend(n, t, lang, bare=bare)


def drawn_texts(figure: Figure) -> list[tuple[str, Bbox]]:
    """Every non-empty text drawn on `figure`, with its extent in pixels."""
    caught: list[Text] = []
    draw = Text.draw

    def catch(self: Text, renderer: object) -> None:
        if self.get_visible() and self.get_text().strip():
            caught.append(self)
        draw(self, renderer)

    with mock.patch.object(Text, "draw", catch):
        figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    return [(text.get_text(), text.get_window_extent(renderer)) for text in caught]


def problems(figure: Figure) -> list[str]:
    """Texts off the canvas (or within MARGIN_PX of its edge), and pairs of texts that overlap."""
    width, height = figure.bbox.width, figure.bbox.height
    texts = drawn_texts(figure)
    found = [
        f"off the canvas: {text!r} at {_px(box)}"
        for text, box in texts
        if box.x0 < MARGIN_PX or box.y0 < MARGIN_PX
        or box.x1 > width - MARGIN_PX or box.y1 > height - MARGIN_PX
    ]  # fmt: skip
    for (one, a), (other, b) in itertools.combinations(texts, 2):
        overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
        overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
        if overlap_x > 0.5 and overlap_y > 0.5:
            found.append(f"overlap: {one!r} {_px(a)} and {other!r} {_px(b)}")
    return found


def _px(box: Bbox) -> tuple[int, ...]:
    return tuple(round(value) for value in box.extents)


@pytest.mark.parametrize("bare", [False, True], ids=["whole", "bare"])
@pytest.mark.parametrize("lang", charts.LANGS)
def test_no_text_leaves_the_canvas_or_overlaps(
    tables: dict[str, dict[str, pd.DataFrame]],
    trend_tables: dict[str, pd.DataFrame],
    lang: Lang,
    bare: bool,
) -> None:
    failures, drawn = {}, 0
    for key, draw in every_chart(tables, trend_tables, lang, bare):
        figure = draw()
        assert len(drawn_texts(figure)) >= 3, key  # the texts are caught as they are drawn
        if found := problems(figure):
            failures[key] = found
        drawn += 1
    assert drawn == 36 + 2 + 13  # every table by both units, two stacks, the trend
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())


def test_the_check_finds_texts_off_the_canvas_and_over_each_other() -> None:
    with matplotlib.rc_context(chart_rc("en")):
        figure = new_figure()
        figure.text(0.97, 0.5, "past the right edge")
        figure.text(0.5, 0.995, "at the top edge")
        figure.text(0.2, 0.2, "one text")
        figure.text(0.21, 0.2, "another")
        figure.text(0.5, 0.5, "alone")
    found = problems(figure)
    assert len(found) == 3, found
    assert "'past the right edge'" in found[0] and "'at the top edge'" in found[1]
    assert found[2].startswith("overlap: 'one text'") and "'another'" in found[2]
