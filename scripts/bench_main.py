"""The throughput and memory benchmark (issue 5). Run it through `scripts/bench`.

Generates the lab (200,000 domains, `--large` for 1,000,000), serves it with Knot DNS on a
loopback port and measures, side by side in one run, `--reps` times each:

  (a) floor       the scan's own questions through a bare aiodns loop (scripts/bench_floor.py)
  (a2) pool       the same questions through the survey's own resolver pool, nothing else
  (a3) dnspython  the same questions through a bare dnspython asyncio loop
  (b) scan        `survey scan` end to end: questions, parsing, classification, Parquet
  (b2) scan       the same with `--dns-client aiodns`: c-ares behind the survey's pool
  (b3) scan       the same as (b) with `--no-spf-eval`: what the SPF evaluation costs (issue 17)
  (c) dnsperf     the server's ceiling, asked the same questions
  (d) checkdmarc  DMARC + SPF checks of 2,000 of the domains (its own venv)
  (b0) scan before  with `--base REV`: `survey scan` of revision REV (its `survey/` and `data/`
                  exported with `git archive` under the output folder), run beside (b) in each
                  repetition, the order alternating: the rate and the questions per domain of
                  this tree against REV's on the same lab and server (issue 12: the RFC 9989 walk)

then prints the medians and the ratios b/a, b/a2, b/b3, b/c, b/d (b/b0 with `--base`), and the
extra questions per domain the SPF evaluation asked (the manifest's `spf_eval`); every scan's
row says how many questions it asked per domain (the manifest's counts, the walk's included).
`--scans-only` leaves out (a), (a2), (a3), (b2), (c) and (d): for comparing two revisions, or
the scan with and without SPF evaluation. Every scan's verdicts (but b0's) are compared with
the lab's expected.parquet, and lost answers (timeouts, errors) are counted: both must be 0.
Finally the memory check scans a generated 5,000,000-line list served mostly as NXDOMAIN and
reports the scan's peak RSS (`--skip-memory` leaves it out). `--profile` adds a scan under
py-spy: a flame graph and the share of samples per survey module (scripts/bench_profile.py).

Knot's UDP sockets get 4 MiB receive buffers, as a production server's would (`--server-buffer
0`: the kernel's default, 208 KiB here, which drops queries when client and server share the two
cores: every drop is a 2 s timeout and a retry; see survey/lab/knot.py). Raising them needs root;
the report says what the sockets got.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lib import (
    LOST_OUTCOMES,
    Measured,
    median,
    questions_from_snapshot,
    read_json,
    read_questions,
    run_measured,
    write_json,
    write_questions,
)
from bench_profile import profile_scan
from bench_revisions import export

from survey.dns.loop import EVENT_LOOP_VARIABLE
from survey.dns.settings import ResolverSettings
from survey.lab.compare import COMPARED, NOT_MEASURED_BY_AIODNS, column_differences
from survey.lab.generate import WORDS, generate_lab
from survey.lab.knot import KnotServer, knotd_path
from survey.scan.pipeline import DEFAULT_CHUNK_SIZE, default_workers

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {"aiodns": "a floor", "pool": "a2 pool", "dnspython": "a3 dnspython"}
AIODNS_SCAN = "b2 scan aiodns"
BASE_SCAN = "b0 scan before"
SCRIPTS = ROOT / "scripts"


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- setup ----------------------------------------------------------------------------------


def lab_for(out: Path, domains: int, seed: int) -> Path:
    folder = out / f"lab-{domains}-seed{seed}"
    if not (folder / "lab.json").is_file():
        say(f"generating a lab of {domains:,} domains in {folder}")
        generate_lab(domains, folder, seed=seed)
    return folder


def checkdmarc_python(out: Path) -> Path:
    """checkdmarc in a venv of its own, never in the project's environment."""
    venv = out / ".venv-checkdmarc"
    python = venv / "bin" / "python"
    if subprocess.run([python, "-c", "import checkdmarc"], capture_output=True).returncode != 0:
        say(f"installing checkdmarc into {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "checkdmarc"], check=True)
    return python


# -- (b) the scan ---------------------------------------------------------------------------


def scan(
    input_path: Path,
    out: Path,
    label: str,
    nameserver: str,
    extra: list[str],
    log: Any,
    env: dict[str, str] | None = None,
    tree: Path | None = None,
) -> tuple[Measured, Path]:
    """`survey scan` of this tree, or of the exported revision at `tree` (`export`)."""
    snapshots = out / "snapshots"
    shutil.rmtree(snapshots / label, ignore_errors=True)
    argv = [sys.executable, "-m", "survey", "scan", str(input_path), "--label", label]
    argv += ["--snapshots", str(snapshots), "--nameserver", nameserver, "--quiet", *extra]
    if tree is not None:  # `-m survey` imports from the working directory first
        env = {**(env or os.environ), "PYTHONPATH": str(tree)}
    usage = run_measured(argv, log, env, cwd=tree)
    folder = snapshots / label
    manifest = read_json(folder / "manifest.json")
    if usage.returncode != 0 or manifest["status"] != "complete":
        raise SystemExit(f"survey scan failed ({usage.returncode}, {manifest['status']})")
    outcomes: Counter[str] = Counter()
    for kind in ("dmarc", "spf", "dmarc_org"):
        for outcome, count in manifest["outcomes"][kind].items():
            if outcome != "null":
                outcomes[outcome] += count
    warnings = pq.read_table(folder / "domains", columns=["dmarc_warnings"])["dmarc_warnings"]
    flat = pc.list_flatten(warnings)
    outcomes["report_auth_unresolved"] = pc.sum(pc.equal(flat, "report_auth_unresolved")).as_py()
    asked = walk_asked = 0
    for run in manifest["runs"]:  # a resumed scan has several
        asked += sum(run.get("questions", {}).values())
        walk_asked += sum(run.get("tree_walk", {}).get("questions", {}).values())
    measured = Measured(
        "b scan",
        manifest["rows"],
        0,
        manifest["elapsed_seconds"],
        usage.cpu,
        usage.peak_rss_mb,
        dict(outcomes),
        {
            "wall": usage.wall,
            "rss_trace": usage.rss_trace,
            "hwm_sum": usage.hwm_sum_mb,
            "pss": usage.peak_pss_mb,
            "asked": asked,  # every question the scan sent (its manifest's counts)
            "walk_asked": walk_asked,  # of which for the RFC 9989 tree walk
            "spf_eval": manifest["runs"][-1].get("spf_eval"),
        },
    )
    measured.outcomes["lost"] = measured.lost + outcomes["report_auth_unresolved"]
    return measured, folder


def compare_with_expected(folder: Path, lab_dir: Path, columns: tuple[str, ...] = COMPARED) -> int:
    """Domains whose verdict differs from the lab's truth (0 when all agree), with a sample."""
    differences = column_differences(folder, lab_dir, columns)
    for column, rows in differences.items():
        domain, got, want = rows[0]
        say(f"{column}: {len(rows)} rows differ, e.g. {got!r} vs {want!r} at {domain}")
    return len({domain for rows in differences.values() for domain, _, _ in rows})


# -- (a) floor, (c) dnsperf, (d) checkdmarc -------------------------------------------------


def floor(
    questions: Path, out: Path, nameserver: str, concurrency: int, client: str, log: Any
) -> Measured:
    result_path = out / f"floor-{client}.json"
    argv = [sys.executable, str(SCRIPTS / "bench_floor.py"), str(questions), str(result_path)]
    argv += ["--nameserver", nameserver, "--concurrency", str(concurrency), "--client", client]
    usage = run_measured(argv, log)
    if usage.returncode != 0:
        raise SystemExit("the floor client failed; see the log")
    result = read_json(result_path)
    measured = Measured(
        FLOORS[client],
        result["domains"],
        result["questions"],
        result["elapsed"],
        usage.cpu,
        usage.peak_rss_mb,
        result["outcomes"],
    )
    measured.outcomes["lost"] = measured.lost
    return measured


def dnsperf(queries: Path, port: int, outstanding: int, seconds: int, log: Any) -> Measured:
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries)]
    argv += ["-l", str(seconds), "-q", str(outstanding), "-t", "2"]
    began = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    elapsed = time.monotonic() - began
    log.write(done.stdout)
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", done.stdout)[1])  # type: ignore[index]
    completed = int(re.search(r"Queries completed:\s+(\d+)", done.stdout)[1])  # type: ignore[index]
    lost = int(re.search(r"Queries lost:\s+(\d+)", done.stdout)[1])  # type: ignore[index]
    codes = dict(re.findall(r"(NOERROR|NXDOMAIN|SERVFAIL|REFUSED|FORMERR) (\d+)", done.stdout))
    outcomes = {k.lower(): int(v) for k, v in codes.items()} | {"lost": lost}
    return Measured(
        "c dnsperf", 0, completed, completed / qps, 0.0, 0.0, outcomes, {"wall": elapsed}
    )


