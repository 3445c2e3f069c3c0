"""Per-worker scan rates on a Dask cluster, beside `--workers` on one machine (README, "Beyond
one machine").

Generates (or reuses) a lab, serves it with Knot on a loopback port, starts a `dask scheduler`
and N `dask worker` processes (one thread each) on 127.0.0.1, and scans with `survey scan
--cluster` and with `--workers 2`, alternating the setups in every round. Two lists: the lab
(answered domains, ~2.3 questions each) and a census-like list (one lab domain in 50, the rest
names the zone does not have: two negative answers each, as a zone file's domains mostly get at
`_dmarc`). Rates are the manifest's: rows over the scan's own elapsed seconds, questions from
its run entry. CPU seconds are the kernel's: the `survey scan` process tree (parent, and with
`--workers` its workers), and each Dask worker's own before and after the scan: domains per
CPU-second of a worker is what one core gives, whatever else shares the machine ("scanning
CPU-s": the Dask workers' on a cluster, the whole tree's with `--workers`).

    .venv/bin/python scripts/bench_cluster.py [--domains 200000] [--reps 3] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from distributed import Client

from survey.lab.generate import generate_lab
from survey.lab.knot import KnotServer

ROOT = Path(__file__).resolve().parent.parent
SERVER_BUFFER = 4 * 1024 * 1024  # Knot's UDP receive buffers, as scripts/bench gives them
WAIT = 300


def say(text: str) -> None:
    print(f"[bench-cluster {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Cluster:
    """A scheduler and `workers` single-threaded workers on loopback, as separate processes."""

    def __init__(self, folder: Path, workers: int) -> None:
        self.folder = folder
        self.workers = workers
        self.processes: list[subprocess.Popen[bytes]] = []
        self.address = ""

    def __enter__(self) -> Cluster:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        file = self.folder / "scheduler.json"
        self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", file)
        deadline = time.monotonic() + WAIT
        while not file.exists():
            if time.monotonic() > deadline:
                raise SystemExit("the Dask scheduler did not start")
            time.sleep(0.1)
        for i in range(self.workers):
            self._start(
                "worker", "--scheduler-file", file, "--host", "127.0.0.1", "--nthreads", "1",
                "--local-directory", self.folder / f"worker-{i}",
            )  # fmt: skip
        self.address = json.loads(file.read_text())["address"]
        with Client(self.address, set_as_default=False, timeout=WAIT) as client:
            client.wait_for_workers(self.workers, timeout=WAIT)
        return self

    def _start(self, *args: object) -> None:
        command = [sys.executable, "-m", "dask", *map(str, args), "--no-dashboard"]
        with (self.folder / f"{args[0]}-{len(self.processes)}.log").open("wb") as log:
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=log))

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):  # workers first, then the scheduler
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _cpu_seconds() -> float:
    """This process's user + system CPU seconds (run on every Dask worker)."""
    times = os.times()
    return times.user + times.system


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def workers_cpu(address: str | None) -> float:
    if address is None:
        return 0.0
    with Client(address, set_as_default=False, timeout=WAIT) as client:
        return sum(client.run(_cpu_seconds).values())


def scan(source: Path, out: Path, nameserver: str, extra: list[str]) -> dict[str, Any]:
    """One `survey scan`; its rows, seconds and questions from the manifest, CPU seconds."""
    snapshots = out / "snapshots"
    shutil.rmtree(snapshots / "bench", ignore_errors=True)
    command = [sys.executable, "-m", "survey", "scan", str(source), "--label", "bench"]
    command += ["--snapshots", str(snapshots), "--nameserver", nameserver, "--quiet", *extra]
    address = extra[1] if extra[0] == "--cluster" else None
    before, workers_before = _children_cpu(), workers_cpu(address)
    done = subprocess.run(command, capture_output=True, text=True)
    parent_cpu, worker_cpu = _children_cpu() - before, workers_cpu(address) - workers_before
    manifest = json.loads((snapshots / "bench" / "manifest.json").read_text())
    if done.returncode != 0 or manifest["status"] != "complete":
        raise SystemExit(f"survey scan failed ({done.returncode}): {done.stderr.strip()}")
    entry = manifest["runs"][-1]
    lost = sum(entry["questions"].get(k, 0) for k in ("timeout", "servfail", "error", "refused"))
    return {
        "rows": manifest["rows"],
        "seconds": manifest["elapsed_seconds"],
        "questions": sum(entry["questions"].values()),
        "lost": lost,
        "runner": entry.get("runner", {}),
        "parent_cpu": parent_cpu,  # the survey scan process tree (with --workers: all of it)
        "worker_cpu": worker_cpu,  # the Dask workers' (0 without a cluster)
    }


