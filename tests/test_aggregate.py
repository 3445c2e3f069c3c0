"""The aggregate report parser: the RFCs' examples, report shapes seen in the wild, and every
way a document or a record is refused."""

from __future__ import annotations

import pytest

from survey.flows.aggregate import Record, Refusal, Report, SpfAuth, mail_from_result, parse_report
from survey.lab import hostile
from survey.schema.flow_values import (
    Alignment,
    DiscoveryMethod,
    Disposition,
    DkimResult,
    DmarcResult,
    FlowFormat,
    FlowReject,
    FlowWarning,
    OverrideReason,
    PolicyTesting,
    SpfResult,
    SpfScope,
)
from survey.schema.values import Policy

# RFC 9990's sample report (draft-ietf-dmarc-aggregate-reporting, dmarc-xml-0.2.xml).
RFC9990_SAMPLE = b"""<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
  <version>1.0</version>
  <report_metadata>
    <org_name>Sample Reporter</org_name>
    <email>report_sender@example-reporter.com</email>
    <extra_contact_info>...</extra_contact_info>
    <report_id>3v98abbp8ya9n3va8yr8oa3ya</report_id>
    <date_range><begin>302832000</begin><end>302918399</end></date_range>
    <generator>Example DMARC Aggregate Reporter v1.2</generator>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain><p>quarantine</p><sp>none</sp><np>none</np>
    <testing>n</testing><discovery_method>treewalk</discovery_method>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.123</source_ip><count>123</count>
      <policy_evaluated><disposition>pass</disposition><dkim>pass</dkim><spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers><envelope_from>example.com</envelope_from><header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <dkim><domain>example.com</domain><result>pass</result><selector>abc123</selector></dkim>
      <spf><domain>example.com</domain><result>fail</result></spf>
    </auth_results>
  </record>
</feedback>
"""

# The RFC 7489 Appendix C shape as Outlook.com sends it (xsd/xsi declared, no namespace).
OUTLOOK = b"""<?xml version="1.0"?>
<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <version>1.0</version>
  <report_metadata><org_name>Outlook.com</org_name><email>dmarcreport@microsoft.com</email>
    <report_id>cfeafefe4129445e8c81018bd9177197</report_id>
    <date_range><begin>1711756800</begin><end>1711843200</end></date_range></report_metadata>
  <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>
    <sp>none</sp><pct>100</pct><fo>0</fo></policy_published>
  <record>
    <row><source_ip>100.24.188.149</source_ip><count>1</count>
      <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf>
      </policy_evaluated></row>
    <identifiers><envelope_to>hotmail.com</envelope_to><envelope_from>example.com</envelope_from>
      <header_from>example.com</header_from></identifiers>
    <auth_results><spf><domain>example.com</domain><scope>mfrom</scope><result>fail</result></spf>
    </auth_results>
  </record>
</feedback>
"""


def report(
    records: str,
    policy: str = "<domain>example.com</domain><p>reject</p>",
    root: str = "<feedback>",
    metadata: str = "<org_name>r.example</org_name><report_id>1</report_id>"
    "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>",
) -> bytes:
    return (
        f"{root}<report_metadata>{metadata}</report_metadata>"
        f"<policy_published>{policy}</policy_published>{records}</feedback>"
    ).encode()


def record(
    count: str = "3",
    evaluated: str = "<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>",
    identifiers: str = "<header_from>example.com</header_from>",
    auth: str = "<dkim><domain>example.com</domain><result>pass</result></dkim>",
) -> str:
    return (
        f"<record><row><source_ip>192.0.2.1</source_ip><count>{count}</count>"
        f"<policy_evaluated>{evaluated}</policy_evaluated></row>"
        f"<identifiers>{identifiers}</identifiers><auth_results>{auth}</auth_results></record>"
    )


def parsed(data: bytes) -> Report:
    result = parse_report(data)
    assert isinstance(result, Report), result
    return result


def only_record(data: bytes) -> Record:
    result = parsed(data)
    assert len(result.records) == 1, result
    return result.records[0]


