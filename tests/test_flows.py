"""`survey flows` end to end over the lab's reports: every row and reject as the generator
states them, the accounting, resume after an interruption, and the command's errors."""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from survey.cli.main import main
from survey.errors import SnapshotError
from survey.flows.pipeline import FlowOptions, FlowSummary, GroupDone, run_flows
from survey.lab.generate import generate_lab
from survey.lab.reports import EXPECTED_COLUMNS, REJECT_COLUMNS, FlowLabPaths, write_flow_lab
from survey.schema.columns import markdown_table, values_outside_schema
from survey.schema.flow_columns import FLOW_ARROW_SCHEMA, FLOW_COLUMNS
from survey.schema.flow_columns import REJECT_COLUMNS as RC
from survey.schema.flow_values import FlowReject, FlowWarning
from survey.store.flows import FlowSnapshot
from survey.store.snapshot import Snapshot

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
KEY = ["input_file", "input_member", "record"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> FlowLabPaths:
    folder = tmp_path_factory.mktemp("flow-lab")
    generate_lab(2000, folder, seed=3)
    return write_flow_lab(folder, 100)


def options(lab: FlowLabPaths, out: Path, **changes: object) -> FlowOptions:
    values: dict[str, object] = {
        "inputs": (lab.reports,),
        "flows": out,
        "label": "lab",
        "files_per_part": 40,
    }
    values.update(changes)
    return FlowOptions(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def flows(lab: FlowLabPaths, tmp_path_factory: pytest.TempPathFactory) -> FlowSummary:
    return run_flows(options(lab, tmp_path_factory.mktemp("flows")))


def relative(frame: pd.DataFrame, lab: FlowLabPaths) -> pd.DataFrame:
    frame["input_file"] = frame["input_file"].str.removeprefix(f"{lab.reports}/")
    return frame.sort_values(KEY, na_position="first").reset_index(drop=True)


def plain(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """Rows as tuples, nulls as None and numbers as int, whatever dtype pandas chose."""
    return [
        tuple(None if pd.isna(v) else int(v) if isinstance(v, float) else v for v in row)
        for row in frame.itertuples(index=False)
    ]


def rows_of(summary: FlowSummary, lab: FlowLabPaths) -> pd.DataFrame:
    table = FlowSnapshot.open(summary.folder).to_table(list(EXPECTED_COLUMNS))
    return relative(table.to_pandas(), lab)


def rejects_of(summary: FlowSummary, lab: FlowLabPaths) -> pd.DataFrame:
    table = FlowSnapshot.open(summary.folder).rejects().select(list(REJECT_COLUMNS))
    return relative(table.to_pandas(), lab)


def test_every_row_is_what_the_generator_states(flows: FlowSummary, lab: FlowLabPaths) -> None:
    expected = relative(pq.read_table(lab.expected_flows).to_pandas(), lab)
    got = rows_of(flows, lab)
    assert len(got) == len(expected) > 2000
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_every_reject_is_what_the_generator_states(flows: FlowSummary, lab: FlowLabPaths) -> None:
    expected = pd.read_csv(lab.expected_rejects, dtype={"record": "Int64"}, keep_default_na=False)
    expected = expected.replace({"input_member": {"": None}})
    got = rejects_of(flows, lab)
    assert plain(got) == plain(relative(expected, lab))
    reasons = set(got["reason"])
    assert {"xml_forbidden", "too_large", "compression_error", "duplicate_report"} <= reasons
    assert {"not_aggregate_report", "unknown_format", "bad_count", "bad_row"} <= reasons


def test_the_accounting_balances_and_matches_the_lab(flows: FlowSummary, lab: FlowLabPaths) -> None:
    truth = json.loads(lab.summary.read_text())
    counts = flows.manifest["accounting"]
    assert flows.status == "complete" and counts["balanced"] is True
    assert counts["files"] == truth["files"] == flows.manifest["input"]["files"]
    assert counts["documents"] == truth["documents"] == counts["parsed"] + counts["rejected"]
    assert counts["rejected"] == truth["rejected"]
    assert counts["records"] == counts["rows"] + counts["records_rejected"]
    assert (counts["rows"], counts["records_rejected"]) == (
        truth["rows"],
        truth["records_rejected"],
    )
    assert counts["messages"] == truth["messages"]
    assert flows.manifest["rejects"] == truth["rejects"]
    by_dkim = flows.manifest["messages_by"]["dkim"]
    assert sum(by_dkim.values()) == counts["messages"]
    assert set(by_dkim) == {"self", "third_party", "fail", "unsigned"}
    csv_lines = (flows.folder / "rejects.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + counts["rejected"] + counts["records_rejected"]


def test_reported_volumes_are_the_lab_domains_volumes(
    flows: FlowSummary, lab: FlowLabPaths
) -> None:
    domains = pd.read_csv(lab.reports.parent / "domains.csv").set_index("domain")["messages"]
    table = FlowSnapshot.open(flows.folder).to_table(["header_from", "messages", "format"])
    frame = table.to_pandas()
    frame = frame[frame["header_from"].isin(domains.index)]
    sums = frame.groupby("header_from")["messages"].sum()
    assert len(sums) == 200  # 100 reported, 100 in the flow tables
    assert (sums == domains[sums.index]).all()


def test_closed_columns_hold_only_schema_values(flows: FlowSummary) -> None:
    table = FlowSnapshot.open(flows.folder).to_table()
    assert table.schema.equals(FLOW_ARROW_SCHEMA)
    assert values_outside_schema(table, FLOW_COLUMNS) == {}
    assert values_outside_schema(FlowSnapshot.open(flows.folder).rejects(), RC) == {}
    formats = Counter(table["format"].to_pylist())
    assert set(formats) == {"rfc7489", "rfc9990", "flow_table"}
    helo = [w for w in table["warnings"].to_pylist() if FlowWarning.SPF_HELO_ONLY in w]
    assert helo


class Stop(Exception):
    """Stands for a crash between two groups."""


def stop_after(groups: int, exc: type[BaseException]):  # type: ignore[no-untyped-def]
    def progress(done: GroupDone) -> None:
        if done.group + 1 >= groups and not done.skipped:
            raise exc()

    return progress


@pytest.mark.parametrize("exc", [KeyboardInterrupt, Stop])
def test_a_resumed_run_equals_an_uninterrupted_one(
    exc: type[BaseException], flows: FlowSummary, lab: FlowLabPaths, tmp_path: Path
) -> None:
    if exc is KeyboardInterrupt:
        first = run_flows(options(lab, tmp_path), stop_after(3, exc))
        assert first.status == "interrupted"
    else:
        with pytest.raises(Stop):
            run_flows(options(lab, tmp_path), stop_after(3, exc))
        assert json.loads((tmp_path / "lab" / "manifest.json").read_text())["status"] == "failed"
    assert len(list((tmp_path / "lab" / "records").glob("part-*"))) == 3
    resumed = run_flows(options(lab, tmp_path, resume=True))
    assert resumed.status == "complete"
    pd.testing.assert_frame_equal(rows_of(resumed, lab), rows_of(flows, lab))
    pd.testing.assert_frame_equal(rejects_of(resumed, lab), rejects_of(flows, lab))
    assert resumed.manifest["accounting"] == flows.manifest["accounting"]
    assert len(resumed.manifest["resumed_at"]) == 1


def test_a_resume_over_other_inputs_is_refused(lab: FlowLabPaths, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(lab.reports, inputs)
    first = run_flows(options(lab, tmp_path, inputs=(inputs,)), stop_after(1, KeyboardInterrupt))
    assert first.status == "interrupted"
    (inputs / "late.xml").write_bytes(b"<feedback/>")
    with pytest.raises(SnapshotError, match="file list differs"):
        run_flows(options(lab, tmp_path, inputs=(inputs,), resume=True))
    with pytest.raises(SnapshotError, match="files per part"):
        (inputs / "late.xml").unlink()
        run_flows(options(lab, tmp_path, inputs=(inputs,), resume=True, files_per_part=7))
    with pytest.raises(SnapshotError, match="--resume"):
        run_flows(options(lab, tmp_path, inputs=(inputs,)))


def test_flow_and_dns_snapshots_refuse_each_other(flows: FlowSummary, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="schema version"):
        Snapshot.open(flows.folder)
    (tmp_path / "manifest.json").write_text('{"schema_version": 1}')
    with pytest.raises(SnapshotError, match="not a flow snapshot"):
        FlowSnapshot.open(tmp_path)


def survey(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", ["survey", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr()


def test_the_command(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reports = tmp_path / "in"
    reports.mkdir()
    (reports / "a.xml").write_bytes(
        b"<feedback><record><row><count>9</count></row><identifiers>"
        b"<header_from>example.com</header_from></identifiers></record></feedback>"
    )
    where = ["--flows", str(tmp_path)]
    code, out = survey(monkeypatch, capsys, "flows", str(reports), *where, "--label", "t")
    assert code == 0 and "messages 9" in out.out
    for args, words in [
        ([str(tmp_path / "missing"), "--label", "a"], "input not found"),
        ([str(reports), "--label", "t"], "--resume"),
        ([str(reports), "--label", "../x"], "invalid snapshot label"),
        ([str(reports), "--label", "u", "--files-per-part", "0"], "--files-per-part"),
        ([str(reports), "--label", "v", "--signers", str(reports / "a.xml")], "signer table"),
    ]:
        code, out = survey(monkeypatch, capsys, "flows", *args, *where)
        lines = out.err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("survey: error: "), out.err
        assert words in lines[0], lines[0]


def test_the_readme_documents_the_flow_schema() -> None:
    assert markdown_table(FLOW_COLUMNS) in README
    assert markdown_table(RC) in README
    for reason in FlowReject:
        assert f"| `{reason}` | {reason.meaning} |" in README
    for warning in FlowWarning:
        assert f"| `{warning}` | {warning.meaning} |" in README
