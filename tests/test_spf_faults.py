"""SPF evaluation through the fault proxy in front of the Knot lab: a provider's include that
always fails (SERVFAIL) makes every domain including it `temperror` — unresolved, never `ok`,
the type unchanged — and `--retry-unresolved` then gets the lab's truth for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey.dns.settings import ResolverSettings
from survey.lab.compare import COMPARED, differing, expected_rows, snapshot_rows
from survey.lab.faults import FaultPlan, FaultProxy
from survey.scan.pipeline import ScanOptions, run_scan
from survey.scan.retry import RetryOptions, run_retry

pytestmark = pytest.mark.knot
N = 600
FAILING = "spfd.protection.outlook.com"  # below spf.protection.outlook.com: a nested include


def settings(nameserver: str) -> ResolverSettings:
    return ResolverSettings(nameservers=(nameserver,), timeout=2.0, tries=3, backoff=0.02)


def test_a_failing_include_is_temperror_then_retried(knot_lab, tmp_path: Path) -> None:
    source = knot_lab.first_domains(N, tmp_path)
    truth = expected_rows(knot_lab.folder)
    plan = FaultPlan(servfail_names=frozenset({FAILING}))
    with FaultProxy(("127.0.0.1", knot_lab.port), plan) as proxy:
        summary = run_scan(ScanOptions(source, tmp_path / "snap", "f", settings(proxy.nameserver)))
    assert summary.status == "complete"
    rows = snapshot_rows(summary.folder)
    through = {d for d in rows if FAILING in (truth[d]["spf_includes"] or ())}
    assert len(through) >= 20
    for domain, got in rows.items():
        want = truth[domain]
        if domain in through:
            assert (got["spf_result"], got["spf_result_reason"]) == ("temperror", None), domain
            assert got["type"] == want["type"]  # RFC 7489 asks no include
        else:
            assert differing(got, want, COMPARED) == {}, domain
    assert summary.manifest["spf_result"]["temperror"] == len(through)
    servfails = summary.manifest["runs"][-1]["spf_eval"]["questions"]["TXT"]["servfail"]
    assert servfails >= 1
    retried = run_retry(RetryOptions(summary.folder, settings(f"127.0.0.1:{knot_lab.port}")))
    assert retried.status == "complete" and retried.manifest["runs"][-1]["asked"] == len(through)
    after = snapshot_rows(summary.folder)
    assert [d for d, got in after.items() if differing(got, truth[d], COMPARED)] == []
