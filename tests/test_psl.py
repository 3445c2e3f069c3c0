"""Organizational domains (RFC 7489 §3.2) against the Public Suffix List."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from survey.errors import InputError
from survey.input.names import normalise, validate
from survey.verdict import psl

#: tests/test_psl.txt of github.com/publicsuffix/list (CC0), as of its commit 6ca11f5d (2016),
#: unchanged on its main branch since.
VECTOR_FILE = Path(__file__).resolve().parent / "data" / "psl_test_vectors.txt"
_CHECK = re.compile(r"^checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);$", re.MULTILINE)


@pytest.fixture
def restore_default() -> Iterator[None]:
    """For tests that load another list: put the bundled one back afterwards."""
    yield
    psl.load()


# The test vectors of publicsuffix.org (tests/test_psl.txt); `None` means "is a public suffix",
# which this module answers with the name itself.
OFFICIAL_VECTORS = [
    ("COM", None),
    ("example.COM", "example.com"),
    ("WwW.example.COM", "example.com"),
    ("example", None),
    ("example.example", "example.example"),
    ("b.example.example", "example.example"),
    ("a.b.example.example", "example.example"),
    ("biz", None),
    ("a.b.domain.biz", "domain.biz"),
    ("uk.com", None),
    ("a.b.example.uk.com", "example.uk.com"),
    ("test.ac", "test.ac"),
    ("mm", None),
    ("c.mm", None),
    ("b.c.mm", "b.c.mm"),
    ("a.b.c.mm", "b.c.mm"),
    ("ac.jp", None),
    ("www.test.ac.jp", "test.ac.jp"),
    ("kyoto.jp", None),
    ("ide.kyoto.jp", None),
    ("a.b.ide.kyoto.jp", "b.ide.kyoto.jp"),
    ("c.kobe.jp", None),
    ("a.b.c.kobe.jp", "b.c.kobe.jp"),
    ("city.kobe.jp", "city.kobe.jp"),
    ("www.city.kobe.jp", "city.kobe.jp"),
    ("ck", None),
    ("test.ck", None),
    ("b.test.ck", "b.test.ck"),
    ("a.b.test.ck", "b.test.ck"),
    ("www.ck", "www.ck"),
    ("www.www.ck", "www.ck"),
    ("k12.ak.us", None),
    ("www.test.k12.ak.us", "test.k12.ak.us"),
    ("www.食狮.公司.cn", "xn--85x722f.xn--55qx5d.cn"),
    ("shishi.公司.cn", "shishi.xn--55qx5d.cn"),
    ("公司.cn", None),
    ("www.食狮.中国", "xn--85x722f.xn--fiqs8s"),
    ("www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
    ("xn--fiqs8s", None),
]


@pytest.mark.parametrize(("name", "expected"), OFFICIAL_VECTORS)
def test_official_vectors(name: str, expected: str | None) -> None:
    assert psl.organizational_domain(name) == (expected or normalise(name))


def _vectors() -> list[tuple[str, str | None]]:
    """The file's `checkPublicSuffix(name, registrable domain)` cases, but for the null input
    (this module takes strings); commented-out cases stay out."""
    found = _CHECK.findall(VECTOR_FILE.read_text(encoding="utf-8"))
    cases = [(a.strip("'"), None if b == "null" else b.strip("'")) for a, b in found if a != "null"]
    assert len(cases) == 77, "the vector file changed"
    return cases


def registrable_domain(name: str) -> str | None:
    """What checkPublicSuffix expects, from this module: None for a public suffix, else the
    organizational domain. A name with an empty label (the vectors' leading dot) is None too:
    the survey refuses it before any lookup (`validate`), and the lookup alone ignores the dot."""
    if validate(normalise(name)) == "empty_label":
        return None
    found = psl.organizational_domain(name)
    return None if found == psl.public_suffix(name) else found


@pytest.mark.parametrize(("name", "expected"), _vectors())
def test_publicsuffix_org_vectors(name: str, expected: str | None) -> None:
    assert registrable_domain(name) == (None if expected is None else normalise(expected))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mail.example.co.uk", "example.co.uk"),
        ("co.uk", "co.uk"),  # a bare public suffix is its own organizational domain
        ("WWW.Example.COM.", "example.com"),  # case and trailing dot
        ("www.bücher.de", "xn--bcher-kva.de"),  # U-labels compared as A-labels
        ("a.b.host.internal", "host.internal"),  # unlisted TLD: the implicit "*" rule
        # PRIVATE section included: each user site is its own organization.
        ("alice.github.io", "alice.github.io"),
        ("www.alice.github.io", "alice.github.io"),
        ("github.io", "github.io"),
        ("foo.blogspot.com", "foo.blogspot.com"),
        # Only *.compute.amazonaws.com and other longer rules are listed, not amazonaws.com:
        # a lookup taking every node on a rule's path for a rule (as publicsuffix2 2.2019 did)
        # would make foo.amazonaws.com its own organization.
        ("foo.amazonaws.com", "amazonaws.com"),
        ("a.b.compute.amazonaws.com", "a.b.compute.amazonaws.com"),  # *.compute.amazonaws.com
        ("b.compute.amazonaws.com", "b.compute.amazonaws.com"),
        ("", ""),
    ],
)
def test_organizational_domain(name: str, expected: str) -> None:
    assert psl.organizational_domain(name) == expected


@pytest.mark.usefixtures("restore_default")
def test_private_section_can_be_left_out() -> None:
    psl.load(private=False)
    assert psl.organizational_domain("alice.github.io") == "github.io"
    assert psl.organizational_domain("www.example.co.uk") == "example.co.uk"


def test_psl_date_is_the_version_line() -> None:
    assert psl.PSL_DATE is not None
    assert len(psl.PSL_DATE) == 10
    assert psl.psl_date() == psl.PSL_DATE


def _write_list(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "list.dat"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.usefixtures("restore_default")
def test_load_another_list_clears_the_cache(tmp_path: Path) -> None:
    assert psl.organizational_domain("a.b.example.com") == "example.com"
    custom = _write_list(tmp_path, "// VERSION: 2001-02-03_00-00-00_UTC\ncom\nexample.com\n")
    loaded = psl.load(custom)
    assert loaded.date == "2001-02-03"
    assert psl.psl_date() == "2001-02-03"
    assert psl.organizational_domain("a.b.example.com") == "b.example.com"


@pytest.mark.parametrize(
    ("rules", "name", "expected"),
    [
        ("a.b.c\n", "x.b.c", "b.c"),  # b.c is only on the path to a.b.c: not a suffix
        ("a.b.c\n", "x.a.b.c", "x.a.b.c"),
        ("*.b.c\n!w.b.c\n", "w.b.c", "w.b.c"),  # exception without a rule for b.c
        ("*.b.c\n!w.b.c\n", "x.w.b.c", "w.b.c"),
        ("*.b.c\n!w.b.c\n", "x.v.b.c", "x.v.b.c"),
        ("ελ\n", "www.παράδειγμα.ελ", "xn--hxajbheg2az3al.xn--qxam"),  # UTF-8 rules, A-labels
    ],
)
@pytest.mark.usefixtures("restore_default")
def test_trie_rules(tmp_path: Path, rules: str, name: str, expected: str) -> None:
    psl.load(_write_list(tmp_path, rules))
    assert psl.organizational_domain(name) == expected
    assert psl.psl_date() is None


@pytest.mark.parametrize("body", ["", "// only a comment\n"])
@pytest.mark.usefixtures("restore_default")
def test_list_without_rules_is_refused(tmp_path: Path, body: str) -> None:
    with pytest.raises(InputError):
        psl.load(_write_list(tmp_path, body))


@pytest.mark.parametrize(
    "body",
    [
        "com\na.*.example\n",  # a `*` that is not the leftmost label
        "com\nab\u200d.example\n",  # a U-label IDNA2008 refuses (ZWJ outside CONTEXTJ)
    ],
)
@pytest.mark.usefixtures("restore_default")
def test_rules_it_cannot_follow_are_refused(tmp_path: Path, body: str) -> None:
    with pytest.raises(InputError, match="rule"):
        psl.load(_write_list(tmp_path, body))


@pytest.mark.usefixtures("restore_default")
def test_missing_list_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        psl.load(tmp_path / "absent.dat")
