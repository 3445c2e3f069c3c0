"""survey.dns.wire against dnslib: names on the wire (RFC 1035 §2.3.4, §3.1; IDNA A-labels), the
query it sends (RFC 1035 §4.1, RFC 6891 §6.1.2), which replies `matches` accepts (RFC 4343),
how `read_txt` reads them (RCODEs, TXT strings, CNAME chains per RFC 1034 §3.6.2, the EDNS
extended RCODE per RFC 6891 §6.1.3), and that a broken reply is `Malformed`, never a crash.

Replies are built by dnslib or by hand, never by the code under test; expected values come from
the RFCs, dnslib or the `idna` package."""

import struct

import idna
import pytest
from dnslib import CLASS, CNAME, EDNS0, QTYPE, RR, SOA, TXT, A, DNSHeader, DNSQuestion, DNSRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.dns import wire
from survey.schema.values import Outcome

NAME = "example.com"
Q = wire.question(NAME)
ANSWER_START = 12 + len(Q)  # the header, then our question echoed
TO_QNAME = b"\xc0\x0c"  # a compression pointer to the question's name


def reply(*answers: RR, rcode: int = 0, qname: str = NAME, qtype: int = QTYPE.TXT, **more) -> bytes:
    """A dnslib reply with `answers`; `more`: tc, opcode, auth (RRs), edns (an EDNS0)."""
    header = DNSHeader(id=7, qr=1, rd=1, ra=1, rcode=rcode, tc=more.get("tc", 0))
    header.opcode = more.get("opcode", 0)
    record = DNSRecord(header, q=DNSQuestion(qname, qtype))
    for rr in answers:
        record.add_answer(rr)
    for rr in more.get("auth", ()):
        record.add_auth(rr)
    if "edns" in more:
        record.add_ar(more["edns"])
    return bytes(record.pack())


def txt(owner: str, *strings: bytes, rclass: int = CLASS.IN) -> RR:
    return RR(owner, QTYPE.TXT, rclass=rclass, ttl=60, rdata=TXT(list(strings)))


def cname(owner: str, target: str) -> RR:
    return RR(owner, QTYPE.CNAME, ttl=60, rdata=CNAME(target))


def read(data: bytes) -> tuple[Outcome, tuple[str, ...]]:
    assert wire.matches(data, Q)
    return wire.read_txt(data, Q)


def labels(*parts: bytes) -> bytes:
    return b"".join(bytes((len(p),)) + p for p in parts) + b"\x00"


def rr(owner: bytes, rtype: int, rdata: bytes, rdlength: int | None = None) -> bytes:
    size = len(rdata) if rdlength is None else rdlength
    return owner + struct.pack("!HHIH", rtype, 1, 60, size) + rdata


def message(*records: bytes, ancount: int | None = None) -> bytes:
    """A hand-built NOERROR reply (QR RD RA) to our question with `records` as its answers."""
    count = len(records) if ancount is None else ancount
    return struct.pack("!HHHHHH", 7, 0x8180, 1, count, 0, 0) + Q + b"".join(records)


# -- encode_name ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("example.com", b"\x07example\x03com\x00"),
        ("example.com.", b"\x07example\x03com\x00"),
        ("_dmarc.Example.COM", b"\x06_dmarc\x07Example\x03COM\x00"),  # not LDH, case kept
        ("a", b"\x01a\x00"),
        ("bücher.example", b"\x0dxn--bcher-kva\x07example\x00"),
        (".", b"\x00"),
        ("a" * 63 + ".com", b"\x3f" + b"a" * 63 + b"\x03com\x00"),
    ],
)
def test_encode_name(name: str, expected: bytes) -> None:
    assert wire.encode_name(name) == expected


@pytest.mark.parametrize(
    "name",
    ["a..b", ".a", "..", "example.com..", "a" * 64 + ".com", "x." + "b" * 64],
)
def test_empty_or_long_labels_are_bad_names(name: str) -> None:
    with pytest.raises(wire.BadName):
        wire.encode_name(name)


