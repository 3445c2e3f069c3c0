"""De-duplication: merged weights and ranks, first-occurrence order, also via bucket files."""

from __future__ import annotations

from pathlib import Path

import pytest
from input_files import DEDUPLICATED, DUPLICATES, write

from survey.input.stream import InputCounts, InputDomain, read_domains


@pytest.mark.parametrize("memory_limit", [1, 2, 1_000])  # 1 and 2 take the bucket-file path
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 50_000])
def test_dedup_across_chunks(tmp_path: Path, memory_limit: int, chunk_size: int) -> None:
    path = write(tmp_path, "d.csv", DUPLICATES)
    with read_domains(path, chunk_size=chunk_size, memory_limit=memory_limit) as stream:
        chunks = list(stream)
        assert stream.counts == InputCounts(lines=7, accepted=7, rejected=0, duplicates=3)
        assert stream.counts.unique == 4
    assert all(len(chunk) <= chunk_size for chunk in chunks)
    assert [item for chunk in chunks for item in chunk] == DEDUPLICATED


def _big_list(count: int) -> bytes:
    """`count` Tranco rows where every third row repeats the name of the row before."""
    rows = [f"{n + 1},n{n - 1 if n % 3 == 2 else n}.example\n" for n in range(count)]
    return "".join(rows).encode("ascii")


def test_spilling_to_buckets_on_200k_lines(tmp_path: Path) -> None:
    """200k lines through the bounded-memory path (20k names held in memory at most)."""
    path = write(tmp_path, "big.csv", _big_list(200_000), gz=True)
    with read_domains(path, chunk_size=30_000, memory_limit=20_000) as stream:
        chunks = list(stream)
        counts = stream.counts
    assert [len(chunk) for chunk in chunks] == [30_000] * 4 + [13_334]
    assert counts == InputCounts(lines=200_000, accepted=200_000, rejected=0, duplicates=66_666)
    expected = (InputDomain(f"n{n}.example", n + 1, None) for n in range(200_000) if n % 3 != 2)
    assert [item for chunk in chunks for item in chunk] == list(expected)
