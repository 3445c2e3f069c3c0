"""DKIM key records (survey/records/dkim.py): RFC 6376 §3.6.1 tags, RFC 8301 floors, RFC 8463."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keys import ed25519_key, rsa_512, rsa_key

from survey.records.dkim import parse_dkim_record
from survey.records.problem import Problem
from survey.schema.codes import DkimCode
from survey.schema.values import DkimKeyType, ProblemKind

RSA2048, RSA1024, RSA4096 = rsa_key(2048), rsa_key(1024), rsa_key(4096)
NO: frozenset[str] = frozenset()


def codes(problems: Iterable[Problem]) -> set[str]:
    return {p.code for p in problems}


# (record, key type, bits, errors, warnings)
CASES = [
    (f"v=DKIM1; k=rsa; p={RSA2048}", "rsa", 2048, NO, NO),
    (f"p={RSA2048}", "rsa", 2048, NO, NO),  # v and k are optional; rsa is the default
    (f"v=DKIM1; p={rsa_key(2048, pkcs1=True)}", "rsa", 2048, NO, NO),  # erratum 3017
    (f"v=DKIM1; p={RSA4096}", "rsa", 4096, NO, NO),
    (f"v=DKIM1; p={RSA1024}", "rsa", 1024, NO, {"rsa_under_2048"}),
    (f"v=DKIM1; p={rsa_512()}", "rsa", 512, {"rsa_under_1024"}, NO),
    (f"v=DKIM1; k=ed25519; p={ed25519_key()}", "ed25519", 256, NO, NO),
    (f"v=DKIM1; k=ed25519; p={RSA2048}", "ed25519", None, {"key_unparsable"}, NO),
    ("v=DKIM1; p=", "rsa", None, NO, NO),  # revoked (§3.6.1)
    ("v=DKIM1; k=rsa; p=", "rsa", None, NO, NO),
    ("v=DKIM1; k=dsa; p=AAAA", "unknown", None, {"unknown_key_type"}, NO),
    ("v=DKIM1; k=RSA; p=AAAA", "unknown", None, {"unknown_key_type"}, NO),  # plain-text, exact
    ("v=DKIM1", "rsa", None, {"p_missing"}, NO),
    ("v=DKIM1; p=not*base64", "rsa", None, {"p_not_base64"}, NO),
    ("v=DKIM1; p=AAAA", "rsa", None, {"key_unparsable"}, NO),
    (f"k=rsa; v=DKIM1; p={RSA2048}", "rsa", 2048, {"v_not_first"}, NO),
    (f"v=DKIM2; p={RSA2048}", "rsa", 2048, {"v_invalid"}, NO),
    (f"v=dkim1; p={RSA2048}", "rsa", 2048, {"v_invalid"}, NO),  # a string comparison (§3.6.1)
    (f"v=DKIM1; p={RSA2048}; p={RSA1024}", "rsa", 2048, {"duplicate_tag"}, NO),
    (f"v=DKIM1; P={RSA2048}", "rsa", None, {"p_missing"}, {"unknown_tag"}),  # case-sensitive
    (f"v=DKIM1; h=sha1; p={RSA2048}", "rsa", 2048, {"sha1_only"}, NO),
    (f"v=DKIM1; h=sha1:sha256; p={RSA2048}", "rsa", 2048, NO, NO),
    (f"v=DKIM1; h=sha256; p={RSA2048}", "rsa", 2048, NO, NO),
    (f"v=DKIM1; t=y; p={RSA2048}", "rsa", 2048, NO, {"testing"}),
    (f"v=DKIM1; t=y:s; p={RSA2048}", "rsa", 2048, NO, {"testing"}),
    (f"v=DKIM1; s=tlsrpt; p={RSA2048}", "rsa", 2048, NO, {"service_not_email"}),
    (f"v=DKIM1; s=email; n=notes here; p={RSA2048}", "rsa", 2048, NO, NO),
    (f"v=DKIM1; x=1; p={RSA2048}", "rsa", 2048, NO, {"unknown_tag"}),
    (f"v=DKIM1; p {RSA2048}", "rsa", None, {"tag_syntax", "p_missing"}, NO),
    ("v=spf1 include:_spf.example.com -all", "rsa", None, {"v_invalid", "p_missing"}, NO),
    ("v=DKIM1; p=\udcff", "rsa", None, {"tag_syntax", "p_not_base64"}, {"non_utf8"}),
]


@pytest.mark.parametrize(("text", "kind", "bits", "errors", "warnings"), CASES)
def test_key_records(text: str, kind: str, bits: int | None, errors, warnings) -> None:
    record = parse_dkim_record(text)
    assert (record.key_type, record.key_bits) == (DkimKeyType(kind), bits)
    assert codes(record.errors) == set(errors)
    assert codes(record.warnings) == set(warnings)
    assert record.valid == (not errors)


def test_folded_key_data_is_read_whole() -> None:
    folded = " \r\n\t".join(RSA2048[i : i + 64] for i in range(0, len(RSA2048), 64))
    assert parse_dkim_record(f"v=DKIM1; p={folded}").key_bits == 2048


def test_flags_and_lists() -> None:
    record = parse_dkim_record(f"v=DKIM1; h=sha256 : sha1; s=email:*; t=s; p={RSA2048}")
    assert record.hashes == ("sha256", "sha1") and record.services == ("email", "*")
    assert record.strict and not record.testing and not record.revoked
    assert parse_dkim_record("v=DKIM1; p=").revoked


def test_every_code_is_a_dkim_code_of_its_kind() -> None:
    for text, *_ in CASES:
        record = parse_dkim_record(text)
        assert all(DkimCode(p.code).kind is ProblemKind.ERROR for p in record.errors)
        assert all(DkimCode(p.code).kind is ProblemKind.WARNING for p in record.warnings)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_never_raises(text: str) -> None:
    record = parse_dkim_record(text)
    assert record.text == text


def test_a_64_kib_record_is_parsed_bounded() -> None:
    record = parse_dkim_record("v=DKIM1; p=" + "A" * 65_536)
    assert codes(record.errors) == {"key_unparsable"}
