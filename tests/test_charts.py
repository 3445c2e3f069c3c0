"""Every chart, in both languages, is a real 1920x1080 PNG and a real SVG, with its frame text.

Missing glyphs (tofu) make matplotlib warn "Glyph … missing from font"; pytest runs with
warnings as errors, so any missing glyph in any chart fails the rendering fixture.
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image
from snapshot_factory import SAMPLE, later_sample, write_snapshot
from test_tally import NAMING

from survey.report import charts, labels, tally
from survey.report.charts import Lang
from survey.report.labels import PROBLEM_LABELS
from survey.report.trend import trend
from survey.store.snapshot import Snapshot

LABEL = "2026-01"


@pytest.fixture(scope="session")
def snapshot_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("chart-snapshots")
    frame = tally.read_frame(Snapshot.open(write_snapshot(root, LABEL, SAMPLE)))
    return {
        f"{name}_{by}": table
        for by in tally.BY
        for name, table in tally.snapshot_tables(frame, by, 3, "rank", NAMING).items()
    }


@pytest.fixture(scope="session")
def trend_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("chart-trend")
    write_snapshot(root, "2026-01", SAMPLE)
    write_snapshot(root, "2026-02", later_sample())
    return trend(root).tables


def figures(
    snapshot_tables: dict[str, pd.DataFrame], trend_tables: dict[str, pd.DataFrame], lang: Lang
) -> dict[str, Figure]:
    drawn = {
        key: charts.draw_table(key.rsplit("_", 1)[0], table, LABEL, lang)
        for key, table in snapshot_tables.items()
    }
    for key, table in trend_tables.items():
        if key == "domain_counts":
            drawn["trend_domain_counts"] = charts.draw_counts(table, lang)
        else:
            drawn[f"trend_{key}"] = charts.draw_trend(key.rsplit("_", 1)[0], table, lang)
    return drawn


@pytest.fixture(scope="session", params=charts.LANGS)
def rendered(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    snapshot_tables: dict[str, pd.DataFrame],
    trend_tables: dict[str, pd.DataFrame],
) -> tuple[Lang, dict[str, Figure], list[Path]]:
    lang: Lang = request.param
    out = tmp_path_factory.mktemp(f"charts-{lang}")
    drawn = figures(snapshot_tables, trend_tables, lang)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph fails here, whatever the pytest config
        files = [path for key, fig in drawn.items() for path in charts.save(fig, out / key)]
    return lang, drawn, files


def test_every_chart_is_rendered(rendered: tuple[Lang, dict[str, Figure], list[Path]]) -> None:
    _, drawn, files = rendered
    assert len(drawn) == 36 + 13  # 18 tables x 2 modes, 12 trend tables + domain counts
    assert len(files) == 2 * len(drawn)


def test_png_is_1920x1080(rendered: tuple[Lang, dict[str, Figure], list[Path]]) -> None:
    for path in rendered[2]:
        if path.suffix == ".png":
            with Image.open(path) as image:
                assert (image.format, image.size) == ("PNG", (1920, 1080)), path


def test_svg_is_16_by_9(rendered: tuple[Lang, dict[str, Figure], list[Path]]) -> None:
    for path in rendered[2]:
        if path.suffix == ".svg":
            root = ET.parse(path).getroot()
            assert root.tag == "{http://www.w3.org/2000/svg}svg", path
            assert root.get("viewBox") == "0 0 1152 648", path


def frame_text(figure: Figure) -> str:
    return "\n".join(text.get_text() for text in figure.texts)


EXPECTED_TEXT = {
    "en": ("Domain types A–F", "n = 10 domains", "unresolved 2 (16.7%)", "snapshot 2026-01"),
    "ja": ("ドメインの分類 A–F", "n = 10 ドメイン (ドメイン数)", "未解決 2 (16.7%)", "2026-01"),
}


def test_frame_text(rendered: tuple[Lang, dict[str, Figure], list[Path]]) -> None:
    lang, drawn, _ = rendered
    text = frame_text(drawn["types_domains"])
    for part in EXPECTED_TEXT[lang]:
        assert part in text
    volume = frame_text(drawn["types_volume"])
    assert ("1,940" in volume) and (("mail volume" in volume) or ("流通数" in volume))
    for key, figure in drawn.items():
        ticks = "".join(t.get_text() for t in figure.axes[0].get_xticklabels())
        assert "n = " in frame_text(figure) + ticks, key
        assert "2026-01" in frame_text(figure), key


def test_vendor_charts_say_shares_may_pass_100(
    rendered: tuple[Lang, dict[str, Figure], list[Path]],
) -> None:
    lang, drawn, _ = rendered
    for key in ("rua_vendors_domains", "ruf_other_volume", "trend_rua_vendors_volume"):
        assert charts.UI_TEXT[lang]["sum_past_100"] in frame_text(drawn[key]), key


def test_japanese_category_labels(rendered: tuple[Lang, dict[str, Figure], list[Path]]) -> None:
    lang, drawn, _ = rendered
    ticks = [t.get_text() for t in drawn["dmarc_status_domains"].axes[0].get_yticklabels()]
    assert ticks == (
        ["valid", "invalid", "absent"] if lang == "en" else ["あり(正常)", "あり(誤り)", "なし"]
    )


def test_problem_charts_show_labels_not_codes(
    rendered: tuple[Lang, dict[str, Figure], list[Path]],
) -> None:
    lang, drawn, _ = rendered
    for name in ("dmarc_problems", "spf_problems"):
        for by in ("domains", "volume"):
            axes = drawn[f"{name}_{by}"].axes[0]
            ticks = [t.get_text() for t in axes.get_yticklabels()]
            assert ticks, (name, by)
            codes = {str(code) for codes in PROBLEM_LABELS.values() for code in codes}
            assert not codes & set(ticks), (name, by, ticks)
            labelled = {labels.category_label(name, code, lang) for code in codes}
            assert set(ticks) <= labelled, (name, by, ticks)


@pytest.mark.parametrize(
    ("tables", "key"),
    [(("types", "types_top"), "A"), (("policy_p", "policy_effective", "policy_sp"), "reject")],
)
def test_one_colour_per_category(tables: tuple[str, ...], key: str) -> None:
    assert len({charts.colour_of(name, key) for name in tables}) == 1


def test_trend_lines_keep_category_colours(trend_tables: dict[str, pd.DataFrame]) -> None:
    figure = charts.draw_trend("types", trend_tables["types_domains"])
    colours = [line.get_color() for line in figure.axes[0].get_lines()]
    assert colours == [charts.COLOURS[f"type:{t}"] for t in "ABCDEF"]


def test_missing_glyph_is_caught(snapshot_tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    table = snapshot_tables["rua_vendors_domains"].copy()
    table.loc[0, "vendor"] = "\ue000 vendor"  # private use: in no font
    figure = charts.draw_table("rua_vendors", table, LABEL, "ja")
    # Text from the Internet is drawn with what the fonts have: a replacement character, no tofu.
    assert "\ufffd vendor" in [t.get_text() for t in figure.axes[0].get_yticklabels()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        charts.save(figure, tmp_path / "replaced", ("png",))
    # and a glyph missing from our own words would still fail the rendering fixture.
    figure.text(0.5, 0.5, "\ue000")
    with pytest.warns(UserWarning, match="missing from font"):
        charts.save(figure, tmp_path / "tofu", ("png",))


def test_empty_table_is_drawn(snapshot_tables: dict[str, pd.DataFrame]) -> None:
    figure = charts.draw_table("ruf_other", snapshot_tables["ruf_other_domains"], LABEL, "en")
    assert charts.UI_TEXT["en"]["no_data"] in [t.get_text() for t in figure.axes[0].texts]
