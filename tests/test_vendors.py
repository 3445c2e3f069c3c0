"""Report URI host → vendor, `self` or `other`."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey.errors import InputError
from survey.verdict.vendors import OTHER, SELF, VendorTable, registrable_domain


@pytest.fixture(scope="module")
def bundled() -> VendorTable:
    return VendorTable.load()


@pytest.mark.parametrize(
    ("host", "policy_org", "expected"),
    [
        ("agari.com", "example.com", "Agari"),  # equal to the suffix
        ("rua.agari.com", "example.com", "Agari"),  # below it
        ("RUA.Agari.COM.", "example.com", "Agari"),  # case and trailing dot
        ("notagari.com", "example.com", OTHER),  # a suffix matches on a label boundary only
        ("ag.dmarcian.eu", "example.com", "dmarcian"),
        ("x.emaildefense.proofpoint.com", "example.com", "Proofpoint"),
        ("proofpoint.com", "example.com", OTHER),  # only the listed sub-suffix is the vendor
        ("dmarc.example.com", "example.com", SELF),
        ("reports.mail.example.co.uk", "example.co.uk", SELF),
        ("example.co.uk", "other.co.uk", OTHER),  # same public suffix is not the same org
        ("rua.agari.com", "agari.com", SELF),  # self is checked first
        ("reports.example.net", "example.com", OTHER),
        ("", "example.com", OTHER),
    ],
)
def test_vendor_of(bundled: VendorTable, host: str, policy_org: str, expected: str) -> None:
    assert bundled.vendor_of(host, policy_org) == expected


def test_self_compares_organizational_domains(bundled: VendorTable) -> None:
    # The caller may pass the policy domain itself rather than its organizational domain.
    assert bundled.vendor_of("dmarc.example.com", "mail.example.com") == SELF


def test_longest_suffix_wins() -> None:
    table = VendorTable.from_rows([("Wide", "example.net"), ("Narrow", "dmarc.example.net")])
    assert table.vendor_of("a.dmarc.example.net", "policy.org") == "Narrow"
    assert table.vendor_of("a.mail.example.net", "policy.org") == "Wide"
    assert table.vendor_of("dmarc.example.net", "policy.org") == "Narrow"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("rua.reports.example.co.uk", "example.co.uk"),
        ("Mail.Example.COM.", "example.com"),
        ("alice.github.io", "alice.github.io"),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


@pytest.mark.parametrize(
    "rows",
    [
        [("", "x.com")],
        [("X", "")],
        [("self", "x.com")],
        [("other", "x.com")],
        [("A", "x.com"), ("B", "X.com.")],  # one suffix, two vendors
    ],
)
def test_bad_rows_are_refused(rows: list[tuple[str, str]]) -> None:
    with pytest.raises(InputError):
        VendorTable.from_rows(rows)


def test_load_checks_columns(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("name,host\nA,a.com\n", encoding="utf-8")
    with pytest.raises(InputError, match="vendor,suffix"):
        VendorTable.load(path)


def test_load_reads_a_custom_table(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("vendor,suffix\nAcme,Reports.Acme.TEST\n", encoding="utf-8")
    assert VendorTable.load(path).vendor_of("x.reports.acme.test", "example.com") == "Acme"