def checkdmarc(
    python: Path, domains: Path, out: Path, port: int, timeout: float, log: Any
) -> Measured:
    result_path = out / "checkdmarc.json"
    argv = [str(python), str(SCRIPTS / "bench_checkdmarc.py"), str(domains), str(result_path)]
    argv += ["--port", str(port), "--timeout", str(timeout)]
    usage = run_measured(argv, log)
    if usage.returncode != 0:
        raise SystemExit("the checkdmarc client failed; see the log")
    result = read_json(result_path)
    outcomes = dict(result["outcomes"])
    outcomes["lost"] = outcomes.get("dmarc_timeout", 0) + outcomes.get("spf_timeout", 0)
    return Measured(
        "d checkdmarc",
        result["domains"],
        result["questions"],
        result["elapsed"],
        usage.cpu,
        usage.peak_rss_mb,
        outcomes,
    )


# -- the report -----------------------------------------------------------------------------


def _summary(runs: list[Measured]) -> dict[str, Any]:
    return {
        "domains/s": median([r.domains_per_s for r in runs]),
        "queries/s": median([r.queries_per_s for r in runs]),
        "cpu": median([r.cpu_per_1000 for r in runs]),
        "rss": median([r.peak_rss_mb for r in runs]),
        "elapsed": median([r.elapsed for r in runs]),
    }


