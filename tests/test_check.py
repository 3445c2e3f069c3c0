"""`survey check`: the scan's own code path, rendered for a person, against the lab on loopback."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from survey.dns.settings import ResolverSettings
from survey.errors import InputError
from survey.lab.generate import generate_lab
from survey.lab.serve import LabServer
from survey.scan.check import check_domains, render_text, terminal_safe


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("check-lab")
    generate_lab(300, folder, seed=5)
    cases = pq.read_table(folder / "cases.parquet").to_pandas().set_index("dmarc_case")
    with LabServer(folder / "root.zone") as server:
        yield ResolverSettings(nameservers=(f"127.0.0.1:{server.port}",), timeout=1.0), cases


def first(cases, case: str) -> str:
    return str(cases.loc[case].domain.iloc[0])


def test_check_shows_records_verdicts_and_problems(lab) -> None:
    settings, cases = lab
    monitor, several = first(cases, "p_monitor"), first(cases, "multiple_records")
    results = check_domains([monitor.upper() + ".", several], settings)
    assert [r["domain"] for r in results] == [monitor, several]  # normalised
    text = render_text(results[0])
    assert "DMARC (RFC 7489) invalid" in text and "p=monitor" in text
    assert "error: p_invalid — p is not none, quarantine or reject (e.g. monitor" in text
    assert "DMARC (RFC 9989) invalid (policy domain" in text
    assert "error: p_invalid — p is not none, quarantine or reject: p=none with a" in text
    both = render_text(results[1])
    assert both.count("    record: v=DMARC1") == 2  # each text on its own line
    assert "error: multiple_records" in both and "a receiver applies: -" in both
    rfc9989 = both.split("DMARC (RFC 9989) ")[1]
    assert rfc9989.startswith("invalid (policy domain -, organizational domain")
    assert "error: multiple_records — several DMARC records at the domain's own" in rfc9989


def test_check_refuses_what_is_not_a_domain(lab) -> None:
    settings, _ = lab
    with pytest.raises(InputError, match="ip_address"):
        check_domains(["192.0.2.1"], settings)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07"),
        ("v=DMARC1;\r\np=none", "v=DMARC1;\\x0d\\x0ap=none"),
        ("caf\udce9", "caf\\xe9"),  # a raw byte (surrogate-escaped) shown, not dropped
        ("ドメイン", "ドメイン"),
    ],
)
def test_terminal_safe(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown
