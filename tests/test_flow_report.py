"""`survey report` of a flow snapshot: every table against the rows the lab generator states
(`expected_flows.parquet`), tallied here with pandas group-bys of their own; the receivers'
verdicts beside ours on hand-written reports; the report folder and its charts in en and ja."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from PIL import Image

from survey.cli.main import main
from survey.flows.pipeline import FlowOptions, run_flows
from survey.lab.generate import generate_lab
from survey.lab.reports import FlowLabPaths, write_flow_lab
from survey.report import flow_charts
from survey.report.flow_tallies import tally_flows
from survey.report.flow_write import write_flow_report
from survey.store.flows import FlowSnapshot

DKIM = ["self", "third_party", "fail", "unsigned"]
SPF = ["aligned", "unaligned", "fail", "none"]
DMARC = ["pass", "fail"]
DISPOSITIONS = ["none", "pass", "quarantine", "reject"]
VERDICTS = ["both_pass", "only_ours_pass", "only_receiver_pass", "both_fail"]
LINK = re.compile(r"\]\(([^)]+)\)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> FlowLabPaths:
    folder = tmp_path_factory.mktemp("flow-report-lab")
    generate_lab(1500, folder, seed=11)
    return write_flow_lab(folder, 60)


@pytest.fixture(scope="module")
def snapshot(lab: FlowLabPaths, tmp_path_factory: pytest.TempPathFactory) -> FlowSnapshot:
    out = tmp_path_factory.mktemp("flow-report-flows")
    summary = run_flows(FlowOptions((lab.reports,), out, "2025-12", files_per_part=30))
    assert summary.status == "complete"
    return FlowSnapshot.open(summary.folder)


@pytest.fixture(scope="module")
def tables(snapshot: FlowSnapshot) -> dict[str, dict[str, pd.DataFrame]]:
    return tally_flows(snapshot).tables  # type: ignore[return-value]


@pytest.fixture(scope="module")
def truth(lab: FlowLabPaths) -> pd.DataFrame:
    return pq.read_table(lab.expected_flows).to_pandas()


# --- the expected tables, from the generator's rows ---------------------------------------


def amount(rows: pd.DataFrame, by: str) -> int:
    return int(rows["messages"].sum()) if by == "volume" else int(rows["header_from"].nunique())


def per_key(rows: pd.DataFrame, key: str, by: str) -> pd.Series:
    grouped = rows.groupby(key)
    return grouped["messages"].sum() if by == "volume" else grouped["header_from"].nunique()


def expected(
    rows: pd.DataFrame, key: str, column: str, by: str, keys: list[str] | None
) -> pd.DataFrame:
    """Counts of `column` over `rows` (its base) as a table keyed `key`: in `keys` order, or
    by count then name when `keys` is None."""
    counts = per_key(rows, column, by)
    if keys is not None:
        table = pd.DataFrame({key: keys, "count": [int(counts.get(k, 0)) for k in keys]})
    else:
        table = pd.DataFrame({key: counts.index.astype(str), "count": counts.to_numpy()})
        table = table.sort_values(["count", key], ascending=[False, True], ignore_index=True)
    table["share"] = table["count"] / amount(rows, by)
    return table


def check(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False
    )


CLOSED = [("flow_dkim", "dkim", DKIM), ("flow_spf", "spf", SPF), ("flow_dmarc", "dmarc", DMARC)]


@pytest.mark.parametrize("by", ["volume", "domains"])
@pytest.mark.parametrize(("name", "key", "keys"), CLOSED)
def test_class_tables_are_the_generators(
    tables, truth: pd.DataFrame, name: str, key: str, keys: list[str], by: str
) -> None:
    got = tables[by][name]
    check(got, expected(truth, key, key, by, keys))
    assert got.attrs["n"] == got.attrs["total"] == amount(truth, by)
    assert got.attrs["unresolved"] == got.attrs["unresolved_domains"] == 0
    assert got.attrs["by"] == by


@pytest.mark.parametrize("by", ["volume", "domains"])
def test_dispositions_leave_out_rows_without_one(tables, truth: pd.DataFrame, by: str) -> None:
    got = tables[by]["flow_disposition"]
    reported = truth[truth["disposition"].notna()]
    check(got, expected(reported, "disposition", "disposition", by, DISPOSITIONS))
    missing = truth[truth["disposition"].isna()]
    assert len(missing) and (missing["format"] == "flow_table").all()
    assert got.attrs["n"] == amount(reported, by)
    assert got.attrs["unresolved"] == amount(missing, by)
    assert got.attrs["unresolved_domains"] == missing["header_from"].nunique()
    assert got.attrs["total"] == amount(truth, by)


@pytest.mark.parametrize("by", ["volume", "domains"])
def test_services_of_third_party_signatures(tables, truth: pd.DataFrame, by: str) -> None:
    third = truth[truth["dkim"] == "third_party"]
    got = tables[by]["flow_services"]
    check(got, expected(third, "service", "dkim_service", by, None))
    assert {"Google Workspace", "Microsoft 365", "other", "self"} <= set(got["service"])
    assert got.attrs["n"] == amount(third, by) and got.attrs["unresolved"] == 0


def test_top_signers_by_messages(tables, truth: pd.DataFrame) -> None:
    third = truth[truth["dkim"] == "third_party"].copy()
    # A signature by the author's own organization (unaligned under adkim=s) is one row.
    third["signer"] = third["dkim_signer_org"].where(third["dkim_service"] != "self", "self")
    grouped = third.groupby(["signer", "dkim_service"])
    want = pd.DataFrame(
        {
            "count": grouped["messages"].sum(),
            "from_domains": grouped["header_from"].nunique(),
        }
    ).reset_index()
    want = want.rename(columns={"dkim_service": "service"})
    want = want.sort_values(["count", "signer", "service"], ascending=[False, True, True])
    want["share"] = want["count"] / third["messages"].sum()
    got = tables["volume"]["flow_signers"]
    check(got, want[["signer", "service", "count", "share", "from_domains"]].head(50))
    assert got.attrs["signers"] == len(want) > 10
    assert {"gappssmtp.com", "onmicrosoft.com", "self"} <= set(got["signer"])
    assert "flow_signers" not in tables["domains"]


def test_receivers_verdicts_beside_ours(tables, truth: pd.DataFrame) -> None:
    # The lab's receivers report DKIM pass exactly for self-signed flows and SPF pass exactly
    # for aligned ones (survey/lab/reports.py), so their DMARC verdict is the generator's.
    reports = truth[truth["format"] != "flow_table"]
    keys = reports["dmarc"].map({"pass": "both_pass", "fail": "both_fail"})
    got = tables["volume"]["flow_dmarc_reported"]
    check(got, expected(reports.assign(v=keys), "verdicts", "v", "volume", VERDICTS))
    tables_only = truth[truth["format"] == "flow_table"]
    assert got.attrs["unresolved"] == amount(tables_only, "volume") > 0


def test_every_table_carries_the_period(tables, truth: pd.DataFrame) -> None:
    undated = int(truth.loc[truth["format"] == "flow_table", "messages"].sum())
    for named in tables.values():
        for table in named.values():
            assert table.attrs["period_begin"] == "2025-12-01T00:00:00+00:00"
            assert table.attrs["period_end"] == "2025-12-01T23:59:59+00:00"
            assert table.attrs["undated"] == undated


# --- hand-written reports: where the receivers and we disagree --------------------------

BEGIN = 1_767_225_600  # 2026-01-01T00:00:00Z


def record(count: int, disposition: str, dkim: str, spf: str, auth: str) -> str:
    return (
        f"<record><row><source_ip>192.0.2.1</source_ip><count>{count}</count>"
        f"<policy_evaluated><disposition>{disposition}</disposition><dkim>{dkim}</dkim>"
        f"<spf>{spf}</spf></policy_evaluated></row><identifiers>"
        f"<header_from>author.example</header_from></identifiers>"
        f"<auth_results>{auth}</auth_results></record>"
    )


def write_disagreements(folder: Path) -> Path:
    third = "<dkim><domain>esp.example</domain><result>pass</result></dkim>"
    own = "<dkim><domain>author.example</domain><result>pass</result></dkim>"
    spf_fail = "<spf><domain>author.example</domain><result>fail</result></spf>"
    records = [
        record(7, "none", "pass", "fail", third + spf_fail),  # only the receiver passes it
        record(3, "reject", "fail", "fail", own + spf_fail),  # only we pass it
        record(5, "none", "pass", "fail", own + spf_fail),  # both pass
        record(2, "reject", "fail", "fail", spf_fail),  # both fail
    ]
    (folder / "report.xml").write_text(
        "<?xml version='1.0'?><feedback><report_metadata><org_name>receiver.test</org_name>"
        "<email>r@receiver.test</email><report_id>r-1</report_id><date_range>"
        f"<begin>{BEGIN}</begin><end>{BEGIN + 86_399}</end></date_range></report_metadata>"
        "<policy_published><domain>author.example</domain><p>reject</p></policy_published>"
        + "".join(records)
        + "</feedback>"
    )
    (folder / "log.csv").write_text(
        "header_from,dkim_domains,dkim_results,spf_domain,spf_result,messages\n"
        "other.example,,,other.example,pass,11\n"
    )
    return folder


def test_receivers_and_ours_apart(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    inputs = write_disagreements(tmp_path / "in")
    run_flows(FlowOptions((inputs,), tmp_path / "flows", "hand"))
    tables = tally_flows(FlowSnapshot.open(tmp_path / "flows" / "hand")).tables
    verdicts = tables["volume"]["flow_dmarc_reported"]
    assert verdicts.set_index("verdicts")["count"].to_dict() == {
        "both_pass": 5,
        "only_ours_pass": 3,
        "only_receiver_pass": 7,
        "both_fail": 2,
    }
    assert (verdicts.attrs["n"], verdicts.attrs["unresolved"], verdicts.attrs["total"]) == (
        17,
        11,
        28,
    )
    dispositions = tables["volume"]["flow_disposition"].set_index("disposition")["count"]
    assert dispositions.to_dict() == {"none": 12, "pass": 0, "quarantine": 0, "reject": 5}
    dmarc = tables["volume"]["flow_dmarc"].set_index("dmarc")["count"].to_dict()
    assert dmarc == {"pass": 8 + 11, "fail": 9}  # other.example: SPF aligned (the log's row)
    assert verdicts.attrs["period_begin"] == "2026-01-01T00:00:00+00:00"
    assert verdicts.attrs["undated"] == 11


# --- the report folder and its charts ------------------------------------------------------


@pytest.fixture(scope="module", params=["en", "ja"])
def report(request, snapshot: FlowSnapshot, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"flow-report-{request.param}")
    return write_flow_report(snapshot.folder, out, lang=request.param)


def test_report_has_every_chart_and_table(report: Path) -> None:
    charts = sorted(p.stem for p in (report.parent / "charts").glob("*.png"))
    expected_stems = sorted(
        [f"{n}_{by}" for n in ("flow_dkim", "flow_spf", "flow_dmarc", "flow_disposition",
                               "flow_services") for by in ("volume", "domains")]
        + ["flow_dmarc_reported_volume", "flow_signers_volume"]
    )  # fmt: skip
    assert charts == expected_stems
    assert sorted(p.stem for p in (report.parent / "charts").glob("*.svg")) == expected_stems
    assert sorted(p.stem for p in (report.parent / "tables").glob("*.csv")) == expected_stems
    for png in (report.parent / "charts").glob("*.png"):
        with Image.open(png) as image:
            assert image.size == (1920, 1080)
    for link in LINK.findall(report.read_text(encoding="utf-8")):
        assert (report.parent / link).is_file(), link


def test_report_shows_numbers_in_its_language(report: Path, tables) -> None:
    text = report.read_text(encoding="utf-8")
    dkim = tables["volume"]["flow_dkim"].set_index("dkim")
    self_count, self_share = int(dkim.loc["self", "count"]), float(dkim.loc["self", "share"])
    english = "# Mail flows: flow snapshot 2025-12" in text
    label = "self (author's domain)" if english else "自ドメイン署名 (self)"
    assert f"| {label} | {self_count:,} | {self_share:.1%} |" in text
    assert english or "# メールフロー: フロースナップショット 2025-12" in text
    assert "- period: 2025-12-01T00:00:00+00:00 – 2025-12-01T23:59:59+00:00" in text


def frame_boxes(figure: Figure) -> tuple[list[tuple[str, Bbox]], Bbox]:
    """The boxes of the figure's own texts (title, facts, footer) and of its axes with their
    tick and axis labels (the ticks drawn, not those beyond the limits)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    texts = [(t.get_text(), t.get_window_extent(renderer)) for t in figure.texts]
    return texts, figure.axes[0].get_tightbbox(renderer)


