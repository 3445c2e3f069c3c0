"""The tag=value lexer (RFC 6376 §3.2 / RFC 7489 §6.4) and the record-text helpers."""

import pytest

from survey.records.problem import Problem
from survey.records.tagvalue import Tag, excerpt, raw_byte_problem, split_tags

# (text, expected (name, value) pairs, expected problem codes in order)
LEXER_TABLE = [
    ("v=DMARC1; p=none", [("v", "DMARC1"), ("p", "none")], []),
    ("v=DMARC1; p=none;", [("v", "DMARC1"), ("p", "none")], []),  # trailing ";" allowed
    ("v=DMARC1; p=none; \t", [("v", "DMARC1"), ("p", "none")], []),
    ("v = DMARC1 ;\tp =  none", [("v", "DMARC1"), ("p", "none")], []),  # WSP around = and ;
    ("a=b c", [("a", "b c")], []),  # inner white space belongs to the value
    ("a=b=c", [("a", "b=c")], []),  # "=" is a VALCHAR
    ("a=", [("a", "")], []),  # tag-value may be empty
    ("A_1=x", [("a_1", "x")], []),  # ALNUMPUNC
    ("", [], ["tag_syntax"]),  # a tag-list holds at least one tag-spec
    (";", [], ["tag_syntax"]),
    ("a=1;;b=2", [("a", "1"), ("b", "2")], ["tag_syntax"]),  # empty tag-spec in the middle
    ("a=1; ; b=2", [("a", "1"), ("b", "2")], ["tag_syntax"]),
    ("a=1;;", [("a", "1")], ["tag_syntax"]),  # only one trailing ";"
    ("v=DMARC1; p:reject", [("v", "DMARC1")], ["tag_syntax"]),
    ("v=DMARC1; p reject", [("v", "DMARC1")], ["tag_syntax"]),
    ("1a=b", [], ["tag_syntax"]),  # tag-name starts with ALPHA
    ("a-b=c", [], ["tag_syntax"]),
    ("a b=c", [], ["tag_syntax"]),
    ("=c", [], ["tag_syntax"]),
    ("a=x\x00y", [("a", "x\x00y")], ["tag_syntax"]),  # not VALCHAR: kept, reported
    ("a=ü", [("a", "ü")], ["tag_syntax"]),
    ("a=\udce9", [("a", "\udce9")], ["tag_syntax"]),
    ("a=1; A=2", [("a", "1"), ("a", "2")], ["duplicate_tag"]),  # names case-insensitive
    ("a=1; a=2; a=3", [("a", "1"), ("a", "2"), ("a", "3")], ["duplicate_tag", "duplicate_tag"]),
    ("a=1;;b:2; a=\x01", [("a", "1"), ("a", "\x01")], ["tag_syntax"] * 3 + ["duplicate_tag"]),
]


@pytest.mark.parametrize(("text", "expected", "codes"), LEXER_TABLE)
def test_split_tags(text: str, expected: list[tuple[str, str]], codes: list[str]) -> None:
    tags, problems = split_tags(text)
    assert [(tag.name, tag.value) for tag in tags] == expected
    assert [problem.code for problem in problems] == codes


def test_raw_name_kept_and_name_lowered() -> None:
    tags, _ = split_tags("V=DMARC1; Rua=mailto:a@example.com")
    assert tags == (
        Tag(name="v", value="DMARC1", raw_name="V"),
        Tag(name="rua", value="mailto:a@example.com", raw_name="Rua"),
    )


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("a=1;;b=2", "empty tag at position 4"),
        ("v=DMARC1; p:reject", "no '=' in 'p:reject' at position 9"),
        ("a=1; 9x=2", "bad tag name '9x' at position 4"),
        ("a=x\x00", "tag 'a': character '\\x00' at position 3"),
        ("a=1; a=2", "tag 'a' again at position 4"),
    ],
)
def test_problem_context_names_tag_and_position(text: str, context: str) -> None:
    _, problems = split_tags(text)
    assert [problem.context for problem in problems] == [context]


def test_thousands_of_tags() -> None:
    text = "; ".join(f"t{i}=v{i}" for i in range(5000))
    tags, problems = split_tags(text)
    assert len(tags) == 5000 and problems == ()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("a\x00b\tc", "a\\x00b\\tc"),
        ("r\udce9sum\u00e9", "r\\udce9sumé"),  # raw bytes escaped, real text kept
        ("x" * 70, "x" * 60 + "…"),
    ],
)
def test_excerpt(text: str, shown: str) -> None:
    assert excerpt(text) == shown
    excerpt(text).encode("utf-8")  # storable as UTF-8


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("v=DMARC1; p=none", None),
        ("é and ü are fine", None),
        ("ab\udcff\udc80", Problem("non_utf8", "byte 0xFF at position 2")),
    ],
)
def test_raw_byte_problem(text: str, problem: Problem | None) -> None:
    assert raw_byte_problem(text) == problem
