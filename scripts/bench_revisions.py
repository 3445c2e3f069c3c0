"""Reading a domain list and looking up organizational domains: this tree against a revision.

The `survey` package and `data/` of `--base` (default `main`) are exported with `git archive`
into a temp dir, and both versions are timed in alternating subprocesses (one per measurement,
so that neither warms the other), `--reps` times each; the medians are printed side by side,
with a digest of the results so that a difference in output shows too.

- `read`: a 2,000,000-line headerless Tranco `rank,domain` CSV and a `domain,messages` CSV with
  a header (every tenth domain quoted), through `read_domains` end to end (every chunk), and
  their records alone (the reader without the names' checks and the de-duplication).
- `psl`: `organizational_domain` over 1,000,000 distinct names built from the bundled list's
  rules (so nearly every call misses the cache), then 50,000 of them asked 20 times each.

    .venv/bin/python scripts/bench_revisions.py [--base main] [--reps 3] [--lines 2000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TLDS = ("com", "net", "org", "co.uk", "de", "io", "com.br", "github.io")
PSL_NAMES = 1_000_000
REPEATED = (50_000, 20)  # names, times each


def _digest(items: Iterator[object]) -> str:
    sha = hashlib.sha256()
    for item in items:
        sha.update(repr(item).encode())
    return sha.hexdigest()[:12]


# --- children: run inside the version under test ----------------------------------------------


class _Clock:
    """Wall and CPU seconds of this process since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> dict[str, float]:
        return {"seconds": time.perf_counter() - self.wall, "cpu": time.process_time() - self.cpu}


def _read_all(path: Path) -> dict[str, Any]:
    from survey.input.stream import read_domains

    clock = _Clock()
    with read_domains(path) as stream:
        digest = _digest(item for chunk in stream for item in chunk)
        counts = stream.counts
    return {**clock.read(), "digest": digest, "lines": counts.lines}


def _records(path: Path) -> dict[str, Any]:
    from survey.input.stream import read_domains

    with read_domains(path) as stream:
        clock = _Clock()
        if hasattr(stream, "_rows"):  # before the split: the stream read its own rows
            records = stream._rows()
        else:
            from survey.input.readers import rows

            records = rows(stream.layout)
        count = sum(1 for _ in records)
    return {**clock.read(), "digest": "", "lines": count}


def _psl(path: Path) -> dict[str, Any]:
    from survey.verdict import psl

    names = path.read_text(encoding="ascii").split()
    psl.current()  # the list loaded before the clock starts
    started = time.process_time()
    found = [psl.organizational_domain(name) for name in names]
    cold = time.process_time() - started
    repeated = names[: REPEATED[0]] * REPEATED[1]
    started = time.process_time()
    for name in repeated:
        psl.organizational_domain(name)
    warm = time.process_time() - started
    return {
        "cpu_us_per_call": cold / len(names) * 1e6,
        "cpu_us_per_repeated_call": warm / len(repeated) * 1e6,
        "digest": _digest(iter(found)),
        "lines": len(names),
    }


CHILDREN: dict[str, Callable[[Path], dict[str, Any]]] = {
    "read": _read_all,
    "records": _records,
    "psl": _psl,
}


# --- the inputs -------------------------------------------------------------------------------


def _name(n: int) -> str:
    return f"w{n % 97}-d{n}.{TLDS[n % len(TLDS)]}"


def write_tranco(path: Path, lines: int) -> Path:
    with path.open("w", encoding="ascii") as out:
        out.writelines(f"{n + 1},{_name(n)}\n" for n in range(lines))
    return path


def write_messages(path: Path, lines: int) -> Path:
    with path.open("w", encoding="ascii") as out:
        out.write("domain,messages\n")
        for n in range(lines):
            name = f'"{_name(n)}"' if n % 10 == 0 else _name(n)
            out.write(f"{name},{n % 1000}\n")
    return path


def _psl_suffixes() -> list[str]:
    """The bundled list's ASCII rules as suffixes a name can end in."""
    suffixes = []
    for line in (ROOT / "data" / "public_suffix_list.dat").read_text(encoding="utf-8").splitlines():
        rule = line.strip().split(" ")[0]
        if rule and not rule.startswith("//") and rule.isascii():
            suffixes.append(rule.lstrip("!").replace("*", "x"))
    return suffixes


def write_psl_names(path: Path, count: int) -> Path:
    """Distinct names: half under com/net/org, half under any rule of the list, 1-3 labels."""
    chance = random.Random(7)
    suffixes = _psl_suffixes()
    with path.open("w", encoding="ascii") as out:
        for n in range(count):
            common = n % 2 == 0
            suffix = ("com", "net", "org")[n % 3] if common else chance.choice(suffixes)
            labels = [f"h{n}", *["www", "mail", "a"][: chance.randrange(3)]]
            out.write(".".join([*labels[::-1], suffix]) + "\n")
    return path


# --- the parent -------------------------------------------------------------------------------


def export(base: str, into: Path) -> Path:
    """The `survey` package and `data/` of revision `base`, extracted under `into`."""
    archive = into / "base.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", base, "survey", "data"], stdout=out, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into / "base", filter="data")
    return into / "base"


def measure(tree: Path, kind: str, path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, __file__, "--child", kind, str(path)]
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def compare(
    trees: dict[str, Path], kind: str, path: Path, reps: int
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
    for _ in range(reps):
        for label, tree in trees.items():
            runs[label].append(measure(tree, kind, path))
    return runs


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(title: str, runs: dict[str, list[dict[str, Any]]], key: str) -> None:
    cells = []
    for label, results in runs.items():
        values = [result[key] for result in results]
        digests = sorted({result["digest"] for result in results})
        shown = " ".join(f"{value:.3f}" for value in values)
        cells.append(f"{label}: median {_median(values):.3f} ({shown}) digest {','.join(digests)}")
    print(f"{title} [{key}, {results[0]['lines']:,} records]\n  " + "\n  ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--only", choices=["read", "psl"])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](Path(args.child[1]))))
        return
    with tempfile.TemporaryDirectory(prefix="bench-revisions-") as scratch:
        work = Path(scratch)
        trees = {args.base: export(args.base, work), "this tree": ROOT}
        if args.only in (None, "read"):
            for path in (
                write_tranco(work / "tranco.csv", args.lines),
                write_messages(work / "messages.csv", args.lines),
            ):
                for kind, title in (("read", "read_domains"), ("records", "records only")):
                    runs = compare(trees, kind, path, args.reps)
                    report(f"{path.name}: {title}", runs, "seconds")
                    report(f"{path.name}: {title}", runs, "cpu")
        if args.only in (None, "psl"):
            names = write_psl_names(work / "names.txt", PSL_NAMES)
            runs = compare(trees, "psl", names, args.reps)
            report("organizational_domain, distinct names", runs, "cpu_us_per_call")
            report("organizational_domain, repeated names", runs, "cpu_us_per_repeated_call")


if __name__ == "__main__":
    main()
