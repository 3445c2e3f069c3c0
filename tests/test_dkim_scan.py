"""The DKIM questions of a scan (`survey/scan/dkim_probe.py`), against the DNS stub on loopback:
which names go over the wire, in how many rounds, and the columns the answers give."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa
import pytest

from survey.dns.loop import run
from survey.dns.pool import ResolverPool
from survey.dns.settings import ResolverSettings
from survey.errors import InputError
from survey.input.stream import InputDomain
from survey.scan import dkim_probe
from survey.scan.check import render_text
from survey.scan.pipeline import ScanOptions, run_scan
from survey.scan.scanner import DomainScanner, scan_chunk, verdicts_to_table
from survey.store.manifest import unresolved_rows
from survey.verdict.dkim import SelectorList
from survey.verdict.row import Verdict
from tests.dnsstub import DnsStub, Fault
from tests.keys import ed25519_key, rsa_key

DEFAULT = SelectorList.load("default")
WILD = "survey-wildcard-fixed"


@pytest.fixture(autouse=True)
def fixed_wildcard_label(monkeypatch: pytest.MonkeyPatch) -> None:
    """The random selector made known, so that the stub can answer it (or fail it)."""
    monkeypatch.setattr(dkim_probe, "wildcard_label", lambda: WILD)


def key(p: str, extra: str = "") -> list[bytes]:
    text = f"v=DKIM1; k={'ed25519' if len(p) < 60 else 'rsa'}; {extra}p={p}".encode()
    return [text[i : i + 255] for i in range(0, len(text), 255)]  # character-strings


def scan(
    stub: DnsStub,
    domains: list[str],
    selectors: SelectorList | None = DEFAULT,
    tries: int = 2,
) -> list[Verdict]:
    settings = ResolverSettings(nameservers=(stub.nameserver,), timeout=5.0, tries=tries)

    async def go() -> list[Verdict]:
        async with ResolverPool(settings) as pool:
            scanner = DomainScanner.standard(pool, report_auth=False, dkim=selectors)
            items = [InputDomain(d, None, None) for d in domains]
            return await scan_chunk(scanner, items, 200)

    return run(go())


def test_an_nxdomain_domainkey_costs_one_question_and_is_absent() -> None:
    with DnsStub({"plain.test": [[b"v=spf1 -all"]]}) as stub:
        (verdict,) = scan(stub, ["plain.test"])
    assert (verdict.dkim_domainkey_lookup, verdict.dkim_status) == ("nxdomain", "absent")
    assert stub.count("_domainkey.plain.test") == 1
    assert not [q for q in stub.log if q.name.endswith("._domainkey.plain.test")]
    assert verdict.type == "E"  # DMARC absent, SPF present: DKIM changes no type


def test_keys_found_with_their_types_sizes_revocations_and_providers() -> None:
    rsa2048, rsa1024_bare, ed = rsa_key(2048), rsa_key(1024, pkcs1=True), ed25519_key()
    txt = {
        "selector1-signed-test._domainkey.tenant.onmicrosoft.com": [key(rsa2048)],
        "default._domainkey.signed.test": [key(rsa1024_bare, "t=y; ")],
        "google._domainkey.signed.test": [key(ed)],
        "s1._domainkey.signed.test": [[b"v=DKIM1; p="]],
        "dkim._domainkey.signed.test": [[b"google-site-verification=abc"]],  # not a key
        "unlisted._domainkey.signed.test": [key(rsa2048)],  # no list holds it
    }
    cnames = {
        "selector1._domainkey.signed.test": (
            "selector1-signed-test._domainkey.tenant.onmicrosoft.com"
        )
    }
    with DnsStub(txt, nodata=["_domainkey.signed.test"], cnames=cnames) as stub:
        (v,) = scan(stub, ["signed.test"])
    assert (v.dkim_domainkey_lookup, v.dkim_status) == ("nodata", "found")
    assert v.dkim_selectors == ("default", "google", "s1", "selector1")
    assert v.dkim_key_types == ("rsa", "ed25519", "rsa", "rsa")
    assert v.dkim_key_bits == (1024, 256, None, 2048)
    assert v.dkim_revoked == ("s1",)
    # selector1 through its CNAME target; google and s1 by the selector itself
    assert v.dkim_providers == ("Google Workspace", "Microsoft 365", "SendGrid")
    assert v.dkim_errors == () and v.dkim_warnings == ("rsa_under_2048", "testing")
    # every selector of the list asked once, and the random one
    for selector in (*DEFAULT.selectors, WILD):
        assert stub.count(f"{selector}._domainkey.signed.test") == 1
    assert stub.count("unlisted._domainkey.signed.test") == 0


def test_the_selectors_are_asked_all_at_once() -> None:
    """One round for `_domainkey` (with DMARC and SPF) and one for every selector: with a
    delay per reply, the stub sees them all outstanding together."""
    txt = {"k1._domainkey.busy.test": [key(rsa_key(2048))]}
    with DnsStub(txt, nodata=["_domainkey.busy.test"], delay=0.2) as stub:
        (v,) = scan(stub, ["busy.test"])
    assert v.dkim_selectors == ("k1",) and v.dkim_providers == ("Mailchimp",)
    assert stub.max_outstanding >= len(DEFAULT.selectors) + 1


def test_a_wildcard_is_reported_not_counted() -> None:
    wild = key(rsa_key(2048))
    txt = {f"{s}._domainkey.wild.test": [wild] for s in (*DEFAULT.selectors, WILD)}
    with DnsStub(txt, nodata=["_domainkey.wild.test"]) as stub:
        (v,) = scan(stub, ["wild.test"])
    assert v.dkim_status == "none_found" and v.dkim_selectors == ()
    assert v.dkim_warnings == ("wildcard_domainkey",)


@pytest.mark.parametrize("failing", ["_domainkey.flaky.test", "s2._domainkey.flaky.test"])
def test_a_failed_lookup_is_error_and_unresolved_never_absent(failing: str) -> None:
    with DnsStub({"flaky.test": [[b"v=spf1 -all"]]}, nodata=["_domainkey.flaky.test"]) as stub:
        stub.fail(failing, Fault.SERVFAIL)
        (v,) = scan(stub, ["flaky.test"], tries=1)
    assert v.dkim_status == "error"
    assert v.type == "E"  # the RFC 7489 type does not depend on DKIM
    table = verdicts_to_table([v], dt.datetime.now(dt.UTC))
    assert unresolved_rows(table).to_pylist() == [True]  # --retry-unresolved asks again


def test_a_key_found_does_not_hide_a_failed_selector() -> None:
    txt = {"google._domainkey.half.test": [key(ed25519_key())]}
    with DnsStub(txt, nodata=["_domainkey.half.test"]) as stub:
        stub.fail("s2._domainkey.half.test", Fault.SERVFAIL)
        (v,) = scan(stub, ["half.test"], tries=1)
    assert v.dkim_status == "error" and v.dkim_selectors == ()


def test_no_dkim_asks_nothing_and_leaves_the_columns_empty() -> None:
    with DnsStub({"quiet.test": [[b"v=spf1 -all"]]}) as stub:
        (v,) = scan(stub, ["quiet.test"], selectors=None)
    assert stub.count("_domainkey.quiet.test") == 0
    assert (v.dkim_status, v.dkim_domainkey_lookup, v.dkim_selectors) == (None, None, ())
    table = verdicts_to_table([v], dt.datetime.now(dt.UTC))
    assert table.column("dkim_key_bits").type == pa.list_(pa.int32())


def test_the_extended_list_holds_what_the_issue_names() -> None:
    named = [
        "default",
        "dkim",
        "mail",
        "google",
        "selector1",
        "selector2",
        "k1",
        "k2",
        "k3",
        "s1",
        "s2",
        "smtpapi",
        "mandrill",
        "mailjet",
        "zendesk1",
        "zendesk2",
        "pm",
        "protonmail",
        "protonmail2",
        "protonmail3",
        "fm1",
        "fm2",
        "fm3",
        "key1",
        "key2",
        "sig1",
        "mxvault",
        "everlytickey1",
        "everlytickey2",
    ]
    extended = SelectorList.load("extended")
    assert set(named) <= set(extended.selectors)
    assert set(DEFAULT.selectors) < set(extended.selectors)
    assert DEFAULT.digest != extended.digest
    assert SelectorList.from_manifest(extended.manifest_entry()) == extended


def test_check_prints_every_selector_found() -> None:
    txt = {
        "google._domainkey.shown.test": [key(ed25519_key())],
        "s1._domainkey.shown.test": [[b"v=DKIM1; p="]],
        "selector1._domainkey.shown.test": [key(rsa_key(1024))],
    }
    with DnsStub(txt, nodata=["_domainkey.shown.test"]) as stub:
        (v,) = scan(stub, ["shown.test"])
    text = render_text(dataclasses.asdict(v))
    assert "  DKIM found (lookup of _domainkey nodata)" in text
    assert "    selector google: ed25519 256 bits" in text
    assert "    selector s1: revoked (empty p)" in text
    assert "    selector selector1: rsa 1024 bits" in text
    assert "    providers: Google Workspace, Microsoft 365, SendGrid" in text
    assert "    warning: rsa_under_2048 — an RSA key under 2048 bits" in text


def test_an_unusable_selector_file_fails_before_anything_is_written(tmp_path) -> None:
    source = tmp_path / "domains.txt"
    source.write_text("example.test\n")
    bad = tmp_path / "selectors.csv"
    bad.write_text("name\nx\n")  # no selector column
    for which in (str(bad), str(tmp_path / "missing.csv")):
        options = ScanOptions(source, tmp_path / "snaps", "x", dkim_selectors=which)
        with pytest.raises(InputError):
            run_scan(options)
        assert not (tmp_path / "snaps" / "x").exists()
    own = tmp_path / "own.csv"
    own.write_text("selector,provider\nmine,Own Provider\nSel.Two,\n")
    chosen = SelectorList.load(str(own))
    assert (chosen.selectors, dict(chosen.providers)) == (
        ("mine", "sel.two"),
        {"mine": "Own Provider"},
    )
