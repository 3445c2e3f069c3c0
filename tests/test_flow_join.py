"""`survey report FLOWS --dns SNAPSHOT`: messages and From domains by the From domain's
published policy. Hand-checked over the sample DNS snapshot, and against the lab generator's
truth over a DNS snapshot scanned from Knot; From domains missing from the DNS snapshot are
counted apart, never as no policy; the join is tallied with the DNS snapshot it was made with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from snapshot_factory import SAMPLE, write_snapshot

from survey.cli.main import main
from survey.dns.settings import ResolverSettings
from survey.errors import InputError, SnapshotError
from survey.flows.pipeline import FlowOptions, run_flows
from survey.lab.reports import write_flow_lab
from survey.report.flow_tallies import tally_flows
from survey.report.flow_write import write_any_report, write_flow_report
from survey.report.tallies import STAMP, TALLIES
from survey.scan.pipeline import ScanOptions, run_scan
from survey.store.flows import FlowSnapshot
from survey.store.snapshot import Snapshot

POLICIES = ["none", "quarantine_pct", "quarantine", "reject_pct", "reject", "no_policy"]

#: header_from, messages; the sample's verdicts in the comments (tests/snapshot_factory.py).
LOG = [
    ("a.example", 10),  # reject
    ("a.example", 5),
    ("b.example", 20),  # quarantine, pct=50
    ("d.example", 25),  # none, pct=20: pct changes nothing for none
    ("e.example", 30),  # two records: invalid, no policy applies
    ("h.example", 40),  # no DMARC record
    ("i.example", 50),  # the DMARC lookup failed: unresolved
    ("j.example", 60),  # reject, pct=10
    ("zz.example", 70),  # not in the DNS snapshot
    ("yy.example", 80),  # not in the DNS snapshot
]


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> tuple[FlowSnapshot, Path]:
    root = tmp_path_factory.mktemp("join")
    lines = ["header_from,dkim_domains,dkim_results,spf_domain,spf_result,messages"]
    lines += [f"{domain},{domain},pass,{domain},pass,{count}" for domain, count in LOG]
    (root / "log.csv").write_text("\n".join(lines) + "\n")
    run_flows(FlowOptions((root / "log.csv",), root / "flows", "2026-01"))
    return FlowSnapshot.open(root / "flows" / "2026-01"), write_snapshot(root, "2026-01", SAMPLE)


def test_messages_by_published_policy(joined: tuple[FlowSnapshot, Path]) -> None:
    snapshot, dns = joined
    table = tally_flows(snapshot, Snapshot.open(dns)).tables["volume"]["flow_policy"]
    assert table["policy"].tolist() == POLICIES
    assert table["count"].tolist() == [25, 20, 0, 60, 15, 70]
    assert table["share"].tolist() == [c / 190 for c in [25, 20, 0, 60, 15, 70]]
    attrs = table.attrs
    assert (attrs["n"], attrs["unresolved"], attrs["unresolved_domains"]) == (190, 50, 1)
    assert (attrs["not_in_dns"], attrs["not_in_dns_domains"], attrs["total"]) == (150, 2, 390)
    assert attrs["dns_label"] == "2026-01"


def test_from_domains_by_published_policy(joined: tuple[FlowSnapshot, Path]) -> None:
    snapshot, dns = joined
    table = tally_flows(snapshot, Snapshot.open(dns)).tables["domains"]["flow_policy"]
    assert table["count"].tolist() == [1, 1, 0, 1, 1, 2]
    attrs = table.attrs
    assert (attrs["n"], attrs["unresolved"], attrs["not_in_dns"], attrs["total"]) == (6, 1, 2, 9)


def test_the_join_is_tallied_with_its_dns_snapshot(
    joined: tuple[FlowSnapshot, Path], tmp_path: Path
) -> None:
    snapshot, dns = joined
    other = write_snapshot(tmp_path, "2026-01-b", SAMPLE[:6])
    tally_flows(snapshot, Snapshot.open(dns))
    assert (
        json.loads((snapshot.folder / TALLIES / STAMP).read_text())["options"]["dns"]["label"]
        == "2026-01"
    )
    assert tally_flows(snapshot, Snapshot.open(dns)).reused
    plain = tally_flows(snapshot)  # without --dns: any set serves, the join left aside
    assert plain.reused and "flow_policy" not in plain.tables["volume"]
    again = tally_flows(snapshot, Snapshot.open(other))
    assert not again.reused
    counts = again.tables["volume"]["flow_policy"].attrs
    assert counts["not_in_dns_domains"] == 2 + 3  # h, i and j are not in a … f


def test_report_says_what_is_left_out(joined: tuple[FlowSnapshot, Path], tmp_path: Path) -> None:
    snapshot, dns = joined
    md = write_flow_report(snapshot.folder, tmp_path, dns=dns, formats=["png"])
    text = md.read_text(encoding="utf-8")
    assert "Not in DNS snapshot 2026-01: 2 From domains, 150 messages (38.5%)" in text
    assert "DNS lookup failed: 50 messages (12.8%), left out." in text
    assert "| no policy applies | 70 | 36.8% |" in text
    assert (tmp_path / "charts" / "flow_policy_domains.png").is_file()
    # The flows have no report period (a log): the DNS month cannot be compared with theirs.
    assert "The flows have no report period" in text


def test_dns_must_be_a_complete_dns_snapshot(
    joined: tuple[FlowSnapshot, Path], tmp_path: Path
) -> None:
    snapshot, _ = joined
    running = write_snapshot(tmp_path, "running", SAMPLE, status="running")
    with pytest.raises(SnapshotError, match="not 'complete'"):
        write_flow_report(snapshot.folder, tmp_path / "r", dns=running)
    with pytest.raises(SnapshotError, match="schema version 'flows-1'"):
        write_flow_report(snapshot.folder, tmp_path / "r", dns=snapshot.folder)
    with pytest.raises(InputError, match="--dns joins a flow snapshot"):
        write_any_report(running, tmp_path / "r", dns=running)


# --- against the lab's truth, over a real scan ---------------------------------------------

SCANNED = 3_000  # the lab's first domains by rank: some From domains are in, others not


@pytest.fixture(scope="module")
def lab_join(knot_lab, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("lab-join")
    for name in ("domains.csv", "expected.parquet"):  # the shared lab is left as it is
        shutil.copy(knot_lab.folder / name, root / name)
    lab = write_flow_lab(root, 40)
    run_flows(FlowOptions((lab.reports,), root / "flows", "2025-12"))
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=1.0)
    (root / "scan").mkdir()
    scanned = knot_lab.first_domains(SCANNED, root / "scan")
    run_scan(ScanOptions(scanned, root / "dns", "2025-12", settings, chunk_size=1000))
    return root, lab


def truth_keys(root: Path, lab) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Each expected flow row with its From domain's policy key, from the generator's truth."""
    rows = pq.read_table(lab.expected_flows).to_pandas()
    verdicts = pq.read_table(root / "expected.parquet").to_pandas().set_index("domain")
    scanned = set(pd.read_csv(root / "scan" / "domains.csv")["domain"])

    def key(domain: str) -> str:
        if domain not in scanned:
            return "not_in_dns"
        verdict = verdicts.loc[domain]
        if verdict["dmarc_status"] == "error":
            return "unresolved"
        policy, pct = verdict["dmarc_effective_p"], verdict["dmarc_pct"]
        if pd.isna(policy):
            return "no_policy"
        if policy in ("quarantine", "reject") and not pd.isna(pct) and pct < 100:
            return f"{policy}_pct"
        return str(policy)

    return rows.assign(key=rows["header_from"].map(key))


