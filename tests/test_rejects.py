"""Rejects: every reason documented, line numbers kept, rejects.csv with formulas defused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from input_files import write

from survey.input.rejects import REJECT_REASONS
from survey.input.stream import InputCounts, read_domains


def test_every_reason_is_documented() -> None:
    assert all(REJECT_REASONS[code] for code in REJECT_REASONS)
    assert {"line_too_long", "bad_rank", "bad_weight", "invalid_encoding"} <= REJECT_REASONS.keys()


REJECTING = (
    b"example.com\n"  # 1
    b"=cmd|' /C calc'!A0\n"  # 2
    b"-lead.example\n"  # 3
    b"caf\xe9.example\n"  # 4: Latin-1, not UTF-8
    + b"a"
    * 10_000  # 5: a very long line, no crash
    + b"\n192.0.2.7\n"  # 6
    b"com\n"  # 7
    b"ok.example\n"  # 8
)


@pytest.mark.parametrize("gz", [False, True])
def test_rejects_carry_line_numbers_and_go_to_csv(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path, "l.txt", REJECTING, gz)
    out = tmp_path / "rejects.csv"
    with read_domains(path, rejects_to=out) as stream:
        items = [item.domain for chunk in stream for item in chunk]
        rejects = stream.rejects
        assert stream.counts == InputCounts(lines=8, accepted=2, rejected=6, duplicates=0)
    assert items == ["example.com", "ok.example"]
    assert [(r.line, r.reason) for r in rejects] == [
        (2, "invalid_character"),
        (3, "invalid_hyphen"),
        (4, "invalid_encoding"),
        (5, "line_too_long"),
        (6, "ip_address"),
        (7, "single_label"),
    ]
    assert rejects[2].text == "caf\\xe9.example"
    assert rejects[3].text == "a" * 256  # only the head of a too-long line is kept
    with out.open(encoding="utf-8", newline="") as saved:
        rows = list(csv.reader(saved))
    assert rows[0] == ["line", "text", "reason"]
    assert rows[1] == ["2", "'=cmd|' /C calc'!A0", "invalid_character"]  # formula defused
    assert rows[2] == ["3", "'-lead.example", "invalid_hyphen"]
    assert len(rows) == 7