def _outcomes_text(runs: list[Measured]) -> str:
    last = runs[-1].outcomes
    worst_lost = max(r.outcomes.get("lost", 0) for r in runs)
    shown = {k: v for k, v in last.items() if k != "lost" and v}
    body = " ".join(f"{k}={v}" for k, v in sorted(shown.items()))
    return f"{body} | lost(max)={worst_lost}"


def asked_per_domain(runs: list[Measured]) -> float | None:
    """The median of the questions a scan sent per domain (None: not a scan)."""
    if not runs or "asked" not in runs[0].extra:
        return None
    return median([r.extra["asked"] / r.domains for r in runs if r.domains])


def table(results: dict[str, list[Measured]], reps: int) -> str:
    lines = [
        f"{'client':<15} {'domains/s':>10} {'queries/s':>10} {'CPU s/1k dom':>12} "
        f"{'peak RSS MB':>11} {'work s':>7} {'q/domain':>8}  outcomes (last run)",
    ]
    for name, runs in results.items():
        if not runs:
            continue
        s = _summary(runs)
        dps = f"{s['domains/s']:,.0f}" if runs[0].domains else "-"
        cpu = f"{s['cpu']:.3f}" if runs[0].cpu else "-"
        rss = f"{s['rss']:.0f}" if runs[0].peak_rss_mb else "-"
        per = asked_per_domain(runs)
        asked = "-" if per is None else f"{per:.3f}"
        lines.append(
            f"{name:<15} {dps:>10} {s['queries/s']:>10,.0f} {cpu:>12} {rss:>11} "
            f"{s['elapsed']:>7.1f} {asked:>8}  {_outcomes_text(runs)}"
        )
    b = _summary(results["b scan"])
    lines.append(f"medians of {reps} run(s). ratios of the medians:")
    if results.get(BASE_SCAN):
        lines.extend(_against_base(results["b scan"], results[BASE_SCAN]))
    if results.get(NO_SPF_EVAL):
        b3 = _summary(results[NO_SPF_EVAL])
        ratio = b["domains/s"] / b3["domains/s"]
        lines.append(f"  b/b3 (scan / without SPF eval.)      {ratio:.3f}")
        lines.append(spf_eval_line(results["b scan"]))
    if not results.get("a floor"):
        return "\n".join(lines)
    a = _summary(results["a floor"])
    lines.append(f"  b/a (scan / floor, domains/s)        {b['domains/s'] / a['domains/s']:.3f}")
    if results.get("a2 pool"):
        a2 = _summary(results["a2 pool"])
        ratio = b["domains/s"] / a2["domains/s"]
        lines.append(f"  b/a2 (scan / own pool, domains/s)    {ratio:.3f}")
        if results.get("a3 dnspython"):
            a3 = _summary(results["a3 dnspython"])
            lines.append(
                f"  a2/a3 (own pool / dnspython)         {a2['domains/s'] / a3['domains/s']:.2f}"
            )
            lines.append(
                f"  a2/a (own pool / aiodns)             {a2['domains/s'] / a['domains/s']:.2f}"
            )
    if results.get(AIODNS_SCAN):
        b2 = _summary(results[AIODNS_SCAN])
        lines.append(
            f"  b/b2 (scan / scan with aiodns)       {b['domains/s'] / b2['domains/s']:.3f}"
        )
    if results.get("c dnsperf"):
        c = _summary(results["c dnsperf"])
        ratio = b["queries/s"] / c["queries/s"]
        lines.append(f"  b/c (scan / dnsperf, queries/s)      {ratio:.3f}")
    if results.get("d checkdmarc"):
        d = _summary(results["d checkdmarc"])
        lines.append(
            f"  b/d (scan / checkdmarc, domains/s)   {b['domains/s'] / d['domains/s']:.1f}x"
        )
    return "\n".join(lines)


