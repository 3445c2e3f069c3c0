"""Labels under the points of an axis (the snapshots of a trend, the columns of a stack) that fit
side by side: each label may be cut with an ellipsis (never below KEEP_CHARS characters), the
lines under it (a unit, `n = …`) never are; numbers are written short (1.2M, 1,235億) when the
full ones do not fit, the text is set smaller within bounds, and at last only every k-th point is
labelled, the latest always (the chart notes it; every point is in the table)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from survey.report.canvas import ELLIPSIS, Ruler, ellipsize, fitting_size
from survey.report.labels import Lang
from survey.report.texts import UI_TEXT, compact

TICK_SIZE, MIN_TICK_SIZE = 17.0, 14.0
TICK_ROOM = 0.85  # of a point's slot a label may take
KEEP_CHARS = 10


@dataclass(frozen=True, slots=True)
class Ticks:
    """The labels of the points: their size, texts ('' where left out) and the step between
    labelled points (1: every point)."""

    size: float
    texts: list[str]
    step: int


def point_ticks(
    figure: Figure, labels: Sequence[str], slot: float, unders: Sequence[str] = ()
) -> Ticks:
    """`labels`, with the lines `unders` under each, at one size that fits `slot` pixels a
    point, else every k-th one, the latest kept."""
    room = slot * TICK_ROOM
    unders = list(unders) or [""] * len(labels)
    pairs = list(zip(labels, unders, strict=True))
    size = fitting_size(figure, [_joined(*pair) for pair in pairs], room, TICK_SIZE, MIN_TICK_SIZE)
    ruler = Ruler(figure, size)
    least = [max(ruler.width(_shortest(label)), ruler.width(under)) for label, under in pairs]
    step = max(1, math.ceil(max(least, default=0.0) / room))
    last = len(labels) - 1
    texts = [
        _joined(ellipsize(label, room * step, ruler), under) if (last - i) % step == 0 else ""
        for i, (label, under) in enumerate(pairs)
    ]
    return Ticks(size, texts, step)


def _joined(label: str, under: str) -> str:
    return f"{label}\n{under}" if under else label


def _shortest(label: str) -> str:
    return label if len(label) <= KEEP_CHARS else label[:KEEP_CHARS] + ELLIPSIS


def numbered_ticks(
    figure: Figure,
    labels: Sequence[str],
    ns: Sequence[int],
    lang: Lang,
    slot: float,
    middles: Sequence[str] = (),
) -> Ticks:
    """`labels` with (a middle line and) `n = …` under each: full numbers if they fit, else
    short ones."""
    short = UI_TEXT[lang]["n_short"]
    middles = list(middles) or [""] * len(labels)
    tried = []
    for number in (lambda n: f"{n:,}", lambda n: compact(n, lang)):
        unders = [
            "\n".join(filter(None, [middle, short.format(n=number(n))]))
            for middle, n in zip(middles, ns, strict=True)
        ]
        tried.append(point_ticks(figure, labels, slot, unders))
        if tried[-1].step == 1:
            break
    return min(tried, key=lambda ticks: ticks.step)