def test_name_of_255_octets_on_the_wire_is_the_limit() -> None:
    # RFC 1035 §2.3.4: 255 octets or less, counting length octets and the root.
    at_limit = ".".join(["a" * 63] * 3 + ["a" * 61])
    assert len(wire.encode_name(at_limit)) == 255
    assert len(wire.encode_name(at_limit + ".")) == 255
    with pytest.raises(wire.BadName):
        wire.encode_name(".".join(["a" * 63] * 3 + ["a" * 62]))


@pytest.mark.parametrize("name", ["bücher.example", "münchen.de", "日本.jp", "_dmarc.ñandú.ar"])
def test_non_ascii_labels_become_a_labels(name: str) -> None:
    parts = [part if part.isascii() else idna.encode(part).decode() for part in name.split(".")]
    assert wire.encode_name(name) == labels(*(p.encode() for p in parts))


@pytest.mark.parametrize("name", ["a\u200db.example", "bü-.example", "ü" * 70 + ".example"])
def test_invalid_idna_label_is_bad_name(name: str) -> None:
    with pytest.raises(wire.BadName):
        wire.encode_name(name)


@pytest.mark.parametrize("dot", ["\u3002", "\uff0e", "\uff61"])
def test_ideographic_full_stop_never_hides_inside_a_label(dot: str) -> None:
    try:
        encoded = wire.encode_name(f"münchen{dot}de")
    except wire.BadName:
        return
    assert encoded == labels(b"xn--mnchen-3ya", b"de")


# -- query ---------------------------------------------------------------------------------


@pytest.mark.parametrize("qid", [0, 0x1234, 0xFFFF])
@pytest.mark.parametrize(
    ("name", "qname"),
    [("example.com", "example.com."), ("_dmarc.bücher.example", "_dmarc.xn--bcher-kva.example.")],
)
@pytest.mark.parametrize("edns", [True, False])
def test_query(qid: int, name: str, qname: str, edns: bool) -> None:
    data = wire.query(qid, wire.question(name), edns=edns)
    parsed = DNSRecord.parse(data)
    assert (parsed.header.id, parsed.header.qr, parsed.header.opcode) == (qid, 0, 0)
    assert data[2:4] == b"\x01\x00"  # RD alone: no AD, CD or Z bits
    [asked] = parsed.questions
    assert (str(asked.qname), asked.qtype, asked.qclass) == (qname, 16, 1)
    assert parsed.rr == [] and parsed.auth == []
    assert len(data) == 12 + len(wire.question(name)) + 11 * edns
    if not edns:
        assert parsed.ar == [] and data[10:12] == b"\x00\x00"
        return
    [opt] = parsed.ar  # RFC 6891 §6.1.2
    assert (opt.rtype, str(opt.rname)) == (41, ".")
    assert opt.rclass == 1232  # the offered UDP payload
    assert opt.ttl == 0  # extended RCODE 0, version 0, DO and Z clear
    assert opt.rdata == []  # no options


# -- matches -------------------------------------------------------------------------------


def test_matches_a_dnslib_reply_to_our_query() -> None:
    answer = DNSRecord.parse(wire.query(7, Q)).reply()
    answer.add_answer(txt(NAME, b"hi"))
    assert wire.matches(bytes(answer.pack()), Q)


def test_matches_ignores_case_of_the_echoed_name() -> None:  # RFC 4343 §3
    assert wire.matches(reply(qname="EXAMPLE.com"), Q)
    assert wire.matches(reply(qname="example.com"), wire.question("ExAmPlE.CoM"))


def set_qdcount(data: bytes, count: int) -> bytes:
    return data[:4] + struct.pack("!H", count) + data[6:]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(wire.query(7, Q), id="qr-0"),
        pytest.param(reply(opcode=2), id="opcode-status"),
        pytest.param(reply(opcode=4), id="opcode-notify"),
        pytest.param(set_qdcount(reply(), 0), id="qdcount-0"),
        pytest.param(set_qdcount(reply() + Q, 2), id="qdcount-2"),
        pytest.param(reply(qname="example.org"), id="other-name"),
        pytest.param(reply(qname="example.com.example.com"), id="longer-name"),
        pytest.param(reply(qtype=QTYPE.A), id="other-qtype"),
        pytest.param(reply()[: ANSWER_START - 1], id="shorter-than-question"),
        pytest.param(reply()[:11], id="shorter-than-header"),
    ],
)
def test_matches_rejects(data: bytes) -> None:
    assert not wire.matches(data, Q)


