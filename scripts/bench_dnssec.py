"""What the DO bit costs (issue 15): the benchmark's lab with its root zone signed by Knot,
so that every answer to a DO query carries signatures (an RRSIG; NSEC records and theirs for a
denial), asked two ways on the same server:

  bytes   the domains' own TXT questions (`TXT d`, the one the scan asks with DO and AD), a
          sample asked one at a time without and with DO: reply octets (over TCP when the
          UDP reply came truncated at 1232), and how many needed TCP;
  scan    `survey scan` of the whole lab, this tree and `--base` (another worktree, e.g. main
          before the change, run with this .venv and PYTHONPATH), alternating, `--reps` each:
          domains/s, CPU seconds, questions over TCP;
  pool    with `--questions FILE`: the pool floor (scripts/bench_floor.py --client pool) of
          both trees, alternating: the resolver pool's own cost, nothing else. FILE is
          scripts/bench's questions.tsv for the same lab; a FILE that does not exist yet is
          written from the first scan (the questions `survey scan` asked, as scripts/bench does).

`--tree` puts another worktree in this tree's place (e.g. two old revisions' pool floors:
`--plain --skip-bytes --skip-scan --tree A --base B --questions Q`).

`--plain` serves the lab unsigned instead (what a scan of today's unsigned lab costs, this
tree against the base, in alternating runs on one server: the load on a shared machine moves
too much between two `scripts/bench` runs to compare them).

The server is Knot alone: it answers DO queries with signatures and sets no AD bit (every
`dnssec` is `insecure`); what a validating resolver adds is the resolver's own cost.

    .venv/bin/python scripts/bench_dnssec.py --base ../wt-main [--domains 200000] [--reps 1]
        [--tree ../wt-other] [--plain] [--questions Q] [--skip-bytes] [--skip-scan]

Only 127.0.0.1 is queried.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lib import questions_from_snapshot, read_json, run_measured, write_questions

from survey.dns import wire
from survey.dns.wire import QueryFlags
from survey.lab.dnssec import DnssecLab, SignedKnotServer, sign_root
from survey.lab.generate import generate_lab
from survey.lab.knot import KnotServer

ROOT = Path(__file__).resolve().parent.parent
LAB_FILES = ("root.zone", "domains.csv", "expected.parquet", "cases.parquet", "lab.json")
RECEIVE_BUFFER = 4 * 1024 * 1024


def say(text: str) -> None:
    print(f"[bench-dnssec {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def signed_lab(out: Path, domains: int, seed: int) -> Path:
    """The bench's lab (generated once), copied and its root zone's keys made."""
    plain = out / f"lab-{domains}-seed{seed}"
    if not (plain / "lab.json").is_file():
        say(f"generating a lab of {domains:,} domains in {plain}")
        generate_lab(domains, plain, seed=seed)
    signed = out / f"signed-{domains}-seed{seed}"
    if not (signed / "dnssec.json").is_file():
        shutil.rmtree(signed, ignore_errors=True)
        signed.mkdir(parents=True)
        for name in LAB_FILES:
            shutil.copy2(plain / name, signed / name)
        sign_root(signed)
    return signed


def exchange(port: int, message: bytes, tcp: bool) -> bytes:
    family = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, family) as sock:
        sock.settimeout(2.0)
        sock.connect(("127.0.0.1", port))
        if not tcp:
            sock.send(message)
            return sock.recv(65535)
        sock.sendall(len(message).to_bytes(2, "big") + message)
        size = int.from_bytes(_read(sock, 2), "big")
        return _read(sock, size)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def reply_sizes(port: int, names: list[str], flags: QueryFlags) -> dict[str, float]:
    """Octets of the replies to `TXT name` for each name, and how many came over TCP."""
    total = tcp = 0
    for qid, name in enumerate(names):
        question = wire.question(name)
        message = wire.query(qid % 65536, question, True, flags)
        reply = exchange(port, message, tcp=False)
        if wire.is_truncated(reply):
            reply = exchange(port, message, tcp=True)
            tcp += 1
        total += len(reply)
    return {"questions": len(names), "octets": total, "mean": total / len(names), "tcp": tcp}


def tree_env(tree: Path | None) -> dict[str, str]:
    """The environment that makes `python -P` import the code of `tree` (None: this one's)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def pool_floor(tree: Path | None, questions: Path, out: Path, nameserver: str) -> dict[str, Any]:
    script = (tree or ROOT) / "scripts" / "bench_floor.py"
    result = out / "floor-dnssec.json"
    argv = [sys.executable, "-P", str(script), str(questions), str(result)]
    argv += ["--nameserver", nameserver, "--client", "pool"]
    with open(out / "bench-dnssec.log", "a") as log:
        usage = run_measured(argv, log, tree_env(tree))
    found = read_json(result)
    return {"elapsed": found["elapsed"], "cpu": usage.cpu, "outcomes": found.get("outcomes")}


def scan(
    tree: Path | None, lab: Path, out: Path, label: str, nameserver: str, questions: Path | None
) -> dict[str, Any]:
    """`survey scan` of the lab by the code of `tree` (None: this one's); the questions it
    asked written to `questions` if that names a file not there yet."""
    env = tree_env(tree)
    snapshots = out / "snapshots"
    shutil.rmtree(snapshots / label, ignore_errors=True)
    argv = [sys.executable, "-P", "-m", "survey", "scan", str(lab / "domains.csv"), "--label"]
    argv += [label, "--snapshots", str(snapshots), "--nameserver", nameserver, "--quiet"]
    with open(out / "bench-dnssec.log", "a") as log:
        usage = run_measured(argv, log, env)
    manifest = read_json(snapshots / label / "manifest.json")
    if usage.returncode != 0 or manifest["status"] != "complete":
        raise SystemExit(f"survey scan failed ({usage.returncode}, {manifest['status']})")
    if questions is not None and not questions.exists():
        count = write_questions(questions, questions_from_snapshot(snapshots / label / "domains"))
        say(f"the scan asked {count:,} questions: written to {questions}")
    shutil.rmtree(snapshots / label / "domains", ignore_errors=True)
    elapsed = manifest["elapsed_seconds"]
    return {
        "domains/s": manifest["rows"] / elapsed,
        "elapsed": elapsed,
        "cpu": usage.cpu,
        "tcp": manifest["runs"][-1]["transport"]["tcp"],
        "unresolved": manifest["unresolved"],
        "dnssec": manifest.get("dnssec"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--sample", type=int, default=20_000, help="names asked for the bytes")
    parser.add_argument("--base", type=Path, help="a worktree of the revision to compare with")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    parser.add_argument("--plain", action="store_true", help="serve the lab unsigned")
    parser.add_argument("--questions", type=Path, help="also the pool floors on these")
    parser.add_argument("--base-first", action="store_true", help="each rep: base, then this")
    parser.add_argument("--tree", type=Path, help="a worktree measured in this one's place")
    parser.add_argument("--skip-bytes", action="store_true", help="no reply-size sample")
    parser.add_argument("--skip-scan", action="store_true", help="only the pool floors")
    args = parser.parse_args()
    questions = args.questions.resolve() if args.questions else None
    if args.skip_scan and (questions is None or not questions.exists()):
        parser.error("--skip-scan needs --questions naming an existing file")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lab = signed_lab(out, args.domains, args.seed)
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "domains": args.domains}
    results["server"] = "plain" if args.plain else "signed"
    server = (
        KnotServer(lab, receive_buffer=RECEIVE_BUFFER)
        if args.plain
        else SignedKnotServer(DnssecLab.load(lab), receive_buffer=RECEIVE_BUFFER)
    )
    with server as knot:
        say(f"Knot serves {lab.name} ({results['server']}) on port {knot.port}")
        if not args.skip_bytes:
            names = (lab / "domains.csv").read_text().splitlines()[1:]
            domains = [n.split(",")[0] for n in names]
            sample = random.Random(args.seed).sample(domains, min(args.sample, len(domains)))
            for label, flags in (("plain", QueryFlags.NONE), ("do_ad", QueryFlags.DNSSEC)):
                results[f"bytes {label}"] = reply_sizes(knot.port, sample, flags)
                say(f"bytes {label}: {results[f'bytes {label}']}")
        this = args.tree.resolve() if args.tree else None
        trees = {"this": this, **({"base": args.base.resolve()} if args.base else {})}
        results["trees"] = {name: str(tree or ROOT) for name, tree in trees.items()}
        if args.base_first:
            trees = dict(reversed(trees.items()))
        nameserver = f"127.0.0.1:{knot.port}"
        for rep in range(1, args.reps + 1):
            for name, tree in trees.items():
                if not args.skip_scan:
                    label = f"dnssec-{name}-{rep}"
                    measured = scan(tree, lab, out, label, nameserver, questions)
                    results.setdefault(f"scan {name}", []).append(measured)
                    say(f"scan {name} {rep}: {measured}")
                if questions is not None:
                    floor = pool_floor(tree, questions, out, nameserver)
                    results.setdefault(f"pool {name}", []).append(floor)
                    say(f"pool {name} {rep}: {floor}")
        for key, runs in list(results.items()):
            if key.startswith(("scan ", "pool ")):
                results[f"median {key}"] = {
                    field: statistics.median(run[field] for run in runs)
                    for field in ("domains/s", "elapsed", "cpu")
                    if field in runs[0]
                }
    (out / f"bench-dnssec-{results['server']}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