def _against_base(now: list[Measured], before: list[Measured]) -> list[str]:
    """This tree's scan against the base revision's: rate, CPU, questions per domain, and the
    ratio per repetition (the two ran back to back, so a busy machine slows both)."""
    b, b0 = _summary(now), _summary(before)
    asked, asked0 = asked_per_domain(now) or 0.0, asked_per_domain(before) or 0.0
    walk = median([r.extra["walk_asked"] / r.domains for r in now if r.domains])
    pairs = ", ".join(
        f"{n.domains_per_s / o.domains_per_s:.3f}" for n, o in zip(now, before, strict=True)
    )
    return [
        f"  b/b0 (scan / scan before, domains/s) {b['domains/s'] / b0['domains/s']:.3f}"
        f" (each repetition: {pairs})",
        f"  b/b0 (CPU s per 1k domains)          {b['cpu'] / b0['cpu']:.3f}",
        f"  questions per domain: before {asked0:.3f}, now {asked:.3f} "
        f"(of which the tree walk {walk:.3f}), ratio {asked / asked0:.3f}",
    ]


NO_SPF_EVAL = "b3 no SPF eval"


def spf_eval_line(runs: list[Measured]) -> str:
    """What the SPF evaluation asked beyond the scan's own questions, per domain (its manifest
    entry, from the last run)."""
    entry = runs[-1].extra.get("spf_eval") or {}
    domains = runs[-1].domains or 1
    by_type = {
        kind: sum(outcomes.values()) for kind, outcomes in (entry.get("questions") or {}).items()
    }
    shown = ", ".join(f"{kind} {count / domains:.3f}" for kind, count in sorted(by_type.items()))
    return (
        f"  SPF evaluation: {entry.get('questions_total', 0) / domains:.3f} extra questions per "
        f"domain ({shown or 'none'}); {entry.get('domains', 0):,} records evaluated, "
        f"{entry.get('targets_evaluated', 0):,} targets evaluated, "
        f"{entry.get('targets_reused', 0):,} reused"
    )


# -- the defaults sweep ---------------------------------------------------------------------

SWEEP_CONCURRENCY = (100, 200, 300, 500, 1000, 2000)
SWEEP_CHUNKS = (10_000, 20_000, 50_000, 100_000)
SWEEP_WORKERS = (1, 2, 3)