def test_matches_folds_case_in_the_name_only() -> None:
    assert not wire.matches(reply(qtype=97), wire.question(NAME, qtype=65))


# -- read_txt: outcomes --------------------------------------------------------------------

RCODE_OUTCOMES = {0: Outcome.NODATA, 2: Outcome.SERVFAIL, 3: Outcome.NXDOMAIN, 5: Outcome.REFUSED}


@pytest.mark.parametrize("code", range(16))
def test_every_rcode_has_an_outcome(code: int) -> None:
    # RFC 1035 §4.1.1 / RFC 6895 §2.3: FORMERR, NOTIMP, YXDOMAIN, NOTAUTH... are all errors;
    # a TXT answer does not rescue a failing RCODE.
    answers = (txt(NAME, b"x"),) if code else ()
    data = reply(*answers, rcode=code)
    assert wire.rcode(data) == code
    assert read(data) == (RCODE_OUTCOMES.get(code, Outcome.ERROR), ())


@pytest.mark.parametrize(
    ("answers", "texts"),
    [
        ([txt(NAME, b"v=spf1 ", b"a:x.example", b" -all")], ("v=spf1 a:x.example -all",)),
        ([txt(NAME, b"second"), txt(NAME, b"first")], ("second", "first")),
        ([txt(NAME, b"")], ("",)),
        ([txt(NAME, b"a" * 255, b"b" * 255)], ("a" * 255 + "b" * 255,)),
        ([txt(NAME, "é".encode())], ("é",)),
        ([txt("ExAmPlE.CoM", b"x")], ("x",)),  # RFC 4343 §3
        ([txt(NAME, b"ch", rclass=CLASS.CH), txt(NAME, b"in")], ("in",)),
        ([txt("other.example", b"no"), txt(NAME, b"yes")], ("yes",)),
        ([cname(NAME, "a.example.net"), txt("a.example.net", b"one")], ("one",)),
        ([cname(NAME, "a.net"), cname("a.net", "b.net"), txt("b.net", b"two")], ("two",)),
        ([txt("b.net", b"two"), cname("a.net", "b.net"), cname(NAME, "a.net")], ("two",)),
        ([cname(NAME, "A.Example.NET"), txt("a.example.net", b"case")], ("case",)),
        ([cname(NAME, "a.net"), txt("a.net", b"on"), txt("b.net", b"off")], ("on",)),
    ],
)
def test_texts(answers: list[RR], texts: tuple[str, ...]) -> None:
    # Strings of one RR joined without separator (RFC 7208 §3.3), one text per RR in order,
    # the chain followed inside the answer (RFC 1034 §3.6.2), names compared per RFC 4343.
    assert read(reply(*answers)) == (Outcome.OK, texts)


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([], id="empty"),
        pytest.param([txt("other.example", b"x")], id="txt-elsewhere"),
        pytest.param([txt(NAME, b"x", rclass=CLASS.CH)], id="class-ch"),
        pytest.param([cname(NAME, "a.net"), txt("b.net", b"x")], id="txt-off-chain"),
        pytest.param([cname(NAME, "a.net")], id="cname-to-nothing"),
        pytest.param([cname(NAME, "a.net"), cname("a.net", NAME), txt("z.net", b"x")], id="loop"),
        pytest.param(
            [cname(NAME, "a."), cname("a.", "b."), cname("b.", "a."), txt("z.", b"x")], id="loop2"
        ),
        pytest.param([RR(NAME, QTYPE.A, ttl=60, rdata=A("192.0.2.1"))], id="other-type"),
    ],
)
def test_nodata(answers: list[RR]) -> None:
    assert read(reply(*answers)) == (Outcome.NODATA, ())


def test_non_utf8_bytes_round_trip() -> None:
    raw = b"v=DMARC1; p=\xff\xfe; rua=mailto:d@\xe9xample.org"
    (outcome, (text,)) = read(reply(txt(NAME, raw[:10], raw[10:])))
    assert outcome is Outcome.OK
    assert text.encode("utf-8", "surrogateescape") == raw


