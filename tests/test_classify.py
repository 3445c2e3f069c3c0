"""classify: lookup answers → verdict, per RFC 7489 §6.6.3 (policy discovery) and §7.1."""

from __future__ import annotations

import pytest

from survey.dns.outcome import TxtAnswer
from survey.schema.values import Outcome, Status
from survey.store.snapshot import COLUMNS
from survey.verdict import psl
from survey.verdict.authorization import authorization_names
from survey.verdict.classify import classify
from survey.verdict.policy import DomainLookups, needs_org_lookup
from survey.verdict.row import VERDICT_FIELDS, domain_type
from survey.verdict.vendors import VendorTable

OK, NX, NODATA = Outcome.OK, Outcome.NXDOMAIN, Outcome.NODATA
VALID_SPF = "v=spf1 -all"


def answer(name: str, *texts: str, outcome: Outcome | None = None) -> TxtAnswer:
    return TxtAnswer(name, outcome or (OK if texts else NODATA), tuple(texts))


def lookups(
    domain: str = "example.com",
    dmarc: tuple[str, ...] | Outcome = (),
    spf: tuple[str, ...] | Outcome = (VALID_SPF,),
    org: tuple[str, ...] | Outcome | None = None,
    auth: dict[str, TxtAnswer] | None = None,
) -> DomainLookups:
    def make(name: str, value: tuple[str, ...] | Outcome) -> TxtAnswer:
        if isinstance(value, Outcome):
            return TxtAnswer(name, value)
        return answer(name, *value)

    org_domain = psl.organizational_domain(domain)
    return DomainLookups(
        domain,
        org_domain,
        make(f"_dmarc.{domain}", dmarc),
        make(domain, spf),
        None if org is None else make(f"_dmarc.{org_domain}", org),
        auth or {},
    )


def verdict(**kwargs):
    return classify(lookups(**kwargs), psl.organizational_domain, VendorTable.load())


@pytest.mark.parametrize(
    ("dmarc", "spf", "expected"),
    [
        ("valid", "valid", "A"),
        ("valid", "invalid", "A"),
        ("invalid", "valid", "B"),
        ("valid", "absent", "C"),
        ("invalid", "absent", "D"),
        ("absent", "valid", "E"),
        ("absent", "invalid", "E"),
        ("absent", "absent", "F"),
        ("error", "valid", None),
        ("valid", "error", None),
        ("absent", "error", None),
    ],
)
def test_domain_type_table(dmarc: str, spf: str, expected: str | None) -> None:
    assert domain_type(Status(dmarc), Status(spf)) == expected


@pytest.mark.parametrize(
    ("kwargs", "status", "source", "effective", "type_", "errors"),
    [
        ({"dmarc": ("v=DMARC1; p=reject",)}, "valid", "domain", "reject", "A", ()),
        ({"dmarc": ("v=DMARC1; p=monitor",)}, "invalid", "domain", None, "B", ("p_invalid",)),
        ({"dmarc": NX}, "absent", None, None, "E", ()),
        ({"dmarc": NX, "spf": NX}, "absent", None, None, "F", ()),
        ({"dmarc": ("v=spf1 -all",), "spf": ()}, "invalid", "domain", None, "D", ("spf_at_dmarc",)),
        (
            {"dmarc": ("v=DMARC1; p=none", "v=DMARC1; p=reject")},
            "invalid",
            "domain",
            None,
            "B",
            ("multiple_records",),
        ),
        ({"dmarc": Outcome.TIMEOUT}, "error", None, None, None, ()),
        ({"dmarc": Outcome.SERVFAIL, "spf": NX}, "error", None, None, None, ()),
        ({"spf": Outcome.REFUSED}, "absent", None, None, None, ()),
    ],
)
def test_apex_domain(kwargs, status, source, effective, type_, errors) -> None:
    v = verdict(**kwargs)
    assert (v.dmarc_status, v.dmarc_source, v.dmarc_effective_p, v.type) == (
        status,
        source,
        effective,
        type_,
    )
    assert v.dmarc_errors == errors