def sweep(lab_dir: Path, out: Path, nameserver: str, log: Any) -> str:
    """`survey scan` of the lab once per setting around the defaults: concurrency, chunk
    size, event loop. Reports domains/s, CPU, peak RSS, tries that timed out (each one
    retried: a setting that makes the server drop answers shows here) and lost answers."""
    defaults = ResolverSettings()
    settings: list[tuple[str, list[str], dict[str, str]]] = []
    for concurrency in SWEEP_CONCURRENCY:
        settings.append((f"concurrency {concurrency}", ["--concurrency", str(concurrency)], {}))
    for chunk in SWEEP_CHUNKS:
        settings.append((f"chunk {chunk:,}", ["--chunk-size", str(chunk)], {}))
    for workers in SWEEP_WORKERS:
        settings.append((f"workers {workers}", ["--workers", str(workers)], {}))
    settings.append(("event loop asyncio", [], {EVENT_LOOP_VARIABLE: "asyncio"}))
    settings.append(("event loop uvloop", [], {}))
    lines = [
        f"defaults sweep (one run each; defaults: concurrency {defaults.concurrency}, chunk "
        f"{DEFAULT_CHUNK_SIZE:,}, workers {default_workers(defaults.concurrency)}, uvloop, "
        f"timeout {defaults.timeout} s, tries {defaults.tries})",
        f"{'setting':<20} {'domains/s':>10} {'CPU s/1k dom':>12} {'peak RSS MB':>11} "
        f"{'timed-out tries':>15} {'lost':>5}",
    ]
    for name, extra, env in settings:
        say(f"sweep: {name}")
        measured, folder = scan(
            lab_dir / "domains.csv", out, "sweep", nameserver, extra, log, env={**os.environ, **env}
        )
        tries = read_json(folder / "manifest.json")["runs"][-1]["transport"]["tries"]
        lines.append(
            f"{name:<20} {measured.domains_per_s:>10,.0f} {measured.cpu_per_1000:>12.3f} "
            f"{measured.peak_rss_mb:>11.0f} {tries.get('timeout', 0):>15,} "
            f"{measured.outcomes['lost']:>5}"
        )
        shutil.rmtree(folder, ignore_errors=True)
    return "\n".join(lines)


# -- the memory check -----------------------------------------------------------------------