def test_the_rfc9990_sample_keeps_its_new_fields() -> None:
    result = parsed(RFC9990_SAMPLE)
    assert result.format == FlowFormat.RFC9990
    assert result.metadata.org_name == "Sample Reporter"
    assert (result.metadata.begin, result.metadata.end) == (302832000, 302918399)
    policy = result.published
    assert (policy.domain, policy.p, policy.sp, policy.np) == (
        "example.com",
        Policy.QUARANTINE,
        Policy.NONE,
        Policy.NONE,
    )
    assert (
        policy.testing == PolicyTesting.NO and policy.discovery_method == DiscoveryMethod.TREEWALK
    )
    (row,) = result.records
    assert (row.count, row.source_ip, row.disposition) == (123, "192.0.2.123", Disposition.PASS)
    assert (row.reported_dkim, row.reported_spf) == (DmarcResult.PASS, DmarcResult.FAIL)
    assert row.dkim[0].domain == "example.com" and row.dkim[0].selector == "abc123"
    assert row.dkim[0].result == DkimResult.PASS
    assert row.spf == (SpfAuth("example.com", None, SpfResult.FAIL),)
    assert row.envelope_from == "example.com" and result.warnings == ()


def test_the_rfc7489_shape_of_outlook() -> None:
    result = parsed(OUTLOOK)
    assert result.format == FlowFormat.RFC7489
    assert result.published.pct == 100 and result.published.adkim == Alignment.RELAXED
    assert result.published.fo == "0"
    (row,) = result.records
    assert row.dkim == () and row.envelope_to == "hotmail.com"
    assert row.spf == (SpfAuth("example.com", SpfScope.MFROM, SpfResult.FAIL),)


@pytest.mark.parametrize(
    "root",
    ["<feedback>", '<feedback xmlns="http://dmarc.org/dmarc-xml/0.1">', "<feedback xmlns:xsi="
     '"http://www.w3.org/2001/XMLSchema-instance">'],
)  # fmt: skip
def test_namespaces_read_the_same(root: str) -> None:
    assert only_record(report(record(), root=root)).count == 3


def test_a_prefixed_namespace_is_read() -> None:
    data = (
        b'<d:feedback xmlns:d="urn:ietf:params:xml:ns:dmarc-2.0"><d:record><d:row>'
        b"<d:count>4</d:count></d:row><d:identifiers><d:header_from>example.com</d:header_from>"
        b"</d:identifiers></d:record></d:feedback>"
    )
    result = parsed(data)
    assert result.format == FlowFormat.RFC9990 and result.records[0].count == 4


def test_an_unknown_namespace_is_read_with_a_warning() -> None:
    result = parsed(report(record(), root='<feedback xmlns="urn:example:other">'))
    assert result.warnings == (FlowWarning.UNKNOWN_NAMESPACE,)
    assert result.format == FlowFormat.RFC7489


@pytest.mark.parametrize(
    ("evaluated", "disposition", "warnings"),
    [
        ("<disposition> Quarantine </disposition><dkim>PASS</dkim><spf>Fail</spf>",
         Disposition.QUARANTINE, ()),
        ("<disposition>monitor</disposition><dkim>pass</dkim><spf>pass</spf>",
         None, (FlowWarning.UNKNOWN_VALUE,)),
        ("<disposition></disposition><dkim>pass</dkim><spf>pass</spf>", None, ()),
    ],
)  # fmt: skip
def test_values_are_trimmed_lowered_and_closed(
    evaluated: str, disposition: Disposition | None, warnings: tuple[FlowWarning, ...]
) -> None:
    row = only_record(report(record(evaluated=evaluated)))
    assert row.disposition == disposition and row.warnings == warnings


def test_override_reasons_an_empty_one_skipped() -> None:
    evaluated = (
        "<disposition>none</disposition><dkim>fail</dkim><spf>fail</spf>"
        "<reason><type>forwarded</type><comment>list</comment></reason>"
        "<reason><type>policy_test_mode</type></reason><reason><type></type></reason>"
    )
    row = only_record(report(record(evaluated=evaluated)))
    assert row.reasons == (OverrideReason.FORWARDED, OverrideReason.POLICY_TEST_MODE)


def test_several_dkim_results_in_order_and_one_without_domain_left_out() -> None:
    auth = (
        "<dkim><domain>example.com</domain><selector>s1</selector><result>fail</result></dkim>"
        "<dkim><domain>sendgrid.net</domain><result>pass</result></dkim>"
        "<dkim><selector>x</selector><result>pass</result></dkim>"
    )
    row = only_record(report(record(auth=auth)))
    assert [(d.domain, d.selector, d.result) for d in row.dkim] == [
        ("example.com", "s1", DkimResult.FAIL),
        ("sendgrid.net", None, DkimResult.PASS),
    ]
    assert row.warnings == (FlowWarning.DKIM_WITHOUT_DOMAIN,)


