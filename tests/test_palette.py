"""One colour per category everywhere, and colours that stay apart for colour-blind readers.

Each table's colours are compared in CIELAB (ΔE*76) as a reader with normal vision and with full
protanopia, deuteranopia or tritanopia sees them: Machado, Oliveira and Fernandes (2009), "A
Physiologically-based Model for Simulation of Color Vision Deficiency", severity 1.0 matrices,
applied in linear sRGB.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from snapshot_factory import SAMPLE, later_sample, write_snapshot

from survey.report import charts, palette, tally
from survey.report.stack import types_at
from survey.report.trend import trend
from survey.store.snapshot import Snapshot

VISION = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}  # fmt: skip
MIN_DELTA_E = 10.0  # clearly told apart side by side (about 4 just-noticeable differences)

#: Every table's categories, as its tally orders them.
CATEGORIES = {
    "types": tally.TYPES,
    "dmarc_status": tally.DMARC_STATUS_KEYS,
    "spf_status": tally.SPF_STATUS_KEYS,
    "policy_p": tally.P_KEYS,
    "policy_effective": tally.EFFECTIVE_KEYS,
    "policy_sp": tally.SP_KEYS,
    "report_types": tally.REPORT_TYPES,
    "spf_all": tally.SPF_ALL_KEYS,
    "rua_vendors": ("self", "other", "Agari"),
    "dmarc_problems": ("error", "warning"),
}


def linear(colour: str) -> np.ndarray:
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def lab(rgb: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ rgb  # fmt: skip
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(one: str, other: str, vision: str) -> float:
    seen = [lab(np.clip(VISION[vision] @ linear(c), 0, 1)) for c in (one, other)]
    return float(np.linalg.norm(seen[0] - seen[1]))


def closest(colours: dict[str, str]) -> tuple[float, str]:
    """The smallest ΔE between two of `colours` for any vision, and who and for whom."""
    return min(
        (delta_e(colours[a], colours[b], vision), f"{a} / {b} ({vision})")
        for a, b in itertools.combinations(colours, 2)
        for vision in VISION
    )


@pytest.mark.parametrize("table", sorted(CATEGORIES))
def test_a_tables_colours_stay_apart_for_every_vision(table: str) -> None:
    colours = {key: palette.colour_of(table, key) for key in CATEGORIES[table]}
    distance, pair = closest(colours)
    assert distance >= MIN_DELTA_E, pair


def test_trend_lines_of_vendors_stay_apart() -> None:
    colours = {c: c for c in (*palette.SERIES, palette.COLOURS["vendor:self"],
                              palette.COLOURS["vendor:other"])}  # fmt: skip
    distance, pair = closest(colours)
    assert distance >= MIN_DELTA_E, pair
    resolved, unresolved = palette.COLOURS["count:resolved"], palette.COLOURS["count:unresolved"]
    assert min(delta_e(resolved, unresolved, v) for v in VISION) >= MIN_DELTA_E


def test_the_check_tells_red_from_green_only_with_normal_vision() -> None:
    assert delta_e("#D62728", "#2CA02C", "normal") > 60  # matplotlib's red and green …
    assert delta_e("#D62728", "#2CA02C", "deuteranopia") < MIN_DELTA_E  # … merge for many


def test_colours_come_from_okabe_ito_or_grey() -> None:
    allowed = {*palette.OKABE_ITO, palette.NOTHING, palette.UNRESOLVED}
    assert set(palette.COLOURS.values()) | set(palette.SERIES) <= allowed


def test_a_vendor_keeps_its_colour_from_chart_to_chart() -> None:
    first, later = ["self", "Agari", "Valimail", "other"], ["Valimail", "other", "Agari"]
    one = dict(zip(first, palette.series_colours("rua_vendors", first), strict=True))
    two = dict(zip(later, palette.series_colours("rua_vendors", later), strict=True))
    assert all(one[key] == two[key] for key in two)
    many = [f"Vendor {i}" for i in range(10)]
    styles = palette.series_colours("rua_vendors", many)
    assert len(set(styles)) == len(many)  # past the palette, lines repeat colours dashed


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, pd.DataFrame]]:
    frame = tally.read_frame(Snapshot.open(write_snapshot(tmp_path_factory.mktemp("p"), "a")))
    return {by: tally.snapshot_tables(frame, by, 3) for by in tally.BY}


@pytest.fixture(scope="module")
def trend_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("t")
    write_snapshot(root, "2026-01", SAMPLE)
    write_snapshot(root, "2026-02", later_sample())
    return trend(root).tables


def test_type_a_is_drawn_in_one_colour_everywhere(
    tables: dict[str, dict[str, pd.DataFrame]], trend_tables: dict[str, pd.DataFrame]
) -> None:
    expected = palette.COLOURS["type:A"].lower()
    for name in ("types", "types_top"):
        bars = charts.draw_table(name, tables["volume"][name], "a").axes[0].patches
        assert to_hex(bars[0].get_facecolor()) == expected, name  # type A is the first bar
    columns = charts.stack_columns({by: t["types"] for by, t in tables.items()})
    stack = charts.draw_types_stack(columns, "a").axes[0]
    top = max(stack.patches, key=lambda patch: patch.get_y() + patch.get_height())
    assert to_hex(top.get_facecolor()) == expected  # type A on top of the stack
    for by in tally.BY:
        lines = charts.draw_trend("types", trend_tables[f"types_{by}"]).axes[0].get_lines()
        assert to_hex(lines[0].get_color()) == expected
    assert types_at(trend_tables["types_domains"], "2026-02")["type"].iloc[0] == "A"


def test_a_sampled_policy_is_hatched_beside_its_colour(
    tables: dict[str, dict[str, pd.DataFrame]],
) -> None:
    table = tables["domains"]["policy_effective"]
    bars = charts.draw_table("policy_effective", table, "a").axes[0].patches
    hatched = {key for key, bar in zip(table["policy"], bars, strict=True) if bar.get_hatch()}
    assert hatched == {"quarantine_pct", "reject_pct"}
