"""DNSSEC end to end (issue 15 point 2): the lab's signed root and child zones served by Knot,
a validating Unbound (Debian) in front of it, and `survey scan` through Unbound reproducing
the lab's truth, `dnssec` included; Knot alone sets no AD bit; c-ares measures nothing.

The truth is the generator's (survey/lab/dnssec.py): what each zone is (signed, unsigned, a
wrong DS, a DS without signatures, signatures that ran out), never what the scan reads."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from survey.dns.settings import ResolverSettings
from survey.lab.compare import COMPARED, NOT_MEASURED_BY_AIODNS, column_differences
from survey.lab.dnssec import CHILD_CASES, MIN_PER_CASE, DnssecLab
from survey.lab.generate import generate_lab
from survey.lab.unbound import UnboundServer
from survey.scan.check import check_domains
from survey.scan.pipeline import ScanOptions, ScanSummary, run_scan
from survey.store.snapshot import Snapshot
from tests.conftest import DNSSEC_LAB_DOMAINS, ValidatedLab

pytestmark = [pytest.mark.knot, pytest.mark.timeout(300)]


def scan(lab: ValidatedLab, nameserver: str, folder: Path, label: str, **more) -> ScanSummary:
    settings = ResolverSettings(nameservers=(nameserver,), timeout=2.0, tries=3, backoff=0.05,
                                concurrency=60, **more)  # fmt: skip
    return run_scan(ScanOptions(lab.domains_csv, folder, label, settings, chunk_size=100))


@pytest.fixture(scope="module")
def validated(dnssec_lab: ValidatedLab, tmp_path_factory) -> ScanSummary:
    return scan(dnssec_lab, dnssec_lab.resolver, tmp_path_factory.mktemp("snaps"), "validated")


def expected_dnssec(lab: ValidatedLab) -> Counter[str]:
    return Counter(pq.read_table(lab.expected, columns=["dnssec"]).column(0).to_pylist())


def test_every_case_is_there_several_times(dnssec_lab: ValidatedLab) -> None:
    counts = Counter(dnssec_lab.cases.values())
    assert set(counts) == set(CHILD_CASES) and min(counts.values()) >= MIN_PER_CASE
    assert set(expected_dnssec(dnssec_lab)) == {"secure", "insecure", "bogus"}


def test_a_scan_through_unbound_reproduces_every_expected_verdict(
    dnssec_lab: ValidatedLab, validated: ScanSummary
) -> None:
    assert validated.status == "complete"
    differences = column_differences(validated.folder, dnssec_lab.folder)
    shown = {column: rows[:5] for column, rows in differences.items()}
    assert not differences, f"verdicts differ from the lab's truth: {shown}"


def test_the_manifest_counts_dnssec_and_the_cd_questions(
    dnssec_lab: ValidatedLab, validated: ScanSummary
) -> None:
    manifest = validated.manifest
    truth = expected_dnssec(dnssec_lab)
    assert manifest["dnssec"] == dict(truth)
    assert manifest["unresolved"] == truth["bogus"]  # bogus: unresolved, never absent
    transport = manifest["runs"][-1]["transport"]
    assert transport["checking_disabled_questions"] == truth["bogus"]  # one CD question each
    assert set(transport["question_types"]) == {"TXT", "A", "MX"}  # A, MX: the SPF evaluation's
    asked = manifest["runs"][-1]["spf_eval"]["questions"]
    assert set(asked) <= {"TXT", "A", "MX"} and sum(asked["MX"].values()) >= 1


def test_the_expired_zones_validate_on_the_day_they_were_signed(
    dnssec_lab: ValidatedLab,
) -> None:
    # The same zones through an Unbound on today's clock: what makes them bogus is the date.
    expired = sorted(d for d, case in dnssec_lab.cases.items() if case == "expired")
    wrong = sorted(d for d, case in dnssec_lab.cases.items() if case == "wrong_ds")
    with UnboundServer(dnssec_lab.port, dnssec_lab.trust_anchor, dnssec_lab.cases) as today:
        settings = ResolverSettings(nameservers=(today.nameserver,), timeout=2.0)
        results = check_domains([*expired, *wrong], settings)
    assert [r["dnssec"] for r in results] == ["secure"] * len(expired) + ["bogus"] * len(wrong)


def test_knot_alone_sets_no_ad_bit(dnssec_lab: ValidatedLab, tmp_path: Path) -> None:
    # The same signed zones asked of the authoritative server: answered, and never validated.
    summary = scan(dnssec_lab, dnssec_lab.nameserver, tmp_path, "knot")
    frame = Snapshot.open(summary.folder).to_pandas(["dnssec", "type"])
    assert set(frame.dnssec) == {"insecure"}
    assert summary.manifest["unresolved"] == 0  # bogus zones too: nothing validates them here
    assert summary.manifest["runs"][-1]["transport"]["checking_disabled_questions"] == 0


def test_c_ares_through_unbound_measures_no_dnssec(
    dnssec_lab: ValidatedLab, tmp_path: Path
) -> None:
    summary = scan(dnssec_lab, dnssec_lab.resolver, tmp_path, "aiodns", client="aiodns")
    measured = tuple(c for c in COMPARED if c not in NOT_MEASURED_BY_AIODNS)
    assert column_differences(summary.folder, dnssec_lab.folder, measured) == {}
    table = Snapshot.open(summary.folder).to_table(["dnssec"])
    assert table.column("dnssec").null_count == table.num_rows


# -- the zones the generator wrote ---------------------------------------------------------


def records(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("$")]


def test_each_delegated_domain_moved_whole_into_its_zone(
    dnssec_lab: ValidatedLab, tmp_path: Path
) -> None:
    generate_lab(DNSSEC_LAB_DOMAINS, tmp_path, seed=13)  # the same lab, before signing
    before = Counter(records(tmp_path / "root.zone"))
    root = records(dnssec_lab.folder / "root.zone")
    children = {d: records(dnssec_lab.folder / "zones" / f"{d}.zone") for d in dnssec_lab.cases}
    added = [line for line in root if re.match(r"\S+\. (NS|DS) ", line) and line not in before]
    moved = [line for lines in children.values() for line in lines[2:]]  # after SOA and NS
    assert Counter(root) - Counter(added) + Counter(moved) == before
    for domain, case in dnssec_lab.cases.items():
        delegation = [line.split()[1] for line in added if line.startswith(f"{domain}. ")]
        has_ds = case in ("signed", "wrong_ds", "ds_unsigned", "expired")
        assert delegation == (["NS", "DS"] if has_ds else ["NS"]), domain
        assert not any(line.split()[0].endswith(f".{domain}.") for line in root)


def test_the_plan_can_be_read_back(dnssec_lab: ValidatedLab) -> None:
    lab = DnssecLab.load(dnssec_lab.folder)
    assert (lab.cases, lab.trust_anchor) == (dnssec_lab.cases, dnssec_lab.trust_anchor)
    assert re.fullmatch(r"\. DS \d+ 13 2 [0-9a-f]{64}", lab.trust_anchor)
    templates = Counter(lab.template(domain) for domain in lab.cases)
    per_case = len(lab.cases) // len(CHILD_CASES)
    # Knot signs signed and wrong_ds for 90 days, expired for one; the other two not at all
    assert templates == {"signed": 2 * per_case, "short": per_case, "default": 2 * per_case}


def test_the_scorecard_shows_each_state_and_no_failure_as_absent(
    dnssec_lab: ValidatedLab, validated: ScanSummary
) -> None:
    # Issue 15 point 5: a bogus domain's DMARC and SPF cells are unresolved, never ✘.
    from survey.report.scorecard import CellState, WatchEntry, score, snapshot_rows

    by_case = {case: sorted(d for d, c in dnssec_lab.cases.items() if c == case)[0]
               for case in CHILD_CASES}  # fmt: skip
    entries = [WatchEntry(domain, case, domain) for case, domain in by_case.items()]
    rows = snapshot_rows(Snapshot.open(validated.folder), list(by_case.values()))
    cells = {s.entry.group: s.cells for s in score(entries, rows)}
    assert {case: cells[case]["dnssec"].text for case in by_case} == {
        "signed": "secure", "unsigned": "unsigned", "wrong_ds": "bogus",
        "ds_unsigned": "bogus", "expired": "bogus",
    }  # fmt: skip
    for case in ("wrong_ds", "ds_unsigned", "expired"):
        assert cells[case]["dmarc"].state is CellState.UNRESOLVED
        assert cells[case]["spf"].state is CellState.UNRESOLVED
