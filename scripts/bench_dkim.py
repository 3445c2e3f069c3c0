"""What DKIM costs a scan (issue 13 point 4): `scripts/bench --dkim`.

Generates the lab (20,000 domains by default: `--domains`), serves it with Knot DNS on a
loopback port and scans it with `survey scan`, side by side in one run and `--reps` times
each, interleaved: `--no-dkim`, `--dkim-selectors default` and `--dkim-selectors extended`.
For each it reports questions per domain (every question the resolver pool asked, from the
manifest), domains per second and queries per second (medians), and queries/s as a share of
the scan without DKIM (the issue asks ≥ 90%: each DKIM probe costs what any question costs).
The `default` scans' verdicts are compared with the lab's truth: every difference is printed
and fails the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lib import median, read_json, run_measured

from survey.lab.compare import column_differences
from survey.lab.generate import generate_lab
from survey.lab.knot import KnotServer

ROOT = Path(__file__).resolve().parent.parent
MODES = {
    "off": ["--no-dkim"],
    "default": ["--dkim-selectors", "default"],
    "extended": ["--dkim-selectors", "extended"],
}


def say(text: str) -> None:
    print(f"[bench-dkim {dt.datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def scan(lab: Path, out: Path, label: str, nameserver: str, extra: list[str], log: Any) -> dict:
    snapshots = out / "snapshots"
    shutil.rmtree(snapshots / label, ignore_errors=True)
    argv = [sys.executable, "-m", "survey", "scan", str(lab / "domains.csv"), "--label", label]
    argv += ["--snapshots", str(snapshots), "--nameserver", nameserver, "--quiet", *extra]
    usage = run_measured(argv, log)
    manifest = read_json(snapshots / label / "manifest.json")
    if usage.returncode != 0 or manifest["status"] != "complete":
        raise SystemExit(f"survey scan failed ({usage.returncode}, {manifest['status']})")
    questions = sum(manifest["runs"][-1]["questions"].values())
    seconds = manifest["elapsed_seconds"]
    return {
        "rows": manifest["rows"],
        "questions": questions,
        "seconds": seconds,
        "cpu": usage.cpu,
        "dkim_status": manifest.get("dkim_status", {}),
        "folder": snapshots / label,
    }


def table(results: dict[str, list[dict]], domains: int) -> str:
    rows = [
        "| DKIM | questions/domain | domains/s | queries/s | queries/s vs off | CPU s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = median([r["questions"] / r["seconds"] for r in results["off"]])
    for mode, runs in results.items():
        qps = median([r["questions"] / r["seconds"] for r in runs])
        rows.append(
            f"| {mode} | {median([r['questions'] for r in runs]) / domains:.2f}"
            f" | {median([r['rows'] / r['seconds'] for r in runs]):,.0f}"
            f" | {qps:,.0f} | {qps / base:.0%} | {median([r['cpu'] for r in runs]):.1f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description="What DKIM costs a scan (issue 13).")
    parser.add_argument("--dkim", action="store_true", help="(how scripts/bench gets here)")
    parser.add_argument("--domains", type=int, default=20_000, help="lab size")
    parser.add_argument("--reps", type=int, default=3, help="scans of each mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "dkim")
    parser.add_argument("--scan-arg", action="append", default=[], help="an extra scan option")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lab = out / f"lab-{args.domains}-seed{args.seed}"
    if not (lab / "lab.json").is_file():
        say(f"generating a lab of {args.domains:,} domains in {lab}")
        generate_lab(args.domains, lab, seed=args.seed)
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    wrong = 0
    with open(out / "bench.log", "a", encoding="utf-8") as log, KnotServer(lab) as knot:
        nameserver = f"127.0.0.1:{knot.port}"
        for rep in range(1, args.reps + 1):
            for mode, extra in MODES.items():
                say(f"run {rep}/{args.reps}: DKIM {mode}")
                found = scan(lab, out, f"dkim-{mode}", nameserver, [*extra, *args.scan_arg], log)
                results[mode].append(found)
                if mode == "default":
                    differences = column_differences(found["folder"], lab)
                    for column, rows in differences.items():
                        say(f"{column}: {len(rows)} rows differ, e.g. {rows[0]}")
                        wrong += len(rows)
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(
        f"DKIM cost, {dt.date.today()}: lab of {args.domains:,} domains (seed {args.seed}),"
        f" Knot on loopback, {args.reps} scans of each mode (medians), {cpu} CPUs,"
        f" Python {platform.python_version()}; `default` verdicts: {wrong} differences"
    )
    print(table(results, args.domains))
    status = results["default"][-1]["dkim_status"]
    print(f"dkim_status of the lab (default list): {status}")
    if wrong:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