def test_failed_lookup_is_never_absent() -> None:
    for outcome in (Outcome.TIMEOUT, Outcome.SERVFAIL, Outcome.REFUSED, Outcome.ERROR):
        v = verdict(dmarc=outcome, spf=outcome)
        assert v.dmarc_status == "error" and v.spf_status == "error"
        assert v.type is None and v.report_type is None
        assert v.dmarc_lookup == str(outcome)


def test_subdomain_inherits_org_record_and_applies_sp() -> None:
    v = verdict(
        domain="mail.example.com",
        dmarc=NX,
        org=("v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com",),
    )
    assert (v.dmarc_status, v.dmarc_source, v.dmarc_effective_p) == (
        "valid",
        "organizational",
        "quarantine",
    )
    assert v.rua_vendors == ("self",) and v.report_type == "B"
    assert v.dmarc_org_lookup == "ok"


def test_subdomain_org_lookup_rules() -> None:
    sub = "news.example.co.uk"
    assert needs_org_lookup(sub, "example.co.uk", answer(f"_dmarc.{sub}", outcome=NX))
    assert not needs_org_lookup(sub, "example.co.uk", answer("x", "v=DMARC1; p=none"))
    assert not needs_org_lookup(sub, "example.co.uk", answer("x", outcome=Outcome.TIMEOUT))
    several = answer("x", "v=DMARC1; p=none", "v=DMARC1; p=reject")
    assert not needs_org_lookup(sub, "example.co.uk", several)
    assert needs_org_lookup(sub, "example.co.uk", answer("x", "google-site-verification=abc"))
    assert not needs_org_lookup("example.co.uk", "example.co.uk", answer("x", outcome=NX))


def test_discarded_text_with_org_record_is_a_warning() -> None:
    v = verdict(domain="a.example.com", dmarc=("some-token=1",), org=("v=DMARC1; p=none",))
    assert (v.dmarc_status, v.dmarc_source) == ("valid", "organizational")
    assert "discarded_text" in v.dmarc_warnings


def test_discarded_text_without_org_record_is_invalid() -> None:
    v = verdict(domain="a.example.com", dmarc=("v=spf1 -all",), org=NX)
    assert (v.dmarc_status, v.dmarc_errors) == ("invalid", ("spf_at_dmarc",))


@pytest.mark.parametrize(
    ("org", "errors"),
    [
        (("v=dmarc1; p=reject",), ("v_invalid",)),
        (("v=spf1 -all",), ("spf_at_dmarc",)),
        (("p=none; v=DMARC1",), ("v_not_first",)),
        ((" v=DMARC1; p=reject",), ("leading_whitespace",)),
        (("token=1", "v=spf1 -all"), ("not_dmarc", "spf_at_dmarc")),
        (("v=DMARC1; p=monitor",), ("p_invalid",)),  # the same verdict for a DMARC error
    ],
)
def test_organizational_mistake_is_invalid_for_the_subdomain(org, errors) -> None:
    """Only non-DMARC text at the organizational domain's _dmarc is the organization's mistake,
    reached by §6.6.3: invalid, as it is for the organization itself; no policy applies."""
    sub = verdict(domain="a.example.com", dmarc=NX, org=org)
    itself = verdict(domain="example.com", dmarc=org)
    assert (sub.dmarc_status, sub.dmarc_source, sub.dmarc_errors) == (
        "invalid",
        "organizational",
        errors,
    )
    assert (itself.dmarc_status, itself.dmarc_errors) == ("invalid", errors)
    assert sub.dmarc_effective_p is None and sub.type == "B"
    assert sub.dmarc_record == "\n".join(org) and sub.dmarc_record_count == len(org)
    assert sub.dmarc_org_lookup == "ok" and sub.dmarc_warnings == ()


def test_own_and_organizational_non_dmarc_text() -> None:
    v = verdict(domain="a.example.com", dmarc=("token=1",), org=("v=spf1 -all",))
    assert (v.dmarc_status, v.dmarc_source) == ("invalid", "organizational")
    assert (v.dmarc_errors, v.dmarc_warnings) == (("spf_at_dmarc",), ("discarded_text",))