def test_empty_auth_results_and_text_between_elements() -> None:
    # parsedmarc's samples: "<sp>none</sp>11" and an empty <auth_results>.
    data = report(record(auth=""), policy="<domain>example.com</domain><p>none</p><sp>none</sp>11")
    row = only_record(data)
    assert row.dkim == () and row.spf == ()


@pytest.mark.parametrize(
    ("results", "chosen", "helo_only"),
    [
        ((("h.example", "helo"), ("m.example", "mfrom")), "m.example", False),
        ((("h.example", "helo"), ("u.example", None)), "u.example", False),
        ((("h.example", "helo"),), None, True),
        ((), None, False),
    ],
)
def test_dmarc_uses_the_mail_from_result(
    results: tuple[tuple[str, str | None], ...], chosen: str | None, helo_only: bool
) -> None:
    auths = tuple(
        SpfAuth(d, None if s is None else SpfScope(s), SpfResult.PASS) for d, s in results
    )
    found, only_helo = mail_from_result(auths)
    assert (None if found is None else found.domain) == chosen and only_helo == helo_only


@pytest.mark.parametrize("count", ["-3", "12abc", "", "1e3", "10000000000001", "٣"])
def test_a_bad_count_refuses_its_record_only(count: str) -> None:
    result = parsed(report(record("5") + record(count) + record("7")))
    assert [r.count for r in result.records] == [5, 7]
    assert [r.index for r in result.records] == [1, 3]
    (refusal,) = result.refused
    assert (refusal.reason, refusal.record) == (FlowReject.BAD_COUNT, 2)
    assert result.record_count == 3


def test_a_record_without_header_from_is_refused() -> None:
    result = parsed(report(record(identifiers="<envelope_from>x.example</envelope_from>")))
    assert result.records == ()
    assert result.refused[0].reason == FlowReject.MISSING_HEADER_FROM


def test_count_zero_and_the_largest_count_are_read() -> None:
    result = parsed(report(record("0") + record("1000000000000")))
    assert [r.count for r in result.records] == [0, 10**12]


@pytest.mark.parametrize(
    ("begin", "end"), [("", "1"), ("x", "1"), ("1", "99999999999999"), ("17e8", "1")]
)
def test_a_bad_date_range_is_null_with_a_warning(begin: str, end: str) -> None:
    metadata = (
        f"<org_name>r</org_name><date_range><begin>{begin}</begin><end>{end}</end></date_range>"
    )
    result = parsed(report(record(), metadata=metadata))
    assert (result.metadata.begin, result.metadata.end) == (None, None)
    assert result.warnings == (FlowWarning.BAD_DATE_RANGE,)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (hostile.billion_laughs(), FlowReject.XML_FORBIDDEN),
        (hostile.external_entity(), FlowReject.XML_FORBIDDEN),
        (b"<!DOCTYPE feedback SYSTEM 'http://127.0.0.1:1/x.dtd'><feedback/>",
         FlowReject.XML_FORBIDDEN),
        (b"<!DOCTYPE feedback><feedback/>", FlowReject.XML_FORBIDDEN),
        (hostile.not_a_report(), FlowReject.NOT_AGGREGATE_REPORT),
        (b"<feedbacks/>", FlowReject.NOT_AGGREGATE_REPORT),
        (RFC9990_SAMPLE[: len(RFC9990_SAMPLE) // 2], FlowReject.XML_ERROR),
        (b"", FlowReject.XML_ERROR),
        (b"report.xml attached", FlowReject.XML_ERROR),
        (b"<feedback>\xff\xfe</feedback>", FlowReject.XML_ERROR),
        (b'<?xml version="1.0" encoding="klingon"?><feedback/>', FlowReject.XML_ERROR),
    ],
)  # fmt: skip
def test_documents_refused_whole(data: bytes, reason: FlowReject) -> None:
    result = parse_report(data)
    assert isinstance(result, Refusal) and result.reason == reason and result.record is None


def test_a_truncated_report_loses_its_records_with_it() -> None:
    data = report(record("5") + record("6"))
    result = parse_report(data[:-30])
    assert isinstance(result, Refusal) and result.reason == FlowReject.XML_ERROR


def test_utf16_reports_are_read() -> None:
    data = report(record()).decode()
    encoded = ('<?xml version="1.0" encoding="UTF-16"?>' + data).encode("utf-16")
    assert only_record(encoded).count == 3


def test_many_records_are_read_one_at_a_time() -> None:
    result = parsed(report(record("1") * 20_000))
    assert len(result.records) == 20_000 and sum(r.count for r in result.records) == 20_000