SOA_RR = RR(NAME, QTYPE.SOA, ttl=60, rdata=SOA("ns.example.com", "host.example.com"))


@pytest.mark.parametrize(
    ("code", "answers", "auth", "expected"),
    [
        (0, (), (), Outcome.NODATA),
        (0, (), (SOA_RR,), Outcome.NODATA),
        (0, (txt(NAME, b"x"),), (), Outcome.OK),
        (3, (), (SOA_RR,), Outcome.NXDOMAIN),
    ],
)
@pytest.mark.parametrize("ext", [0, 1, 0xFF])
def test_extended_rcode(code: int, answers: tuple, auth: tuple, expected: Outcome, ext: int):
    # RFC 6891 §6.1.3: the OPT TTL's first octet holds the upper 8 bits of a 12-bit RCODE
    # (1 with header 0 = BADVERS); any non-zero value makes it something other than the header's.
    data = reply(*answers, rcode=code, auth=auth, edns=EDNS0(udp_len=1232, ext_rcode=ext))
    assert data[-11:-8] == b"\x00\x00\x29" and data[-6] == ext  # the OPT record, as built
    outcome, texts = read(data)
    assert outcome is (expected if ext == 0 else Outcome.ERROR)
    assert bool(texts) is (outcome is Outcome.OK)


def test_header_bits() -> None:
    assert wire.is_truncated(reply(tc=1)) and not wire.is_truncated(reply())
    assert wire.has_additional(reply(edns=EDNS0(udp_len=1232))) and not wire.has_additional(reply())


# -- Malformed -----------------------------------------------------------------------------

HELLO = rr(TO_QNAME, wire.TYPE_TXT, b"\x05hello")
FULL = labels(b"example", b"com")  # the question's name, spelled out again


def too_long_owner(first: int, second: int) -> bytes:
    """A CNAME whose target (141 octets) a TXT owner of `first` and `second` labels ends in."""
    target = labels(b"c" * 63, b"d" * 63)[:-1] + TO_QNAME  # 64 + 64 + 13 = 141 octets
    alias = rr(TO_QNAME, wire.TYPE_CNAME, target)
    owner = labels(b"e" * first, b"f" * second)[:-1] + struct.pack("!H", 0xC000 | ANSWER_START + 12)
    return message(alias, rr(owner, wire.TYPE_TXT, b"\x01x"))


def test_hand_built_messages_are_well_formed() -> None:
    # The baselines the broken replies below are bent from: dnslib and read_txt both read them.
    for data in (message(HELLO), message(rr(FULL, 16, b"\x05hello")), too_long_owner(56, 56)):
        DNSRecord.parse(data)
    assert read(message(HELLO)) == (Outcome.OK, ("hello",))
    assert read(too_long_owner(56, 56)) == (Outcome.NODATA, ())  # 255 octets: allowed


def pointer_to(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | offset)


