"""CPU per domain of everything in a scan but DNS: record once, replay offline, time or profile.

    profile_pipeline.py record LAB OUT.pickle     scan LAB (served by Knot on loopback), keeping
                                                  every TxtAnswer by name and the input domains
    profile_pipeline.py replay OUT.pickle [--reps N] [--profile] [--keep PART.parquet]

`replay` feeds the recorded answers through a fake pool (each `txt()` a future already done)
into `DomainScanner` + `scan_chunk` + `verdicts_to_table` + `SnapshotWriter.write_part`: the
same code a scan runs, without the resolver. Each rep runs in a fresh process (cold parser and
PSL caches, as in a real run); the PSL and vendor table are loaded before the clock starts. It
prints CPU time (time.process_time) per stage, per domain, median of the reps. `--keep` writes
the part (with a fixed `scanned_at`) to compare two versions of the code row for row.
For measuring only: nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import json
import pickle
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FIXED_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def record(lab: Path, out: Path) -> None:
    from survey.dns import pool as resolver
    from survey.dns.settings import ResolverSettings
    from survey.input.stream import read_domains
    from survey.lab.knot import KnotServer
    from survey.scan.pipeline import ScanOptions, run_scan

    answers: dict[str, Any] = {}
    original = resolver.ResolverPool.txt

    def recording_txt(self: Any, name: str, *flags: Any) -> Any:
        future = original(self, name, *flags)
        future.add_done_callback(
            lambda f: answers.__setitem__(name, f.result()) if not f.cancelled() else None
        )
        return future

    resolver.ResolverPool.txt = recording_txt  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp, KnotServer(lab) as knot:
        settings = ResolverSettings(nameservers=(f"127.0.0.1:{knot.port}",))
        options = ScanOptions(lab / "domains.csv", Path(tmp), "rec", resolver=settings)
        summary = run_scan(options)
        print("scan:", summary.status, file=sys.stderr)
        with read_domains(lab / "domains.csv", chunk_size=10**9) as stream:
            stream.prepare()
            domains = [item for chunk in stream for item in chunk]
    out.write_bytes(pickle.dumps({"answers": answers, "domains": domains}))
    print(f"{len(domains)} domains, {len(answers)} answers -> {out}", file=sys.stderr)


class FakePool:
    """`txt(name, flags)` is a future already holding the recorded answer (the flags do not
    change it: recorded from an authoritative server, which sets no AD bit; `dnssec` is True,
    so that the scanner judges the bit as with its own client). The answers are kept as
    tuples of strings (which the collector stops tracking) and a TxtAnswer is made per
    question, as the resolver does: 112,000 live answer objects would make every full
    collection dearer than in a scan, where an answer lives until its domain is classified."""

    def __init__(self, answers: dict[str, Any]) -> None:
        from survey.dns.outcome import TxtAnswer
        from survey.schema.values import Outcome

        self._answers = {name: (a.outcome.value, a.texts, a.tries) for name, a in answers.items()}
        self._outcomes = {o.value: o for o in Outcome}
        self._make = TxtAnswer
        self._loop = asyncio.get_running_loop()
        self.dnssec = True

    def txt(self, name: str, *flags: Any) -> asyncio.Future[Any]:
        outcome, texts, tries = self._answers[name]
        future = self._loop.create_future()
        future.set_result(self._make(name, self._outcomes[outcome], texts, tries))
        return future


class _GcClock:
    """CPU time spent in the cyclic garbage collector from `start()` until `stop()`."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._start = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.spent += time.process_time() - self._start

    def stop(self) -> float:
        gc.callbacks.remove(self._callback)
        return self.spent


def replay_once(data: Path, profile: Path | None, keep: Path | None) -> dict[str, float]:
    import pyarrow as pa

    from survey.dns.loop import run
    from survey.scan.scanner import DomainScanner, scan_chunk, verdicts_to_table
    from survey.store.snapshot import SnapshotWriter
    from survey.verdict import psl
    from survey.verdict.vendors import VendorTable

    loaded = pickle.loads(data.read_bytes())
    domains = loaded["domains"]
    psl.current()
    vendors = VendorTable.load()
    # pyarrow's first timezone-aware conversion costs ~0.3 s once per process (a scan pays it
    # once, not per domain): paid here, before any clock starts.
    pa.array([FIXED_TIME], type=pa.timestamp("us", tz="UTC"))

    async def scan() -> list[Any]:
        pool = FakePool(loaded.pop("answers"))  # and the recorded objects are let go
        gc.collect()
        gc_time.start()
        start = time.process_time()
        scanner = DomainScanner(pool, psl.organizational_domain, vendors, True)
        verdicts = await scan_chunk(scanner, domains, 500)
        times["scan"] = time.process_time() - start
        return verdicts

    profiler = cProfile.Profile() if profile else None
    times: dict[str, float] = {}
    gc_time = _GcClock()
    with tempfile.TemporaryDirectory() as tmp:
        writer = SnapshotWriter.create(Path(tmp), "replay")
        (writer.folder / "domains").mkdir(parents=True)
        if profiler:
            profiler.enable()
        verdicts = run(scan())
        start = time.process_time()
        table = verdicts_to_table(verdicts, FIXED_TIME)
        times["table"] = time.process_time() - start
        start = time.process_time()
        writer.write_part(0, table)
        times["write"] = time.process_time() - start
        if profiler:
            profiler.disable()
        if keep:
            keep.write_bytes((writer.folder / "domains" / "part-00000.parquet").read_bytes())
    if profiler and profile:
        profiler.dump_stats(str(profile))
    times["total"] = sum(times.values())
    times["of_which_gc"] = gc_time.stop()
    return {k: v / len(domains) * 1e6 for k, v in times.items()} | {"domains": len(domains)}


def replay(data: Path, reps: int, profile: bool, keep: Path | None) -> None:
    runs = []
    for rep in range(reps):
        args = [sys.executable, __file__, "_once", str(data)]
        if keep and rep == 0:
            args += ["--keep", str(keep)]
        line = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(line))
        print(" ".join(f"{k}={v:.1f}" for k, v in runs[-1].items()), file=sys.stderr)
    print(
        "median µs CPU/domain:",
        " ".join(f"{k}={statistics.median(r[k] for r in runs):.1f}" for k in runs[0]),
    )
    if profile:
        with tempfile.NamedTemporaryFile(suffix=".prof") as out:
            replay_once(data, Path(out.name), None)
            stats = pstats.Stats(out.name)
            stats.sort_stats("tottime").print_stats(35)
            stats.sort_stats("cumulative").print_stats(35)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("lab", type=Path)
    rec.add_argument("out", type=Path)
    rep = sub.add_parser("replay")
    rep.add_argument("data", type=Path)
    rep.add_argument("--reps", type=int, default=5)
    rep.add_argument("--profile", action="store_true")
    rep.add_argument("--keep", type=Path)
    once = sub.add_parser("_once")
    once.add_argument("data", type=Path)
    once.add_argument("--keep", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        record(args.lab, args.out)
    elif args.command == "replay":
        replay(args.data, args.reps, args.profile, args.keep)
    else:
        print(json.dumps(replay_once(args.data, None, args.keep)))


if __name__ == "__main__":
    main()