def memory_list(path: Path, lines: int, lab_csv: Path) -> Path:
    """`lines` domains: one lab domain in 50, the rest names the zone does not have."""
    if path.is_file():
        with open(path, "rb") as existing:
            if sum(1 for _ in existing) == lines:
                return path
    lab = [line.split(",", 1)[0] for line in lab_csv.read_text().splitlines()[1:]]
    with open(path, "w", encoding="ascii") as out:
        for i in range(lines):
            if i % 50 == 0:
                out.write(lab[(i // 50) % len(lab)] + "\n")
            else:
                out.write(f"nx{i}-{WORDS[i % len(WORDS)]}.com\n")
    return path


def memory_check(out: Path, lab_dir: Path, nameserver: str, lines: int, log: Any) -> str:
    folder = out / "memory"
    folder.mkdir(exist_ok=True)
    say(f"memory check: writing a {lines:,}-line domain list")
    path = memory_list(folder / f"domains-{lines}.txt", lines, lab_dir / "domains.csv")
    say("memory check: scanning it")
    measured, snap = scan(path, folder, "memory", nameserver, [], log)
    manifest = read_json(snap / "manifest.json")
    samples = measured.extra["rss_trace"]
    every = max(1, len(samples) // 10)
    trace = ", ".join(f"{t:.0f}s:{rss:.0f}" for t, rss in samples[::every])
    shutil.rmtree(snap / "domains", ignore_errors=True)
    return (
        f"memory check: {lines:,} lines, {manifest['rows']:,} rows, status {manifest['status']}, "
        f"{measured.elapsed:.0f} s ({measured.domains_per_s:,.0f} domains/s), "
        f"peak RSS {measured.peak_rss_mb:.0f} MB (the process tree at once; each process's own "
        f"peak added up: {measured.extra['hwm_sum']:.0f} MB; PSS, shared library pages counted "
        f"once: {measured.extra['pss']:.0f} MB), "
        f"lost answers {measured.outcomes['lost']}\n"
        f"  RSS over time (s:MB): {trace}"
    )


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Throughput and memory benchmark (issue 5).")
    parser.add_argument("--domains", type=int, default=200_000, help="lab size")
    parser.add_argument("--large", action="store_true", help="a lab of 1,000,000 domains")
    parser.add_argument("--reps", type=int, default=3, help="runs of each client")
    parser.add_argument("--skip-memory", action="store_true", help="no 5M-line memory check")
    parser.add_argument("--memory-lines", type=int, default=5_000_000)
    parser.add_argument("--checkdmarc-domains", type=int, default=2_000)
    parser.add_argument("--skip-checkdmarc", action="store_true")
    parser.add_argument(
        "--sweep", action="store_true", help="also scan once per concurrency/chunk/loop setting"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile a scan with py-spy (flame graph)"
    )
    parser.add_argument("--dnsperf-seconds", type=int, default=10)
    parser.add_argument(
        "--server-buffer",
        type=int,
        default=SERVER_BUFFER,
        help="bytes of receive buffer for Knot's UDP sockets (0: the kernel's default)",
    )
    parser.add_argument(
        "--base", metavar="REV", help="also scan with revision REV's code, beside (b) (b0)"
    )
    parser.add_argument(
        "--scans-only",
        action="store_true",
        help="only the scans (b), (b3), (b0): no floors, aiodns scan, dnsperf or checkdmarc",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    parser.add_argument(
        "--scan-arg", action="append", default=[], help="an extra `survey scan` option"
    )
    args = parser.parse_args()
    domains = 1_000_000 if args.large else args.domains
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lab_dir = lab_for(out, domains, args.seed)
    python_cd = None if args.skip_checkdmarc or args.scans_only else checkdmarc_python(out)
    base_tree = None
    if args.base:
        say(f"exporting revision {args.base} for (b0)")
        shutil.rmtree(out / "base", ignore_errors=True)
        base_tree = export(args.base, out)
    settings = ResolverSettings()
    concurrency = settings.concurrency
    for i, value in enumerate(args.scan_arg):
        if value == "--concurrency":
            concurrency = int(args.scan_arg[i + 1])
    log = open(out / "bench.log", "a", encoding="utf-8")  # noqa: SIM115
    results: dict[str, list[Measured]] = {
        "a floor": [],
        "a2 pool": [],
        "a3 dnspython": [],
        "b scan": [],
        AIODNS_SCAN: [],
        "c dnsperf": [],
        BASE_SCAN: [],
    }
    if python_cd:
        results["d checkdmarc"] = []
    results[NO_SPF_EVAL] = []
    if args.scans_only:
        results = {"b scan": [], NO_SPF_EVAL: [], BASE_SCAN: []}
        python_cd = None
    mismatches = []
    with KnotServer(lab_dir, receive_buffer=args.server_buffer or None) as knot:
        ns = f"127.0.0.1:{knot.port}"
        buffers = ", ".join(f"{size:,}" for size in knot.receive_buffers) or "unknown (no `ss`)"
        server = f"Knot {knot_version()}, UDP receive buffers {buffers} bytes"
        say(f"Knot serves {lab_dir.name} on {ns} (loaded in {knot.load_seconds:.1f} s); {server}")
        questions = out / "questions.tsv"
        for rep in range(1, args.reps + 1):
            if base_tree is not None and rep % 2 == 1:  # the order alternates
                results[BASE_SCAN].append(base_scan(lab_dir, out, rep, ns, args, base_tree, log))
            say(f"run {rep}/{args.reps}: (b) survey scan")
            measured, folder = scan(
                lab_dir / "domains.csv", out, f"bench-{rep}", ns, args.scan_arg, log
            )
            mismatches.append(compare_with_expected(folder, lab_dir))
            if rep == 1:
                count = write_questions(questions, questions_from_snapshot(folder / "domains"))
                _write_dnsperf_input(questions, out / "dnsperf.txt")
                say(f"the scan asks {count:,} questions for {domains:,} domains")
                _write_sample(
                    lab_dir / "domains.csv", out / "checkdmarc-domains.txt", args.checkdmarc_domains
                )
            measured.questions = count
            results["b scan"].append(measured)
            shutil.rmtree(folder / "domains", ignore_errors=True)
            if base_tree is not None and rep % 2 == 0:
                results[BASE_SCAN].append(base_scan(lab_dir, out, rep, ns, args, base_tree, log))
            say(f"run {rep}/{args.reps}: (b3) survey scan --no-spf-eval")
            measured, folder = scan(
                lab_dir / "domains.csv",
                out,
                f"bench-no-spf-{rep}",
                ns,
                [*args.scan_arg, "--no-spf-eval"],
                log,
            )
            measured.name, measured.questions = NO_SPF_EVAL, count
            results[NO_SPF_EVAL].append(measured)
            shutil.rmtree(folder, ignore_errors=True)
            if args.scans_only:
                continue
            say(f"run {rep}/{args.reps}: (b2) survey scan --dns-client aiodns")
            measured, folder = scan(
                lab_dir / "domains.csv",
                out,
                f"bench-aiodns-{rep}",
                ns,
                [*args.scan_arg, "--dns-client", "aiodns"],
                log,
            )
            measured_by_aiodns = tuple(c for c in COMPARED if c not in NOT_MEASURED_BY_AIODNS)
            mismatches.append(compare_with_expected(folder, lab_dir, measured_by_aiodns))
            measured.name, measured.questions = AIODNS_SCAN, count
            results[AIODNS_SCAN].append(measured)
            shutil.rmtree(folder / "domains", ignore_errors=True)
            for client, row in FLOORS.items():
                say(f"run {rep}/{args.reps}: ({row.split()[0]}) {client} floor")
                results[row].append(floor(questions, out, ns, concurrency, client, log))
            say(f"run {rep}/{args.reps}: (c) dnsperf")
            results["c dnsperf"].append(
                dnsperf(out / "dnsperf.txt", knot.port, concurrency, args.dnsperf_seconds, log)
            )
            if python_cd:
                say(f"run {rep}/{args.reps}: (d) checkdmarc")
                results["d checkdmarc"].append(
                    checkdmarc(python_cd, out / "checkdmarc-domains.txt", out, knot.port, 2.0, log)
                )
        profiled = None
        if args.profile:
            say("profile: two scans under py-spy")
            profiled = profile_scan(lab_dir / "domains.csv", out, ns, log)
        swept = sweep(lab_dir, out, ns, log) if args.sweep else None
        memory = None
        if not args.skip_memory and not args.scans_only:
            memory = memory_check(out, lab_dir, ns, args.memory_lines, log)
    asked = len(read_questions(questions))
    if BASE_SCAN in results and not results[BASE_SCAN]:
        del results[BASE_SCAN]
    report = _report(results, args.reps, domains, mismatches, memory, asked, server)
    for extra in (profiled, swept):
        if extra:
            report += "\n" + extra
    print(report)
    (out / "bench-table.txt").write_text(report + "\n")
    write_json(out / "bench-results.json", {k: [vars_of(m) for m in v] for k, v in results.items()})


SERVER_BUFFER = 4 * 1024 * 1024


def base_scan(
    lab_dir: Path, out: Path, rep: int, ns: str, args: Any, tree: Path, log: Any
) -> Measured:
    """(b0): the base revision's `survey scan` of the same lab. Its verdicts are not compared
    with expected.parquet: the lab's truth is this tree's."""
    say(f"run {rep}/{args.reps}: (b0) survey scan of {args.base}")
    measured, folder = scan(
        lab_dir / "domains.csv", out, f"bench-base-{rep}", ns, args.scan_arg, log, tree=tree
    )
    measured.name = BASE_SCAN
    measured.questions = measured.extra["asked"]
    shutil.rmtree(folder / "domains", ignore_errors=True)
    return measured


def knot_version() -> str:
    binary = knotd_path()
    shown = subprocess.run([binary or "knotd", "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version (\S+)", shown)
    return found[1] if found else "?"


def vars_of(m: Measured) -> dict[str, Any]:
    return {s: getattr(m, s) for s in Measured.__slots__}  # type: ignore[attr-defined]


def _report(
    results: dict[str, list[Measured]],
    reps: int,
    domains: int,
    mismatches: list[int],
    memory: str | None,
    question_domains: int,
    server: str,
) -> str:
    head = (
        f"dmarc-survey benchmark, {dt.date.today()}, {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}), lab {domains:,} domains "
        f"(questions file: {question_domains:,} domains), scan chunk {DEFAULT_CHUNK_SIZE:,}\n"
        f"server: {server}"
    )
    lost = max(r.outcomes.get("lost", 0) for r in results["b scan"])
    verdicts = (
        f"verdicts vs expected.parquet: {sum(mismatches)} rows differ over {len(mismatches)} "
        f"scan(s); lost answers (timeout/error/servfail/refused, report auth unresolved) in "
        f"the scan: {lost}; lost outcomes counted: {', '.join(LOST_OUTCOMES)}"
    )
    parts = [head, table(results, reps), verdicts]
    if memory:
        parts.append(memory)
    return "\n".join(parts)


def _write_dnsperf_input(questions: Path, path: Path) -> None:
    with open(path, "w", encoding="ascii") as out:
        for item in read_questions(questions):
            for name in item.all():
                out.write(f"{name} TXT\n")


def _write_sample(domains_csv: Path, path: Path, count: int) -> None:
    """`count` domains evenly spread over the lab's list (every case mix, not the top ranks)."""
    names = [line.split(",", 1)[0] for line in domains_csv.read_text().splitlines()[1:]]
    step = max(1, len(names) // count)
    path.write_text("\n".join(names[::step][:count]) + "\n")


if __name__ == "__main__":
    main()
