"""survey.dns.wire beyond TXT, against dnslib: A and MX answers (RFC 1035 §3.4.1, §3.3.9), the
CNAME chain's last name (`canonical`, RFC 1034 §3.6.2), the AD bit of a reply (RFC 4035
§3.2.3), and the DO, AD and CD bits of a query (RFC 3225 §3, RFC 6840 §5.7, RFC 4035 §3.2.2).

Replies are built by dnslib or by hand, never by the code under test."""

import struct

import pytest
from dnslib import CNAME, EDNS0, MX, QTYPE, RR, TXT, A, DNSHeader, DNSQuestion, DNSRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.dns import wire
from survey.dns.wire import QueryFlags, Reply
from survey.schema.values import Outcome

NAME = "example.com"
OK, NODATA = Outcome.OK, Outcome.NODATA


def reply(
    *answers: RR, qtype: int = QTYPE.TXT, rcode: int = 0, ad: int = 0, edns: bool = False
) -> bytes:
    header = DNSHeader(id=7, qr=1, rd=1, ra=1, rcode=rcode, ad=ad)
    record = DNSRecord(header, q=DNSQuestion(NAME, qtype))
    for answer in answers:
        record.add_answer(answer)
    if edns:
        record.add_ar(EDNS0(udp_len=1232))
    return bytes(record.pack())


def read(data: bytes, qtype: int = QTYPE.TXT) -> Reply:
    question = wire.question(NAME, qtype)
    assert wire.matches(data, question)
    return wire.read_answer(data, question)


def a(owner: str, address: str) -> RR:
    return RR(owner, QTYPE.A, ttl=60, rdata=A(address))


def mx(owner: str, preference: int, exchange: str) -> RR:
    return RR(owner, QTYPE.MX, ttl=60, rdata=MX(exchange, preference))


def txt(owner: str, text: bytes) -> RR:
    return RR(owner, QTYPE.TXT, ttl=60, rdata=TXT([text]))


def cname(owner: str, target: str) -> RR:
    return RR(owner, QTYPE.CNAME, ttl=60, rdata=CNAME(target))


# -- A and MX ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([a(NAME, "192.0.2.1")], Reply(OK, ("192.0.2.1",))),
        ([a(NAME, "192.0.2.1"), a(NAME, "198.51.100.7")], Reply(OK, ("192.0.2.1", "198.51.100.7"))),
        ([txt(NAME, b"v=spf1 -all")], Reply(NODATA)),  # another type at the name
        ([a("other.example", "192.0.2.9")], Reply(NODATA)),
        ([cname(NAME, "host.example.net"), a("host.example.net", "203.0.113.5")],
         Reply(OK, ("203.0.113.5",), "host.example.net")),
    ],
)  # fmt: skip
def test_address_answers(answers: list[RR], expected: Reply) -> None:
    assert read(reply(*answers, qtype=QTYPE.A), QTYPE.A) == expected


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([mx(NAME, 10, "mx1.example.com"), mx(NAME, 20, "MX2.Example.NET.")],
         Reply(OK, ("mx1.example.com", "mx2.example.net"))),
        ([mx(NAME, 10, "same.example"), mx(NAME, 20, "same.example")],
         Reply(OK, ("same.example", "same.example"))),  # records are counted, repeats kept
        ([mx(NAME, 0, ".")], Reply(OK, (".",))),  # a null MX (RFC 7505)
        ([a(NAME, "192.0.2.1")], Reply(NODATA)),
        ([cname(NAME, "mail.example.org"), mx("mail.example.org", 5, "in.example.org")],
         Reply(OK, ("in.example.org",), "mail.example.org")),
    ],
)  # fmt: skip
def test_mx_answers(answers: list[RR], expected: Reply) -> None:
    assert read(reply(*answers, qtype=QTYPE.MX), QTYPE.MX) == expected


def test_a_compressed_mx_exchange_is_read() -> None:
    # dnslib compresses "mx.example.com" against the question's name: a pointer in the RDATA.
    data = reply(mx(NAME, 10, "mx.example.com"), qtype=QTYPE.MX)
    assert b"\x02mx\xc0\x0c" in data
    assert read(data, QTYPE.MX).records == ("mx.example.com",)


def hand_built(rtype: int, rdata: bytes, qtype: int) -> bytes:
    question = wire.question(NAME, qtype)
    record = b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata
    return struct.pack("!HHHHHH", 7, 0x8180, 1, 1, 0, 0) + question + record


@pytest.mark.parametrize(
    ("rtype", "rdata"),
    [
        (QTYPE.A, b"\xc0\x00\x02"),  # 3 octets
        (QTYPE.A, b"\xc0\x00\x02\x01\x00"),  # 5 octets
        (QTYPE.MX, b"\x00\x0a"),  # a preference, no name
        (QTYPE.MX, b"\x00\x0a\x02mx\x00\x00"),  # an octet after the name
        (QTYPE.MX, b"\x00\x0a\x02mx\xc0\x40"),  # a pointer forwards
    ],
)
def test_broken_a_and_mx_records_are_malformed(rtype: int, rdata: bytes) -> None:
    data = hand_built(rtype, rdata, rtype)
    with pytest.raises(wire.Malformed):
        wire.read_answer(data, wire.question(NAME, rtype))


