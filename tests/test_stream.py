"""The stream: options, final counts before the first chunk, the same chunks, temp files removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from input_files import DUPLICATES, TEXT, write

from survey.errors import InputError
from survey.input.stream import InputCounts, read_domains


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_domains(tmp_path / "absent.txt")
    with pytest.raises(InputError):
        read_domains(write(tmp_path, "l.txt", TEXT), chunk_size=0)


def test_same_input_gives_same_chunks(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", DUPLICATES, gz=True)
    with read_domains(path, chunk_size=3, memory_limit=2) as stream:
        first, again = list(stream), list(stream)  # iterating again replays the same chunks
    with read_domains(path, chunk_size=3, memory_limit=2) as other:
        assert list(other) == first == again


def test_counts_are_final_before_the_first_chunk(tmp_path: Path) -> None:
    with read_domains(write(tmp_path, "d.csv", DUPLICATES)) as stream:
        assert stream.counts.lines == 0
        stream.prepare()
        assert stream.counts == InputCounts(lines=7, accepted=7, rejected=0, duplicates=3)


def test_temp_files_are_removed_on_close(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    path = write(tmp_path, "d.csv", DUPLICATES)
    with read_domains(path, memory_limit=1, tmp_dir=scratch) as stream:
        list(stream)
        assert any(scratch.iterdir())
    assert not any(scratch.iterdir())