def test_failed_org_lookup_is_unresolved() -> None:
    v = verdict(domain="a.example.com", dmarc=NX, org=Outcome.TIMEOUT)
    assert v.dmarc_status == "error" and v.type is None
    assert v.dmarc_org_lookup == "timeout"


def test_report_types_and_vendors() -> None:
    record = (
        "v=DMARC1; p=none; rua=mailto:x@rua.agari.com,mailto:y@example.com;"
        " ruf=mailto:z@ag.dmarcian.com"
    )
    v = verdict(dmarc=(record,))
    assert v.report_type == "A"
    assert v.rua_vendors == ("Agari", "self") and v.ruf_vendors == ("dmarcian",)
    assert v.rua_hosts == ("rua.agari.com", "example.com")


def test_report_authorization_rfc7489_7_1() -> None:
    record = "v=DMARC1; p=none; rua=mailto:a@rua.agari.com,mailto:b@reports.example.net"
    base = lookups(dmarc=(record,))
    names = authorization_names(base, psl.organizational_domain)
    assert names == (
        "example.com._report._dmarc.rua.agari.com",
        "example.com._report._dmarc.reports.example.net",
    )
    auth = {names[0]: answer(names[0], "v=DMARC1"), names[1]: answer(names[1], outcome=NX)}
    v = verdict(dmarc=(record,), auth=auth)
    assert v.dmarc_status == "valid"
    assert "rua_unauthorized" in v.dmarc_warnings
    auth[names[1]] = answer(names[1], outcome=Outcome.TIMEOUT)
    v = verdict(dmarc=(record,), auth=auth)
    assert "report_auth_unresolved" in v.dmarc_warnings
    assert "rua_unauthorized" not in v.dmarc_warnings


def test_spf_several_records_is_invalid_not_absent() -> None:
    v = verdict(dmarc=NX, spf=("v=spf1 -all", "v=spf1 ~all"))
    assert (v.spf_status, v.type, v.spf_record_count) == ("invalid", "E", 2)
    assert v.spf_errors == ("multiple_records",)


def test_domains_sharing_a_record_each_get_their_own_vendors() -> None:
    """Discovery is shared between domains with the same answers; what depends on the domain
    (self or other, §7.1 names) is not."""
    record = ("v=DMARC1; p=none; rua=mailto:d@example.com",)
    own = verdict(domain="example.com", dmarc=record)
    other = verdict(domain="other.org", dmarc=record)
    assert (own.rua_vendors, other.rua_vendors) == (("self",), ("other",))
    assert own.dmarc_status == other.dmarc_status == "valid"
    assert (
        authorization_names(lookups(domain="example.com", dmarc=record), psl.organizational_domain)
        == ()
    )
    assert authorization_names(
        lookups(domain="other.org", dmarc=record), psl.organizational_domain
    ) == ("other.org._report._dmarc.example.com",)


def test_verdict_is_the_same_when_answers_repeat() -> None:
    """The caches behind classify (kept from an answer's second sighting on) change nothing."""
    kwargs = {
        "domain": "news.example.co.uk",
        "dmarc": ("token=1",),
        "spf": ("v=spf1 include:_spf.example.net ~all", "v=spf1 -all"),
        "org": ("v=DMARC1; p=reject; sp=quarantine; rua=mailto:r@rua.agari.com",),
    }
    first, second, third = (verdict(**kwargs) for _ in range(3))
    assert first == second == third
    assert (first.dmarc_source, first.dmarc_effective_p, first.dmarc_warnings) == (
        "organizational",
        "quarantine",
        ("discarded_text",),
    )
    assert (first.spf_status, first.spf_errors, first.rua_vendors) == (
        "invalid",
        ("multiple_records",),
        ("Agari",),
    )


def test_verdict_fields_are_the_snapshot_columns_in_order() -> None:
    """classify builds a Verdict by position; its fields are the schema's columns, in order."""
    assert tuple(c for c in COLUMNS if c != "scanned_at") == VERDICT_FIELDS
