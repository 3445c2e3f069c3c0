"""The README documents every stable code: problem codes, reject reasons, snapshot columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey.input.rejects import REJECT_REASONS
from survey.records.dmarc import DMARC_CODES
from survey.records.dmarc9989 import DMARC9989_CODES
from survey.records.spf import SPF_CODES
from survey.schema.values import Outcome
from survey.store.snapshot import COLUMNS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize(
    "code",
    sorted(
        {*DMARC_CODES, *DMARC9989_CODES, *SPF_CODES, *REJECT_REASONS, *COLUMNS, *map(str, Outcome)}
    ),
)
def test_readme_documents(code: str) -> None:
    assert f"`{code}`" in README


def test_meanings_are_in_the_readme_tables() -> None:
    for table in (DMARC_CODES, DMARC9989_CODES, SPF_CODES, REJECT_REASONS):
        for code, meaning in table.items():
            assert f"| `{code}` |" in README and meaning in README, code