@pytest.mark.parametrize(
    ("octets", "text"),
    [
        (b"\x03a.b\x03com\x00", "a\\.b.com"),
        (b'\x04x;"@\x00', 'x\\;\\"\\@'),
        (b"\x03a b\x00", "a b"),
        (b"\x02\x00\xff\x00", "\\000\\255"),
        (b"\x03A\\B\x00", "a\\\\b"),  # lower-cased, the backslash escaped
    ],
)
def test_exchange_names_in_master_file_form(octets: bytes, text: str) -> None:
    data = hand_built(QTYPE.MX, b"\x00\x0a" + octets, QTYPE.MX)
    assert wire.read_answer(data, wire.question(NAME, QTYPE.MX)).records == (text,)


# -- canonical -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "rcode", "expected"),
    [
        ([txt(NAME, b"x")], 0, Reply(OK, ("x",))),  # no CNAME: None
        ([cname(NAME, "a.net"), txt("a.net", b"x")], 0, Reply(OK, ("x",), "a.net")),
        ([cname(NAME, "A.Net"), cname("a.net", "b.net"), txt("b.net", b"x")], 0,
         Reply(OK, ("x",), "b.net")),
        ([cname(NAME, "a.net")], 0, Reply(NODATA, (), "a.net")),  # nodata at the target
        ([cname(NAME, "a.net"), cname("a.net", NAME)], 0, Reply(NODATA, (), "a.net")),  # loop
        ([cname("other.example", "a.net"), txt("a.net", b"x")], 0, Reply(NODATA)),  # off chain
        ([cname(NAME, "a.net")], 3, Reply(Outcome.NXDOMAIN)),  # NXDOMAIN: not kept
        ([cname(NAME, "a.net")], 2, Reply(Outcome.SERVFAIL)),
    ],
)  # fmt: skip
def test_canonical_is_the_end_of_the_chain_followed(
    answers: list[RR], rcode: int, expected: Reply
) -> None:
    assert read(reply(*answers, rcode=rcode)) == expected


def test_read_txt_is_read_answer_without_chain_or_ad() -> None:
    data = reply(cname(NAME, "a.net"), txt("a.net", b"x"), ad=1)
    assert wire.read_txt(data, wire.question(NAME)) == (OK, ("x",))


# -- the AD bit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "rcode", "outcome"),
    [
        ([txt(NAME, b"v=spf1 -all")], 0, OK),
        ([], 0, NODATA),
        ([], 3, Outcome.NXDOMAIN),  # an authenticated denial (RFC 4035 §3.2.3)
    ],
)
@pytest.mark.parametrize("ad", [0, 1])
def test_the_ad_bit_is_kept(answers: list[RR], rcode: int, outcome: Outcome, ad: int) -> None:
    got = read(reply(*answers, rcode=rcode, ad=ad, edns=True))
    assert (got.outcome, got.authenticated) == (outcome, bool(ad))


# -- DO, AD and CD in queries --------------------------------------------------------------


def sent(flags: QueryFlags, edns: bool = True) -> DNSRecord:
    return DNSRecord.parse(wire.query(0x4242, wire.question(NAME), edns, flags))


@pytest.mark.parametrize(
    ("flags", "bits"),
    [
        (QueryFlags.NONE, (0, 0, 0)),
        (QueryFlags.DNSSEC, (1, 1, 0)),  # DO and AD (RFC 6840 §5.7)
        (QueryFlags.CHECKING_DISABLED, (0, 0, 1)),
        (QueryFlags.DNSSEC | QueryFlags.CHECKING_DISABLED, (1, 1, 1)),
    ],
)
def test_query_flags_on_the_wire(flags: QueryFlags, bits: tuple[int, int, int]) -> None:
    query = sent(flags)
    [opt] = query.ar
    do = opt.ttl >> 15 & 1  # RFC 3225 §3: the first bit of the TTL's lower half
    assert (do, query.header.ad, query.header.cd) == bits
    assert query.header.rd == 1 and opt.ttl & 0xFFFF7FFF == 0  # version 0, no other Z bit
    question = wire.question(NAME)
    assert wire.query_tail(question, True, flags) == wire.query(0, question, True, flags)[2:]


def test_without_edns_do_goes_and_ad_stays() -> None:
    query = sent(QueryFlags.DNSSEC, edns=False)
    assert query.ar == [] and query.header.ad == 1


@pytest.mark.parametrize("qtype", [wire.TYPE_A, wire.TYPE_MX, wire.TYPE_TXT])
def test_qtype_of_a_question(qtype: int) -> None:
    assert wire.qtype_of(wire.question("_dmarc.example.com", qtype)) == qtype


# -- property: any bytes in reply to an A or MX question -----------------------------------


@settings(max_examples=300, deadline=None)
@given(
    qtype=st.sampled_from([wire.TYPE_A, wire.TYPE_MX]),
    flags=st.integers(0, 0xFFFF),
    counts=st.tuples(*[st.integers(0, 4)] * 3),
    body=st.binary(max_size=120),
)
def test_a_and_mx_replies_read_or_malformed(
    qtype: int, flags: int, counts: tuple, body: bytes
) -> None:
    question = wire.question(NAME, qtype)
    data = struct.pack("!HHHHHH", 7, (flags | 0x8000) & ~0x7800, 1, *counts) + question + body
    try:
        got = wire.read_answer(data, question)
    except wire.Malformed:
        return
    assert isinstance(got.outcome, Outcome) and all(isinstance(r, str) for r in got.records)
    assert got.canonical is None or isinstance(got.canonical, str)