def census_list(path: Path, lines: int, lab_csv: Path) -> Path:
    """`lines` names: one lab domain in 50, the rest names the lab's zone does not have."""
    lab = [line.split(",", 1)[0] for line in lab_csv.read_text().splitlines()[1:]]
    with open(path, "w", encoding="ascii") as out:
        for i in range(lines):
            out.write(lab[(i // 50) % len(lab)] if i % 50 == 0 else f"nx{i}-census.com")
            out.write("\n")
    return path


def setups(worker_counts: list[int]) -> list[tuple[str, int]]:
    """(name, cluster workers; 0: `--workers 2` on this machine, no cluster)."""
    return [("--workers 2", 0), *((f"cluster {n}x1", n) for n in worker_counts)]


def measure(
    lists: dict[str, Path], out: Path, nameserver: str, reps: int, worker_counts: list[int]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    results: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in lists}
    for rep in range(1, reps + 1):
        for name, workers in setups(worker_counts):
            if workers == 0:
                for list_name, source in lists.items():
                    say(f"round {rep}/{reps}: {list_name} with {name}")
                    run = scan(source, out, nameserver, ["--workers", "2"])
                    results[list_name].setdefault(name, []).append(run)
                continue
            with Cluster(out / "cluster", workers) as cluster:
                for list_name, source in lists.items():
                    say(f"round {rep}/{reps}: {list_name} on {name}")
                    run = scan(source, out, nameserver, ["--cluster", cluster.address])
                    results[list_name].setdefault(name, []).append(run)
    return results


def table(results: dict[str, dict[str, list[dict[str, Any]]]], worker_counts: list[int]) -> str:
    lines = [
        "| list | setup | domains/s | queries/s | questions/domain | domains/s per worker "
        "| domains per scanning CPU-s | parent CPU-s per 1,000 | lost |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for list_name, by_setup in results.items():
        for name, workers in setups(worker_counts):
            runs = by_setup[name]
            rate = statistics.median(r["rows"] / r["seconds"] for r in runs)
            qps = statistics.median(r["questions"] / r["seconds"] for r in runs)
            per_domain = runs[0]["questions"] / runs[0]["rows"]
            per_worker = rate / (workers or 2)
            lost = sum(r["lost"] for r in runs)
            cpu = statistics.median((r["worker_cpu"] or r["parent_cpu"]) for r in runs)
            parent = statistics.median(r["parent_cpu"] for r in runs)
            per_1000 = f"{1000 * parent / runs[0]['rows']:.3f}" if workers else ""
            lines.append(
                f"| {list_name} | {name} | {rate:,.0f} | {qps:,.0f} | {per_domain:.2f} "
                f"| {per_worker:,.0f} | {runs[0]['rows'] / cpu:,.0f} "
                f"| {per_1000} | {lost} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=200_000, help="lab size")
    parser.add_argument("--census", type=int, default=200_000, help="census-like list lines")
    parser.add_argument("--reps", type=int, default=3, help="rounds of every setup")
    parser.add_argument("--workers", default="1,2", help="cluster sizes, comma separated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "cluster")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lab = out / f"lab-{args.domains}-seed{args.seed}"
    if not (lab / "lab.json").is_file():
        say(f"generating a lab of {args.domains:,} domains in {lab}")
        generate_lab(args.domains, lab, seed=args.seed)
    lists = {"lab": lab / "domains.csv"}
    if args.census:
        lists["census"] = census_list(out / "census.txt", args.census, lab / "domains.csv")
    worker_counts = [int(n) for n in args.workers.split(",")]
    with KnotServer(lab, receive_buffer=SERVER_BUFFER) as knot:
        say(f"Knot serves {lab.name} on 127.0.0.1:{knot.port}")
        results = measure(lists, out, f"127.0.0.1:{knot.port}", args.reps, worker_counts)
    report = table(results, worker_counts)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    report += f"\n\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, load average {load}"
    print(report)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "table.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