@pytest.mark.knot
@pytest.mark.parametrize("by", ["volume", "domains"])
def test_lab_join_is_the_generators(lab_join, by: str) -> None:  # type: ignore[no-untyped-def]
    root, lab = lab_join
    rows = truth_keys(root, lab)
    assert set(rows["key"]) >= {"not_in_dns", "none", "reject", "no_policy"}
    snapshot = FlowSnapshot.open(root / "flows" / "2025-12")
    table = tally_flows(snapshot, Snapshot.open(root / "dns" / "2025-12")).tables[by]
    got = table["flow_policy"]
    grouped = rows.groupby("key")
    counts = grouped["messages"].sum() if by == "volume" else grouped["header_from"].nunique()
    assert got["count"].tolist() == [int(counts.get(k, 0)) for k in POLICIES]
    assert got.attrs["not_in_dns"] == int(counts["not_in_dns"])
    assert got.attrs["unresolved"] == int(counts.get("unresolved", 0))
    assert got.attrs["n"] == sum(int(counts.get(k, 0)) for k in POLICIES)


@pytest.mark.knot
def test_cli_report_with_dns(lab_join, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    root, _ = lab_join
    argv = ["survey", "report", str(root / "flows" / "2025-12"), "--dns", str(root / "dns" /
            "2025-12"), "--out", str(tmp_path), "--lang", "ja", "--format", "png"]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 0
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## From ドメインの DMARC ポリシー別 (DNS)" in text
    assert (tmp_path / "charts" / "flow_policy_volume.png").is_file()
