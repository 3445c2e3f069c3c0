"""Classification of one record: DKIM self / third party / fail / unsigned under relaxed and
strict alignment, the SPF classes, DMARC pass; and the signer table."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey.errors import InputError
from survey.flows.classify import Signature, aligned, classify, dkim_class, spf_class
from survey.flows.signers import DEFAULT_SIGNERS, SignerTable
from survey.schema.flow_values import (
    Alignment,
    DkimClass,
    DkimResult,
    DmarcResult,
    SpfClass,
    SpfResult,
)

R, S = Alignment.RELAXED, Alignment.STRICT
PASS, FAIL, NONE = DkimResult.PASS, DkimResult.FAIL, DkimResult.NONE


def sigs(*pairs: tuple[str, DkimResult | None]) -> list[Signature]:
    return [Signature(d, r) for d, r in pairs]


@pytest.mark.parametrize(
    ("header_from", "signatures", "mode", "expected"),
    [
        ("example.com", sigs(("example.com", PASS)), R, (DkimClass.SELF, "example.com")),
        ("example.com", sigs(("example.com", PASS)), S, (DkimClass.SELF, "example.com")),
        ("example.com", sigs(("mail.example.com", PASS)), R, (DkimClass.SELF, "mail.example.com")),
        ("example.com", sigs(("mail.example.com", PASS)), None,
         (DkimClass.SELF, "mail.example.com")),
        ("example.com", sigs(("mail.example.com", PASS)), S,
         (DkimClass.THIRD_PARTY, "mail.example.com")),
        ("news.example.co.uk", sigs(("example.co.uk", PASS)), R, (DkimClass.SELF, "example.co.uk")),
        ("a.example.co.uk", sigs(("b.co.uk", PASS)), R, (DkimClass.THIRD_PARTY, "b.co.uk")),
        ("example.com", sigs(("sendgrid.net", PASS)), R, (DkimClass.THIRD_PARTY, "sendgrid.net")),
        ("example.com", sigs(("sendgrid.net", PASS), ("example.com", PASS)), R,
         (DkimClass.SELF, "example.com")),
        ("example.com", sigs(("example.com", FAIL), ("sendgrid.net", PASS)), R,
         (DkimClass.THIRD_PARTY, "sendgrid.net")),
        ("example.com", sigs(("example.com", FAIL)), R, (DkimClass.FAIL, "example.com")),
        ("example.com", sigs(("example.com", DkimResult.TEMPERROR), ("x.net", DkimResult.POLICY)),
         R, (DkimClass.FAIL, "example.com")),
        ("example.com", sigs(("example.com", None)), R, (DkimClass.UNSIGNED, None)),
        ("example.com", sigs(("example.com", NONE)), R, (DkimClass.UNSIGNED, None)),
        ("example.com", [], R, (DkimClass.UNSIGNED, None)),
        # github.io is a public suffix (PSL private section): two users, two organizations
        ("alice.github.io", sigs(("bob.github.io", PASS)), R,
         (DkimClass.THIRD_PARTY, "bob.github.io")),
        ("", sigs(("example.com", PASS)), R, (DkimClass.THIRD_PARTY, "example.com")),
    ],
)  # fmt: skip
def test_dkim_classes(
    header_from: str,
    signatures: list[Signature],
    mode: Alignment | None,
    expected: tuple[DkimClass, str | None],
) -> None:
    assert dkim_class(header_from, signatures, mode) == expected


@pytest.mark.parametrize(
    ("domain", "result", "mode", "expected"),
    [
        ("example.com", SpfResult.PASS, R, SpfClass.ALIGNED),
        ("bounce.example.com", SpfResult.PASS, R, SpfClass.ALIGNED),
        ("bounce.example.com", SpfResult.PASS, S, SpfClass.UNALIGNED),
        ("example.com", SpfResult.PASS, S, SpfClass.ALIGNED),
        ("sendgrid.net", SpfResult.PASS, R, SpfClass.UNALIGNED),
        ("", SpfResult.PASS, R, SpfClass.UNALIGNED),
        ("example.com", SpfResult.FAIL, R, SpfClass.FAIL),
        ("example.com", SpfResult.SOFTFAIL, R, SpfClass.FAIL),
        ("example.com", SpfResult.NEUTRAL, R, SpfClass.FAIL),
        ("example.com", SpfResult.TEMPERROR, R, SpfClass.FAIL),
        ("example.com", SpfResult.PERMERROR, R, SpfClass.FAIL),
        ("example.com", SpfResult.NONE, R, SpfClass.NONE),
        (None, None, R, SpfClass.NONE),
    ],
)
def test_spf_classes(
    domain: str | None, result: SpfResult | None, mode: Alignment, expected: SpfClass
) -> None:
    assert spf_class("example.com", domain, result, mode) == expected


@pytest.mark.parametrize(
    ("signatures", "spf", "dmarc"),
    [
        (sigs(("example.com", PASS)), ("x.net", SpfResult.FAIL), DmarcResult.PASS),
        (sigs(("x.net", PASS)), ("example.com", SpfResult.PASS), DmarcResult.PASS),
        (sigs(("x.net", PASS)), ("x.net", SpfResult.PASS), DmarcResult.FAIL),
        ([], ("example.com", SpfResult.SOFTFAIL), DmarcResult.FAIL),
        ([], (None, None), DmarcResult.FAIL),
    ],
)
def test_dmarc_passes_on_aligned_dkim_or_spf(
    signatures: list[Signature], spf: tuple[str | None, SpfResult | None], dmarc: DmarcResult
) -> None:
    assert classify("example.com", signatures, spf).dmarc == dmarc


def test_alignment_modes() -> None:
    assert aligned("a.example.com", "b.example.com", R)
    assert not aligned("a.example.com", "b.example.com", S)
    assert not aligned("", "", R)


@pytest.fixture(scope="module")
def signers() -> SignerTable:
    return SignerTable.load()


@pytest.mark.parametrize(
    ("signer", "service"),
    [
        ("example-com.20230601.gappssmtp.com", "Google Workspace"),
        ("contoso.onmicrosoft.com", "Microsoft 365"),
        ("amazonses.com", "Amazon SES"),
        ("sendgrid.net", "SendGrid"),
        ("mcsv.net", "Mailchimp"),
        ("mcdlv.net", "Mailchimp"),
        ("mailer.postsafe-esp.net", "other"),
        ("notsendgrid.net", "other"),
        ("mail.example.com", "self"),
    ],
)
def test_services_by_longest_suffix(signers: SignerTable, signer: str, service: str) -> None:
    assert signers.service_of(signer, "example.com") == service


def test_every_signer_names_where_it_is_documented() -> None:
    lines = DEFAULT_SIGNERS.read_text().splitlines()
    assert lines[0] == "service,suffix,documented_at"
    assert all(line.split(",")[2].startswith("https://") for line in lines[1:])


@pytest.mark.parametrize(
    "text",
    [
        "service,suffix\nX,x.example\n",
        "service,suffix,documented_at\nX,x.example,\n",
        "service,suffix,documented_at\nself,x.example,https://x\n",
        "service,suffix,documented_at\nA,x.example,https://a\nB,x.example,https://b\n",
    ],
)
def test_unusable_signer_tables_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "signers.csv"
    path.write_text(text)
    with pytest.raises(InputError):
        SignerTable.load(path)