MALFORMED = {
    "rdata-past-end": message(rr(TO_QNAME, wire.TYPE_TXT, b"\x05hello", rdlength=7)),
    "fixed-part-cut": message(HELLO[:8]),
    "ancount-past-end": message(HELLO, ancount=2),
    "string-past-rdata": message(rr(TO_QNAME, wire.TYPE_TXT, b"\x09hello"), HELLO),
    "string-one-past-rdata": message(rr(TO_QNAME, wire.TYPE_TXT, b"\x06hello"), HELLO),
    "pointer-forwards": message(
        rr(pointer_to(ANSWER_START + len(HELLO)), wire.TYPE_TXT, b"\x05hello"),
        rr(FULL, wire.TYPE_TXT, b"\x05hello"),
    ),
    "pointer-to-itself": message(rr(pointer_to(ANSWER_START), wire.TYPE_TXT, b"\x01x")),
    "pointer-loop-via-label": message(
        rr(TO_QNAME, wire.TYPE_CNAME, b"\x01a" + pointer_to(ANSWER_START + 12)), HELLO
    ),
    "pointer-past-end": message(HELLO, b"\xc0"),
    "label-type-0x40": message(rr(b"\x41a\x00", wire.TYPE_TXT, b"\x01x"), HELLO),
    "label-type-0x80": message(rr(b"\x81a\x00", wire.TYPE_TXT, b"\x01x"), HELLO),
    "name-over-255-by-pointers": too_long_owner(56, 57),
    "cname-rdata-longer-than-name": message(rr(TO_QNAME, wire.TYPE_CNAME, FULL + b"zz"), HELLO),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed(data: bytes) -> None:
    with pytest.raises(wire.Malformed):
        read(data)


CHAIN = reply(cname(NAME, "alias.example.net"), txt("alias.example.net", b"v=spf1 ", b"-all"))
EMPTY_EDNS = reply(auth=[SOA_RR], edns=EDNS0(udp_len=1232, ext_rcode=1))


@pytest.mark.parametrize(
    "data",
    [CHAIN, EMPTY_EDNS, reply(txt(NAME, b"x"), rcode=3, auth=[SOA_RR], edns=EDNS0(udp_len=512))],
    ids=["answers", "authority-and-opt", "nxdomain-all-sections"],
)
def test_every_cut_is_malformed_and_a_tail_is_ignored(data: bytes) -> None:
    # RFC 1035 §4.1: the counts and the octets agree in every section, whatever the RCODE;
    # what follows the last record is not read.
    whole = read(data)
    assert read(data + b"\xc0\xff\x00garbage") == whole
    for cut in range(ANSWER_START, len(data)):
        with pytest.raises(wire.Malformed):
            read(data[:cut])


# -- properties ----------------------------------------------------------------------------

SEEDS = (
    CHAIN,
    EMPTY_EDNS,
    reply(txt(NAME, b"a" * 40, b"b"), txt("ExAmPlE.com", b"\xff"), edns=EDNS0(udp_len=1232)),
    *(data for data in MALFORMED.values()),
)


def read_or_malformed(data: bytes) -> None:
    if not wire.matches(data, Q):
        return
    try:
        outcome, texts = wire.read_txt(data, Q)
    except wire.Malformed:
        return
    assert isinstance(outcome, Outcome) and all(isinstance(t, str) for t in texts)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 400),
    tail=st.binary(max_size=32),
)
def test_mutated_replies_read_or_malformed(seed: bytes, edits: list, cut: int, tail: bytes) -> None:
    data = bytearray(seed)
    for index, value in edits:
        data[index % len(data)] = value
    read_or_malformed(bytes(data[: max(cut, ANSWER_START)]) + tail)


@settings(max_examples=300, deadline=None)
@given(
    flags=st.integers(0, 0xFFFF),
    counts=st.tuples(*[st.integers(0, 5)] * 3),
    body=st.binary(max_size=120),
)
def test_random_records_read_or_malformed(flags: int, counts: tuple, body: bytes) -> None:
    data = struct.pack("!HHHHHH", 7, (flags | 0x8000) & ~0x7800, 1, *counts) + Q + body
    assert wire.matches(data, Q)
    read_or_malformed(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=12, max_size=80))
def test_header_readers_never_raise(data: bytes) -> None:
    assert isinstance(wire.matches(data, Q), bool)
    assert isinstance(wire.is_truncated(data), bool)
    assert isinstance(wire.has_additional(data), bool)
    assert 0 <= wire.rcode(data) <= 15


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_are_an_answer_or_malformed(data: bytes) -> None:
    # Whatever arrives, of any length: an outcome, or Malformed; never IndexError,
    # struct.error or UnicodeError.
    read_or_malformed(data)
    assert isinstance(wire.matches(data, Q), bool)
    assert isinstance(wire.is_bare_formerr(data), bool)
    for reader in (wire.is_truncated, wire.has_additional, wire.rcode):
        try:
            reader(data)
        except wire.Malformed:
            assert len(data) < 12  # only a datagram shorter than the header


@pytest.mark.parametrize("size", [0, 1, 2, 11])
def test_header_readers_refuse_a_short_datagram(size: int) -> None:
    for reader in (wire.is_truncated, wire.has_additional, wire.rcode):
        with pytest.raises(wire.Malformed, match="shorter than a DNS header"):
            reader(b"\x81" * size)
