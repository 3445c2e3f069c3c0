"""Where a scan's time goes: `survey scan` of the lab under py-spy (`scripts/bench --profile`).

Two sampled scans of the same lab, parent and workers alike (`--subprocesses`): one writes a
flame graph (`flame-scan.svg`, open it in a browser), the other the raw collapsed stacks
(`profile-scan.txt`, one `frame;frame;... count` line per stack: flamegraph.pl, inferno and
speedscope read it) from which the report says which of the survey's modules the CPU was in.
A sample is charged to the innermost survey module on its stack (the DNS client, a parser, the
Parquet write...), so time spent in a library on the survey's behalf counts for its caller;
samples with no survey frame (the event loop waiting, interpreter start-up) are "outside".
py-spy needs ptrace: as root, or with CAP_SYS_PTRACE.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import IO

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+)(?::\d+)?\)$")
RATE = 250  # samples per second per process


def py_spy() -> str | None:
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


def profile_scan(domains: Path, out: Path, nameserver: str, log: IO[str]) -> str:
    """Profile two scans of `domains`; the report's text (or why there is none)."""
    binary = py_spy()
    if binary is None:
        return "profile: py-spy is not installed (pip install py-spy)"
    raw, svg = out / "profile-scan.txt", out / "flame-scan.svg"
    for fmt, path in (("flamegraph", svg), ("raw", raw)):
        folder = out / "snapshots"
        shutil.rmtree(folder / "profile", ignore_errors=True)
        argv = [binary, "record", "--subprocesses", "--rate", str(RATE), "--format", fmt]
        argv += ["-o", str(path), "--", sys.executable, "-m", "survey", "scan", str(domains)]
        argv += ["--label", "profile", "--snapshots", str(folder), "-n", nameserver, "--quiet"]
        done = subprocess.run(argv, stdout=log, stderr=log, check=False)
        shutil.rmtree(folder / "profile", ignore_errors=True)
        if done.returncode != 0 or not path.is_file():
            why = f"exit {done.returncode}; is ptrace allowed?"
            return f"profile: py-spy failed ({why}), see bench.log"
    return summary(raw.read_text().splitlines(), svg, raw)


def summary(lines: list[str], svg: Path, raw: Path, top: int = 12) -> str:
    """The share of samples per survey module and the busiest leaf functions."""
    modules: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [FRAME.match(frame) for frame in stack.split(";")]
        parsed = [match for match in frames if match is not None]
        owner = next((m["file"] for m in reversed(parsed) if m["file"].startswith("survey/")), None)
        modules[owner or "outside the survey's code"] += samples
        if parsed:
            leaves[f"{parsed[-1]['func']} ({parsed[-1]['file']})"] += samples
    if not total:
        return "profile: no samples"
    rows = [f"profile: {total:,} samples at {RATE}/s per process; flame graph {svg}, stacks {raw}"]
    rows.append("  where the samples were (innermost survey module on the stack):")
    rows += [f"    {n / total:6.1%}  {name}" for name, n in modules.most_common(top)]
    rows.append("  busiest functions (the sampled frame itself):")
    rows += [f"    {n / total:6.1%}  {name}" for name, n in leaves.most_common(top)]
    return "\n".join(rows)
