"""Repeated names merged into one, in bounded memory, in a fixed order.

Names come out in input order of their first occurrence, weights summed (None only when every
occurrence had none), the lowest rank kept. Up to `memory_limit` distinct names are held in a
dict; beyond that, all names are hash-partitioned (CRC-32) into 256 bucket files, each bucket is
de-duplicated on its own, and the de-duplicated buckets (each already in first-occurrence order)
are merged back by sequence number. Memory therefore stays at one bucket (~1/256 of the
distinct names) plus the merge heads, and the output order is the same on both paths, so the
same input gives the same chunks every time (`--resume` relies on it).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from survey.input.readers import InputDomain

SPILL_BUCKETS = 256

_Entry = tuple[int, int | None, int | None]  # first sequence number, lowest rank, summed weight


def _merge(known: _Entry, rank: int | None, weight: int | None) -> _Entry:
    seq, known_rank, known_weight = known
    if rank is not None:
        known_rank = rank if known_rank is None else min(known_rank, rank)
    if weight is not None:
        known_weight = weight if known_weight is None else known_weight + weight
    return seq, known_rank, known_weight


def _optional(text: str) -> int | None:
    return int(text) if text else None


def _spill_line(seq: int, domain: str, rank: int | None, weight: int | None) -> str:
    return f"{seq}\t{domain}\t{'' if rank is None else rank}\t{'' if weight is None else weight}\n"


def _read_spill(path: Path) -> Iterator[tuple[int, str, int | None, int | None]]:
    with path.open(encoding="ascii") as lines:
        for line in lines:
            seq, domain, rank, weight = line.rstrip("\n").split("\t")
            yield int(seq), domain, _optional(rank), _optional(weight)


class Deduplicator:
    """Merges repeated names; in memory up to `memory_limit` names, then via bucket files
    under `workdir`."""

    def __init__(self, workdir: Path, memory_limit: int) -> None:
        self._workdir = workdir
        self._memory_limit = memory_limit
        self._seen: dict[str, _Entry] = {}
        self._buckets: list[IO[str]] = []
        self._runs: list[Path] = []
        self._seq = 0
        self.duplicates = 0

    def add(self, item: InputDomain) -> None:
        self._seq += 1
        if self._buckets:
            self._bucket(item.domain).write(
                _spill_line(self._seq, item.domain, item.rank, item.weight)
            )
            return
        known = self._seen.get(item.domain)
        if known is None:
            self._seen[item.domain] = (self._seq, item.rank, item.weight)
            if len(self._seen) > self._memory_limit:
                self._spill()
        else:
            self._seen[item.domain] = _merge(known, item.rank, item.weight)
            self.duplicates += 1

    def _bucket(self, domain: str) -> IO[str]:
        return self._buckets[zlib.crc32(domain.encode("ascii")) % SPILL_BUCKETS]

    def _spill(self) -> None:
        paths = [self._workdir / f"bucket-{n:03d}.tsv" for n in range(SPILL_BUCKETS)]
        self._buckets = [path.open("w", encoding="ascii") for path in paths]
        for domain, (seq, rank, weight) in self._seen.items():
            self._bucket(domain).write(_spill_line(seq, domain, rank, weight))
        self._seen = {}

    def finish(self) -> None:
        """De-duplicate each bucket into a run file in first-occurrence order."""
        for bucket in self._buckets:
            empty = bucket.tell() == 0
            bucket.close()
            if empty:
                Path(bucket.name).unlink()
            else:
                self._runs.append(self._dedup_bucket(Path(bucket.name)))
        self._buckets = []

    def _dedup_bucket(self, path: Path) -> Path:
        seen: dict[str, _Entry] = {}
        for seq, domain, rank, weight in _read_spill(path):
            known = seen.get(domain)
            seen[domain] = (seq, rank, weight) if known is None else _merge(known, rank, weight)
            self.duplicates += known is not None
        run = path.with_suffix(".run")
        with run.open("w", encoding="ascii") as out:
            out.writelines(_spill_line(s, d, r, w) for d, (s, r, w) in seen.items())
        path.unlink()
        return run

    def entries(self) -> Iterator[InputDomain]:
        """All distinct names in order of first occurrence."""
        if not self._runs:
            for domain, (_seq, rank, weight) in self._seen.items():
                yield InputDomain(domain, rank, weight)
            return
        for _seq, domain, rank, weight in heapq.merge(*map(_read_spill, self._runs)):
            yield InputDomain(domain, rank, weight)
