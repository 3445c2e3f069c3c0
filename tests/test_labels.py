"""Every problem code has a short label in English and in Japanese, one the fonts can draw, and
the README's label tables are these labels. A code added to any class of survey/schema/codes.py
(or a new class) fails here until it has its labels."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from survey.report import labels
from survey.report.canvas import FONTS, _covered
from survey.schema.codes import DmarcCode, ProblemCode, SpfCode

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def code_classes() -> list[type[ProblemCode]]:
    """Every class of problem codes, however deep."""
    found: list[type[ProblemCode]] = []
    waiting = list(ProblemCode.__subclasses__())
    while waiting:
        codes = waiting.pop(0)
        found.append(codes)
        waiting += codes.__subclasses__()
    return found


EVERY_CODE = [(codes, code) for codes in code_classes() for code in codes]


def columns(text: str) -> int:
    """Width in columns: a wide (CJK) character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@pytest.mark.parametrize(
    ("codes", "code"), EVERY_CODE, ids=lambda v: str(getattr(v, "__name__", v))
)
def test_every_code_has_a_short_label_in_both_languages(
    codes: type[ProblemCode], code: ProblemCode
) -> None:
    english, japanese = labels.PROBLEM_LABELS[codes][str(code)]
    assert english.strip() == english and english != str(code)
    assert japanese.strip() == japanese and japanese != str(code)
    assert columns(english) <= labels.MAX_LABEL and columns(japanese) <= labels.MAX_LABEL
    assert any(unicodedata.east_asian_width(c) in "WF" for c in japanese)  # it is Japanese


def test_labels_name_only_codes_that_exist() -> None:
    assert set(labels.PROBLEM_LABELS) == set(code_classes())
    for codes, named in labels.PROBLEM_LABELS.items():
        assert set(named) == {str(code) for code in codes}, codes.__name__


@pytest.mark.parametrize("codes", code_classes(), ids=lambda c: c.__name__)
def test_codes_of_one_class_read_differently(codes: type[ProblemCode]) -> None:
    for lang in labels.LANGS:
        shown = [labels.problem_label(codes, code, lang) for code in codes]
        assert len(set(shown)) == len(shown), lang


@pytest.mark.parametrize("lang", labels.LANGS)
def test_the_fonts_draw_every_label(lang: labels.Lang) -> None:
    drawable = _covered(tuple(FONTS[lang]))
    for named in labels.PROBLEM_LABELS.values():
        for pair in named.values():
            text = pair[labels.LANGS.index(lang)]
            assert all(ord(c) in drawable for c in text), text


@pytest.mark.parametrize("codes", code_classes(), ids=lambda c: c.__name__)
def test_the_readme_label_tables_are_the_labels(codes: type[ProblemCode]) -> None:
    assert labels.markdown(codes) in README


def test_charts_label_codes_and_keep_unknown_ones() -> None:
    assert labels.category_label("dmarc_problems", "p_invalid", "en") == "p=monitor, p=quarentena"
    assert labels.category_label("spf_problems", "multiple_records", "ja") == "SPF レコードが複数"
    assert (
        labels.category_label("dmarc_problems", "multiple_records", "en")
        == (labels.PROBLEM_LABELS[DmarcCode]["multiple_records"][0])
    )
    assert labels.problem_label(SpfCode, "zz_from_a_newer_survey", "ja") == "zz_from_a_newer_survey"
    assert labels.category_label("types", "A", "ja").startswith("A  DMARC あり")
