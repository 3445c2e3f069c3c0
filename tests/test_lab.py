"""The offline lab: generation (deterministic, every case present, ground truth as the spec says),
the zone file, the dnslib server and Knot DNS answering over real loopback sockets."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from survey.errors import LabError
from survey.lab.generate import (
    DKIM_CASES,
    DMARC_CASES,
    EXPECTED_SCHEMA,
    MIN_PER_CASE,
    REPORT_CASES,
    SPF_CASES,
    SUB_CASES,
    LabPaths,
    generate_lab,
)
from survey.lab.knot import RMEM_DEFAULT, KnotServer, knotd_path, udp_sockets_bound
from survey.lab.serve import LabServer
from survey.lab.zonefile import load_zone

# fmt: off
SPEC_COLUMNS = [
    "domain", "org_domain", "dmarc_status", "dmarc_source", "dmarc_p", "dmarc_sp",
    "dmarc_effective_p", "dmarc_pct", "dmarc_errors", "dmarc_warnings", "spf_status", "spf_all",
    "spf_errors", "spf_warnings", "type", "report_type", "rua_vendors", "ruf_vendors", "dnssec",
    "dmarc9989_status", "dmarc9989_policy_domain", "dmarc9989_org_domain",
    "dmarc9989_effective_p", "dmarc9989_np", "dmarc9989_psd", "dmarc9989_t",
    "dmarc9989_errors", "dmarc9989_warnings", "dkim_domainkey_lookup", "dkim_status",
    "dkim_selectors", "dkim_key_types", "dkim_key_bits", "dkim_revoked", "dkim_providers",
    "dkim_errors", "dkim_warnings", "spf_lookups", "spf_void_lookups", "spf_result",
    "spf_result_reason", "spf_includes", "spf_unasked_terms",
]
# fmt: on


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabPaths:
    return generate_lab(2000, tmp_path_factory.mktemp("lab"), seed=1)


@pytest.fixture(scope="module")
def truth(lab: LabPaths) -> pd.DataFrame:
    expected = pq.read_table(lab.expected_parquet).to_pandas()
    return expected.merge(pq.read_table(lab.cases_parquet).to_pandas(), on="domain")


def _one(truth: pd.DataFrame, **cases: str) -> pd.Series:
    rows = truth
    for column, value in cases.items():
        rows = rows[rows[column] == value]
    return rows.iloc[0]


# --- generation ----------------------------------------------------------------------------


def _files(paths: LabPaths) -> dict[str, bytes]:
    names = ("root_zone", "domains_csv", "lab_json")
    return {name: getattr(paths, name).read_bytes() for name in names}


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first, second = (generate_lab(300, tmp_path / name, seed=7) for name in ("a", "b"))
    other = generate_lab(300, tmp_path / "c", seed=8)
    assert _files(first) == _files(second)
    assert pq.read_table(first.expected_parquet).equals(pq.read_table(second.expected_parquet))
    assert _files(first)["root_zone"] != _files(other)["root_zone"]


def test_generation_does_not_depend_on_the_process(tmp_path: Path) -> None:
    """The same seed gives the same lab in another process (string hashing is randomised per
    process: nothing may depend on the order of a set)."""
    generate_lab(600, tmp_path / "here", seed=9)
    there = tmp_path / "there"
    code = (
        f"from survey.lab.generate import generate_lab; generate_lab(600, {str(there)!r}, seed=9)"
    )
    names = ("root.zone", "domains.csv", "lab.json", "expected.parquet", "cases.parquet")
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        for name in names:
            assert (there / name).read_bytes() == (tmp_path / "here" / name).read_bytes(), name


def test_next_epoch_keeps_domains_and_changes_some(tmp_path: Path) -> None:
    now, later = (generate_lab(2000, tmp_path / str(e), seed=3, epoch=e) for e in (0, 1))
    assert now.domains_csv.read_bytes() == later.domains_csv.read_bytes()
    before = pq.read_table(now.expected_parquet).to_pylist()
    after = pq.read_table(later.expected_parquet).to_pylist()
    assert 0.03 < sum(b != a for b, a in zip(before, after, strict=True)) / len(before) < 0.15
    rejecting = [sum(r["dmarc_effective_p"] == "reject" for r in rows) for rows in (before, after)]
    assert rejecting[1] > rejecting[0]


@pytest.mark.parametrize(
    ("dimension", "cases"),
    [
        ("dmarc", DMARC_CASES),
        ("report", REPORT_CASES),
        ("spf", SPF_CASES),
        ("sub", SUB_CASES),
        ("dkim", DKIM_CASES),
    ],
)
def test_every_case_has_its_minimum(lab: LabPaths, dimension: str, cases: dict) -> None:
    counts = json.loads(lab.lab_json.read_text())["cases"][dimension]
    assert {case: counts.get(case, 0) >= MIN_PER_CASE for case in cases} == dict.fromkeys(
        cases, True
    )


def test_expected_has_the_snapshot_columns(lab: LabPaths) -> None:
    schema = pq.read_schema(lab.expected_parquet)
    assert schema.names == SPEC_COLUMNS
    assert schema.field("dmarc_pct").type == pa.int16()
    assert schema.field("dmarc_errors").type == pa.list_(pa.string())
    assert schema == EXPECTED_SCHEMA
    domains = pd.read_csv(lab.domains_csv)
    assert list(domains.columns) == ["domain", "messages", "rank"]
    assert sorted(domains["rank"]) == list(range(1, 2001))
    assert domains.messages.max() > 100 * domains.messages.median()  # heavy-tailed


@pytest.mark.parametrize(
    ("case", "status", "errors"),
    [
        ("absent", "absent", []),
        ("valid_none", "valid", []),
        ("split_strings", "valid", []),
        ("cname", "valid", []),
        ("spf_at_dmarc", "invalid", ["spf_at_dmarc"]),
        ("token_only", "invalid", ["not_dmarc"]),
        ("v_only", "invalid", ["p_missing"]),
        ("p_monitor", "invalid", ["p_invalid"]),
        ("p_colon", "invalid", ["p_missing", "tag_syntax"]),
        ("multiple_records", "invalid", ["multiple_records"]),
        ("v_lowercase", "invalid", ["v_invalid"]),
        ("v_not_first", "invalid", ["v_not_first"]),
        ("p_after_rua", "invalid", ["p_not_second"]),
        ("pct_150", "invalid", ["pct_invalid"]),
        ("rua_not_mailto", "invalid", ["rua_invalid"]),
        ("sp_invalid", "invalid", ["sp_invalid"]),
        ("np", "valid", []),  # np, psd, t: unknown tags to RFC 7489
        ("psd_n", "valid", []),
        ("t_test", "valid", []),
        ("no_p", "invalid", ["p_missing"]),
        ("leading_space", "invalid", ["leading_whitespace"]),
    ],
)
def test_dmarc_truth_of_organizational_domains(
    truth: pd.DataFrame, case: str, status: str, errors: list[str]
) -> None:
    rows = truth[(truth.dmarc_case == case) & truth.sub_case.isna()]
    assert set(rows.dmarc_status) == {status}
    assert {tuple(e) for e in rows.dmarc_errors} == {tuple(errors)}


@pytest.mark.parametrize(
    ("sub_case", "status", "source", "warning"),
    [
        ("inherit", "valid", "organizational", None),
        ("inherit_sp", "valid", "organizational", None),
        ("inherit_invalid", "invalid", "organizational", None),
        ("no_org_record", "absent", None, None),
        ("token_inherits", "valid", "organizational", "discarded_text"),
        ("token_no_org_record", "invalid", "domain", None),
        ("inherit_not_dmarc", "invalid", "organizational", None),  # issue 12
        ("inherit_multiple", "invalid", "organizational", None),
        ("own_multiple", "invalid", "domain", None),
        ("nonexistent", "valid", "organizational", "unknown_tag"),  # the parent's np
        ("mid_psd_n", "valid", "organizational", None),  # names in between: not asked
        ("deep_stop", "valid", "organizational", None),
    ],
)
def test_subdomain_truth(
    truth: pd.DataFrame, sub_case: str, status: str, source: str | None, warning: str | None
) -> None:
    rows = truth[truth.sub_case == sub_case]
    assert set(rows.dmarc_status) == {status}
    assert set(rows.dmarc_source.fillna("-")) == {source or "-"}
    assert all(warning in w for w in rows.dmarc_warnings) if warning else True
    if sub_case == "inherit_sp":  # sp applies to a record found at the organizational domain
        assert (rows.dmarc_effective_p == rows.dmarc_sp).all()


def _orgs(truth: pd.DataFrame, case: str) -> pd.DataFrame:
    """Organizational domains of a DMARC case, outside co.jp (whose PSD record applies)."""
    outside = ~truth.domain.str.endswith(".co.jp")
    return truth[(truth.dmarc_case == case) & truth.sub_case.isna() & outside]


@pytest.mark.parametrize(
    ("case", "status", "errors", "warning"),
    [
        ("absent", "absent", [], None),
        ("valid_none", "valid", [], None),
        ("v_only", "valid", [], "p_missing"),  # RFC 9989 §4.7: p is RECOMMENDED
        ("no_p", "valid", [], "p_missing"),
        ("p_colon", "invalid", ["tag_syntax"], "p_missing"),
        ("p_after_rua", "valid", [], None),  # only v must come first
        ("pct_150", "valid", [], "removed_tag"),
        ("pct_below_100", "valid", [], "removed_tag"),
        ("unknown_tag", "valid", [], "unknown_tag"),
        ("np", "valid", [], None),
        ("psd_n", "valid", [], None),
        ("t_test", "valid", [], None),
        ("p_monitor", "invalid", ["p_invalid"], None),
        ("sp_invalid", "invalid", ["sp_invalid"], None),
        ("multiple_records", "invalid", ["multiple_records"], None),
        ("token_only", "invalid", ["not_dmarc"], None),
        ("leading_space", "invalid", ["leading_whitespace"], None),
        ("discarded_token", "valid", [], "discarded_text"),
    ],
)
def test_rfc9989_truth_of_organizational_domains(
    truth: pd.DataFrame, case: str, status: str, errors: list[str], warning: str | None
) -> None:
    rows = _orgs(truth, case)
    assert len(rows) and set(rows.dmarc9989_status) == {status}
    assert {tuple(e) for e in rows.dmarc9989_errors} == {tuple(errors)}
    assert all(warning in w for w in rows.dmarc9989_warnings) if warning else True
    applies = rows[rows.dmarc9989_status != "absent"]
    assert (applies.dmarc9989_org_domain == applies.domain).all()


def test_rfc9989_test_mode_applies_one_level_below(truth: pd.DataFrame) -> None:
    rows = _orgs(truth, "t_test")
    below = {"reject": "quarantine", "quarantine": "none"}
    assert (rows.dmarc9989_effective_p == rows.dmarc_p.map(below)).all()
    assert set(rows.dmarc9989_t) == {"y"} and (rows.dmarc_effective_p == rows.dmarc_p).all()


def test_the_psd_record_applies_under_co_jp(truth: pd.DataFrame) -> None:
    rows = truth[
        truth.domain.str.endswith(".co.jp") & truth.sub_case.isna() & (truth.dmarc_case == "absent")
    ]
    assert len(rows) > 10 and set(rows.dmarc_status) == {"absent"}
    assert set(rows.dmarc9989_policy_domain) == {"co.jp"} and set(rows.dmarc9989_psd) == {"y"}
    assert (rows.dmarc9989_org_domain == rows.domain).all()
    # sp=none for the names that exist, np=reject for those that do not (no record at all)
    assert set(rows.dmarc9989_effective_p) == {"none", "reject"}
    gone = rows[rows.dmarc9989_effective_p == "reject"]
    assert set(gone.spf_status) == {"absent"}


def test_rfc9989_truth_of_the_sub_cases(truth: pd.DataFrame) -> None:
    def rows(case: str) -> pd.DataFrame:
        found = truth[truth.sub_case == case]
        assert len(found) >= MIN_PER_CASE, case
        return found

    gone = rows("nonexistent")  # np of the parent's record applies
    assert gone.dmarc9989_np.notna().all()
    assert (gone.dmarc9989_effective_p == gone.dmarc9989_np).all()
    deep = rows("deep_skip")  # 9+ labels: the 8-label name and its psd=n record are skipped
    assert (deep.domain.str.count(r"\.") >= 8).all()
    assert not (deep.dmarc9989_org_domain.str.count(r"\.") == 7).any()
    stop = rows("deep_stop")  # psd=n at the 7-label name, the walk's second question
    assert (stop.dmarc9989_org_domain.str.count(r"\.") == 6).all()
    assert (stop.dmarc9989_policy_domain == stop.dmarc9989_org_domain).all()
    dept = rows("mid_psd_n")
    assert (dept.dmarc9989_org_domain == "dept." + dept.org_domain).all()
    assert set(dept.dmarc9989_effective_p) == {"reject"}  # its sp
    for case in ("mid_multiple", "own_multiple", "inherit_multiple"):
        assert all("walk_discarded" in w for w in rows(case).dmarc9989_warnings), case
    mid = rows("mid_record")  # the organization's record if it has one, else the one between
    assert set(mid.dmarc9989_org_domain) <= {*mid.org_domain, *("corp." + mid.org_domain)}
    assert (mid.dmarc9989_org_domain == mid.dmarc9989_policy_domain).all()


def test_unauthorized_third_parties_warn(truth: pd.DataFrame) -> None:
    rows = truth[truth.dmarc_case.isin(["valid_none", "valid_reject", "valid_quarantine"])]
    by_case = rows.groupby("report_case").dmarc_warnings.apply(lambda w: {tuple(x) for x in w})
    assert by_case["rua_other_unauthorized"] == {("rua_unauthorized",)}
    assert by_case["ruf_other_unauthorized"] == {("ruf_unauthorized",)}
    assert by_case["rua_other_authorized"] == {()}
    assert by_case["rua_vendor"] == {()}


# --- zone and servers ----------------------------------------------------------------------


def test_zone_loads_with_every_domain(lab: LabPaths, truth: pd.DataFrame) -> None:
    zone = load_zone(lab.root_zone)
    with_spf = truth[truth.spf_status != "absent"].domain
    assert all(QTYPE.TXT in zone.records[f"{d}."] for d in with_spf)
    with_text = truth[truth.dmarc_case != "absent"].domain
    assert all(f"_dmarc.{d}." in zone.names for d in with_text)
    assert QTYPE.TXT in zone.records["_dmarc.co.jp."]
    gone = truth[truth.sub_case == "nonexistent"].domain
    assert len(gone) and not any(f"{d}." in zone.names for d in gone)


@pytest.fixture(scope="module", params=["dnslib", pytest.param("knot", marks=pytest.mark.knot)])
def server_port(request: pytest.FixtureRequest, lab: LabPaths) -> Iterator[int]:
    if request.param == "dnslib":
        with LabServer(lab.root_zone) as server:
            yield server.port
    elif knotd_path() is None:
        pytest.skip("knotd (Knot DNS) is not installed: apt-get install knot")
    else:
        with KnotServer(lab.out_dir) as knot:
            yield knot.port


def ask(port: int, name: str, qtype: str = "TXT", tcp: bool = False, edns: int = 0) -> DNSRecord:
    query = DNSRecord.question(name, qtype)
    if edns:
        query.add_ar(EDNS0(udp_len=edns))
    return DNSRecord.parse(query.send("127.0.0.1", port, tcp=tcp, timeout=5))


def _texts(reply: DNSRecord) -> list[str]:
    return [b"".join(rr.rdata.data).decode() for rr in reply.rr if rr.rtype == QTYPE.TXT]


def test_split_txt_comes_as_several_strings(server_port: int, truth: pd.DataFrame) -> None:
    reply = ask(server_port, f"_dmarc.{_one(truth, dmarc_case='split_strings').domain}")
    assert reply.header.aa and reply.header.rcode == RCODE.NOERROR
    assert len(reply.rr[0].rdata.data) == 2
    assert _texts(reply)[0].startswith("v=DMARC1") and "p=reject" in _texts(reply)[0]


def test_missing_name_is_nxdomain(server_port: int, truth: pd.DataFrame) -> None:
    reply = ask(server_port, f"_dmarc.{_one(truth, dmarc_case='absent').domain}")
    assert reply.header.rcode == RCODE.NXDOMAIN and not reply.rr
    assert [rr.rtype for rr in reply.auth] == [QTYPE.SOA]


@pytest.mark.parametrize(
    ("name", "qtype"),
    [("{spf}", "AAAA"), ("_report._dmarc.rua.agari.com", "TXT"), ("_dmarc.{dmarc}", "MX")],
)
def test_existing_name_without_the_type_is_nodata(
    server_port: int, truth: pd.DataFrame, name: str, qtype: str
) -> None:
    spf = _one(truth, spf_case="fail").domain
    dmarc = _one(truth, dmarc_case="valid_reject").domain
    reply = ask(server_port, name.format(spf=spf, dmarc=dmarc), qtype)
    assert reply.header.rcode == RCODE.NOERROR and not reply.rr
    assert [rr.rtype for rr in reply.auth] == [QTYPE.SOA]


def test_cname_is_followed(server_port: int, truth: pd.DataFrame) -> None:
    reply = ask(server_port, f"_dmarc.{_one(truth, dmarc_case='cname').domain}")
    assert [rr.rtype for rr in reply.rr] == [QTYPE.CNAME, QTYPE.TXT]
    assert "p=quarantine" in _texts(reply)[0]


# (case, status, selectors, key types, bits, revoked, providers, errors, warnings), as the
# RFCs and the README say of what each case writes
DKIM_TRUTH = {
    "absent": ("absent", [], [], [], [], [], [], []),
    "rsa512": ("found", ["default"], ["rsa"], [512], [], [], ["rsa_under_1024"], []),
    "rsa1024_pkcs1": (
        "found", None, ["rsa"], [1024], [], [], [], ["rsa_under_2048"],
    ),
    "rsa4096": ("found", ["dkim"], ["rsa"], [4096], [], [], [], []),
    "ed25519_dual": (
        "found", ["default", "dkim"], ["rsa", "ed25519"], [2048, 256], [], [], [], [],
    ),
    "revoked": ("found", None, ["rsa"], [None], None, [], [], []),
    "testing": ("found", ["google"], ["rsa"], [2048], [], ["Google Workspace"], [], ["testing"]),
    "mailchimp": ("found", ["k1"], ["rsa"], [2048], [], ["Mailchimp"], [], []),
    "sendgrid": ("found", ["s1", "s2"], ["rsa", "rsa"], [2048, 2048], [], ["SendGrid"], [], []),
    "amazonses": ("found", ["default"], ["rsa"], [2048], [], ["Amazon SES"], [], []),
    "unlisted": ("none_found", [], [], [], [], [], [], []),
    "not_a_key": ("none_found", [], [], [], [], [], [], []),
    "wildcard": ("none_found", [], [], [], [], [], [], ["wildcard_domainkey"]),
    "wildcard_with_key": (
        "found", ["default"], ["rsa"], [2048], [], [], [], ["wildcard_domainkey"],
    ),
    "multiple": ("found", ["default"], ["rsa"], [2048], [], [], [], ["multiple_records"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DKIM_TRUTH))
def test_dkim_truth(truth: pd.DataFrame, case: str) -> None:
    row = _one(truth, dkim_case=case)
    status, selectors, types, bits, revoked, providers, errors, warnings = DKIM_TRUTH[case]
    got = {c: row[f"dkim_{c}"] for c in ("key_types", "providers", "errors", "warnings")}
    assert row.dkim_status == status
    assert row.dkim_domainkey_lookup == ("nxdomain" if status == "absent" else "nodata")
    if selectors is not None:
        assert list(row.dkim_selectors) == selectors
    if revoked is None:
        revoked = list(row.dkim_selectors)
    assert list(row.dkim_revoked) == revoked
    bits_got = [None if b != b else int(b) for b in row.dkim_key_bits]  # NaN: a null element
    assert (list(got["key_types"]), bits_got) == (types, bits)
    assert [list(got[c]) for c in ("providers", "errors", "warnings")] == [
        providers,
        errors,
        warnings,
    ]


def test_m365_selectors_are_cnames_into_the_tenant(server_port: int, truth: pd.DataFrame) -> None:
    row = _one(truth, dkim_case="m365")
    assert "selector1" in row.dkim_selectors and list(row.dkim_providers) == ["Microsoft 365"]
    reply = ask(server_port, f"selector1._domainkey.{row.domain}", tcp=True)  # over 512 octets
    assert [rr.rtype for rr in reply.rr] == [QTYPE.CNAME, QTYPE.TXT]
    assert str(reply.rr[0].rdata.label).endswith(".onmicrosoft.com.")
    assert _texts(reply)[0].startswith("v=DKIM1; k=rsa; p=MII")


def test_a_domainkey_wildcard_answers_any_selector(server_port: int, truth: pd.DataFrame) -> None:
    domain = _one(truth, dkim_case="wildcard").domain
    for selector in ("google", "survey-wildcard-0123456789abcdef"):
        reply = ask(server_port, f"{selector}._domainkey.{domain}", tcp=True)
        assert _texts(reply)[0].startswith("v=DKIM1")
    absent = _one(truth, dkim_case="absent").domain
    assert ask(server_port, f"_domainkey.{absent}").header.rcode == RCODE.NXDOMAIN


def test_report_wildcard_answers_for_any_domain(server_port: int) -> None:
    reply = ask(server_port, "anything.example._report._dmarc.rua.agari.com")
    assert _texts(reply) == ["v=DMARC1"]
    assert str(reply.rr[0].rname) == "anything.example._report._dmarc.rua.agari.com."


@pytest.mark.parametrize(
    ("case", "edns", "truncated"),
    [("over_512", 0, True), ("over_512", 1232, False), ("over_1232", 1232, True)],
)
def test_large_answers_truncate_over_udp(
    server_port: int, truth: pd.DataFrame, case: str, edns: int, truncated: bool
) -> None:
    domain = _one(truth, spf_case=case).domain
    reply = ask(server_port, domain, edns=edns)
    assert bool(reply.header.tc) == truncated
    assert bool(reply.rr) != truncated
    full = ask(server_port, domain, tcp=True)
    assert not full.header.tc
    assert any(text.startswith("v=spf1 ip4:") and len(text) > 512 for text in _texts(full))


# --- server set-up -------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["192.0.2.1", "0.0.0.0", "example.com"])
def test_lab_server_refuses_non_loopback(lab: LabPaths, host: str) -> None:
    with pytest.raises(LabError, match="loopback"):
        LabServer(lab.root_zone, host=host)


def test_knot_without_zone_is_a_lab_error(tmp_path: Path) -> None:
    with pytest.raises(LabError):
        KnotServer(tmp_path).start()


@pytest.mark.knot
def test_knot_gets_the_receive_buffer_asked_for_and_the_default_is_put_back(lab: LabPaths) -> None:
    if knotd_path() is None:
        pytest.skip("knotd (Knot DNS) is not installed: apt-get install knot")
    before = RMEM_DEFAULT.read_text()
    with KnotServer(lab.out_dir) as plain:
        assert udp_sockets_bound(plain.port) == 2  # udp-workers: 2, one socket each
        default = plain.receive_buffers
    wanted = int(before) * 4
    with KnotServer(lab.out_dir, receive_buffer=wanted) as knot:
        raised = knot.receive_buffers
        assert ask(knot.port, ".", "SOA").header.rcode == RCODE.NOERROR
    assert RMEM_DEFAULT.read_text() == before  # only knotd's sockets got it
    if not default:
        pytest.skip("`ss` (iproute2) is not installed: the buffers cannot be read")
    assert default == [int(before)] * 2
    if os.access(RMEM_DEFAULT, os.W_OK):
        assert raised == [wanted] * 2
    else:  # not root: Knot keeps the default, and says so
        assert raised == default