def inside(box: Bbox) -> bool:
    return box.x0 >= 0 and box.y0 >= 0 and box.x1 <= 1920 and box.y1 <= 1080


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_chart_words_stay_on_the_slide(tables, lang: str) -> None:
    """The title, the facts line and the footer of every flow chart inside the 1920×1080
    frame, the footer clear of the axes (a missing glyph fails too: warnings are errors)."""
    for by, named in tables.items():
        for name, table in named.items():
            figure = flow_charts.draw_flow_table(name, table, "2025-12", lang)  # type: ignore[arg-type]
            texts, axes = frame_boxes(figure)
            assert [bool(text) for text, _ in texts] == [True, True, True], (name, by)
            assert all(inside(box) for _, box in texts), (name, by, texts)
            assert not texts[2][1].overlaps(axes), (name, by, texts[2][0])


def test_chart_facts_say_n_and_period(tables) -> None:
    table = tables["domains"]["flow_disposition"]
    line = flow_charts.facts(table.attrs, "2025-12", "en")
    assert line.startswith(f"n = {table.attrs['n']:,} From domains")
    assert "period 2025-12-01 – 2025-12-01" in line and "flows 2025-12" in line
    assert flow_charts.note("flow_disposition", table, "en").startswith("No disposition reported")


def test_cli_reports_a_flow_snapshot(
    snapshot: FlowSnapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr("sys.argv", ["survey", "report", str(snapshot.folder), "--out",
                                     str(tmp_path / "r"), "--format", "png"])  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 0
    assert "report written:" in capsys.readouterr().out
    assert (tmp_path / "r" / "charts" / "flow_dkim_volume.png").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--top", "5"], "--top applies to DNS snapshots"), (["--lang", "fr"], "--lang")],
)
def test_cli_refuses_options_a_flow_report_has_not(
    snapshot: FlowSnapshot, tmp_path: Path, monkeypatch, capsys, extra: list[str], message: str
) -> None:
    argv = ["survey", "report", str(snapshot.folder), "--out", str(tmp_path / "r"), *extra]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_a_snapshot_of_no_rows(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not a report\n")
    run_flows(FlowOptions((tmp_path / "in",), tmp_path / "flows", "empty"))
    tables = tally_flows(FlowSnapshot.open(tmp_path / "flows" / "empty")).tables
    for named in tables.values():
        for name, table in named.items():
            assert table["count"].sum() == 0 and table.attrs["n"] == 0, name
            assert table.attrs["period_begin"] is None
    assert tables["volume"]["flow_dkim"]["dkim"].tolist() == DKIM
    md = write_flow_report(tmp_path / "flows" / "empty", tmp_path / "r", lang="ja")
    assert "- period: none (no aggregate report among the inputs)" in md.read_text()
