"""SPF evaluation in the scan (issue 17): the `spf_*` columns of real scans against the loopback
DNS stub, what went over the wire, a temperror as unresolved, `--no-spf-eval`, the manifest."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq

from survey.dns.loop import run
from survey.dns.pool import ResolverPool
from survey.dns.settings import ResolverSettings
from survey.input.stream import InputDomain
from survey.scan.pipeline import ScanOptions, run_scan
from survey.scan.scanner import DomainScanner, scan_chunk, verdicts_to_table
from survey.store.manifest import unresolved_rows
from survey.store.snapshot import PARTS_DIR
from survey.verdict.row import Verdict
from tests.dnsstub import DnsStub, Fault

NETBLOCKS = b"include:_netblocks.google.com include:_netblocks2.google.com"
GOOGLE = {
    "_spf.google.com": [[b"v=spf1 " + NETBLOCKS + b" ~all"]],
    "_netblocks.google.com": [[b"v=spf1 ip4:35.190.247.0/24 ~all"]],
    "_netblocks2.google.com": [[b"v=spf1 ip6:2001:4860:4000::/36 ~all"]],
}  # fmt: skip
HOSTS = [b"a:h%d.example" % i for i in range(12)]
CUSTOMERS = [f"c{i}.example" for i in range(30)]


def zone() -> dict[str, list[list[bytes]]]:
    return {
        **GOOGLE,
        **{d: [[b"v=spf1 include:_spf.google.com mx -all"]] for d in CUSTOMERS},
        "wide.example": [[b"v=spf1 " + b" ".join(HOSTS) + b" -all"]],
        "loop.example": [[b"v=spf1 redirect=_spf.loop.example"]],
        "_spf.loop.example": [[b"v=spf1 redirect=loop.example"]],
        "two.example": [[b"v=spf1 -all"], [b"v=spf1 ~all"]],
        "flaky.example": [[b"v=spf1 include:_spf.flaky.example -all"]],
        "_spf.flaky.example": [[b"v=spf1 -all"]],
        "_dmarc.flaky.example": [[b"v=DMARC1; p=reject"]],
    }  # fmt: skip


def stub() -> DnsStub:
    hosts = {f"h{i}.example": ["192.0.2.1"] for i in range(12)}
    mx = {d: [(10, f"mx.{d}")] for d in CUSTOMERS}
    return DnsStub(zone(), nodata=["example"], addresses=hosts, mx=mx)


def scan(server: DnsStub, domains: list[str], spf_eval: bool = True):
    settings = ResolverSettings(nameservers=(server.nameserver,), timeout=5.0, tries=2)

    async def go() -> tuple[list[Verdict], DomainScanner]:
        async with ResolverPool(settings) as pool:
            scanner = DomainScanner.standard(pool, report_auth=False, spf_eval=spf_eval)
            items = [InputDomain(d, None, None) for d in domains]
            return await scan_chunk(scanner, items, 100), scanner

    return run(go())


def columns(v: Verdict) -> tuple:
    return (v.spf_lookups, v.spf_void_lookups, v.spf_result, v.spf_result_reason)


def test_a_shared_include_is_asked_once_for_the_whole_run() -> None:
    with stub() as server:
        verdicts, scanner = scan(server, CUSTOMERS)
        assert {columns(v) for v in verdicts} == {(4, 0, "ok", None)}
        assert {v.spf_includes for v in verdicts} == {
            ("_spf.google.com", "_netblocks.google.com", "_netblocks2.google.com")
        }
        for name in GOOGLE:
            assert server.count(name) == 1
        assert all(server.count(d) == 2 for d in CUSTOMERS)  # TXT (SPF), MX (the mx term)
    counts = scanner.spf_counts.manifest_entry()
    assert counts["domains"] == 30 and counts["questions"]["MX"] == {"ok": 30}
    assert counts["questions"]["TXT"] == {"ok": 3}
    assert counts["questions_total"] == 33


def test_the_verdicts_of_failing_trees() -> None:
    with stub() as server:
        verdicts, _ = scan(server, ["wide.example", "loop.example", "two.example", "none.example"])
    wide, loop, two, none = verdicts
    assert columns(wide) == (12, 0, "permerror", "too_many_lookups")
    assert columns(loop) == (2, 0, "permerror", "redirect_loop")
    assert loop.spf_includes == ("_spf.loop.example", "loop.example")
    assert columns(two) == (None, None, "permerror", "multiple_records")
    assert columns(none) == (None, None, None, None) and none.spf_includes is None
    assert wide.spf_includes == () and wide.spf_unasked_terms == 0


def test_a_failed_lookup_is_temperror_and_unresolved_the_type_unchanged() -> None:
    with stub() as server:
        server.fail("_spf.flaky.example", Fault.SERVFAIL)
        verdicts, scanner = scan(server, ["flaky.example", CUSTOMERS[0]])
    flaky = verdicts[0]
    assert flaky.spf_result == "temperror" and flaky.spf_result_reason is None
    assert flaky.type == "A"  # RFC 7489: DMARC valid, SPF present
    table = verdicts_to_table(verdicts, dt.datetime.now(dt.UTC))
    assert unresolved_rows(table).to_pylist() == [True, False]
    assert scanner.spf_counts.questions["TXT servfail"] == 1


def test_no_evaluation_asks_nothing_more() -> None:
    with stub() as server:
        verdicts, scanner = scan(server, CUSTOMERS[:5], spf_eval=False)
        assert server.count("_spf.google.com") == 0
        assert all(server.count(d) == 1 for d in CUSTOMERS[:5])
    assert {columns(v) for v in verdicts} == {(None, None, None, None)}
    assert scanner.spf_counts.manifest_entry()["enabled"] is False


def test_the_manifest_records_the_evaluation(tmp_path: Path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join([*CUSTOMERS[:4], "wide.example"]) + "\n")
    with stub() as server:
        settings = ResolverSettings(nameservers=(server.nameserver,), timeout=5.0)
        for label, evaluate in (("on", True), ("off", False)):
            run_scan(ScanOptions(listing, tmp_path / "snap", label, settings, spf_eval=evaluate))
    on, off = (tmp_path / "snap" / label for label in ("on", "off"))
    manifest = json.loads((on / "manifest.json").read_text())
    assert manifest["spf_eval"] is True and manifest["status"] == "complete"
    entry = manifest["runs"][-1]["spf_eval"]
    assert entry["domains"] == 5  # each name asked once; evaluations in flight share answers
    assert entry["questions"] == {"A": {"ok": 12}, "MX": {"ok": 4}, "TXT": {"ok": 3}}
    assert manifest["spf_result"] == {"ok": 4, "permerror": 1}
    rows = pq.read_table(on / PARTS_DIR).to_pylist()
    assert sorted(r["spf_lookups"] for r in rows) == [4, 4, 4, 4, 12]
    manifest = json.loads((off / "manifest.json").read_text())
    assert manifest["spf_eval"] is False and manifest["spf_result"] == {"null": 5}
    assert manifest["runs"][-1]["spf_eval"]["enabled"] is False


def test_check_prints_the_tree_with_its_counts() -> None:
    from survey.scan.check import check_domains, render_text

    with stub() as server:
        settings = ResolverSettings(nameservers=(server.nameserver,), timeout=5.0)
        customer, wide = check_domains([CUSTOMERS[0], "wide.example"], settings)
    text = render_text(customer)
    assert "    evaluation: ok, 4 lookups (limit 10), 0 void (limit 2)" in text
    assert "      include:_spf.google.com  [3 lookups]" in text
    assert "        include:_netblocks.google.com  [1 lookup]" in text
    assert "      mx:c0.example  [1 lookup]  — 1 name" in text
    assert customer["spf_tree"]["children"][0]["lookups"] == 3  # the JSON output holds it too
    assert "evaluation: permerror (too_many_lookups), 12 lookups" in render_text(wide)
