"""Reports at scale (issue 11): `scripts/bench --report-scale`.

Generates a lab (100,000 domains), serves it with Knot on a loopback port and scans it once,
then builds snapshots of 1M, 10M and 40M rows by replicating the lab snapshot's parts: copy k
renames every domain's organization by a label prefix (`example.com` → `c7-example.com`, its
domain and self-hosted report hosts with it; vendor and third-party hosts stay), so organizations
and (host, organization) pairs grow with the rows as they would in a real list. Each snapshot
is written as the snapshot writer writes one (zstd parts of the lab's chunk size, in part order)
with a complete manifest.

Measured, each `survey …` command in a child process (wall, and the peak RSS of its process
tree from /proc, `bench_lib.run_measured`):

  before  main's pandas path (`--before-rev`, run from a `git archive` of that revision with this
          venv's packages): `survey report` at 1M and 2M only (it needs ~1.8 GB per million rows)
  after   `survey report` with no tallies (computes and stores them), then again (reads them)
  trend   `survey trend` over 12 snapshots of the largest size: hard links of its parts and
          a copy of its tallies under labels 2026-01 … 2026-12; and over 12 of 1M without
          tallies (each computed and stored)

Prints a Markdown table (also bench-out/report-scale/report-scale.md) and removes the
snapshots it built unless `--keep`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lib import run_measured

from survey.lab.generate import generate_lab
from survey.lab.knot import KnotServer
from survey.store.snapshot import MANIFEST, PARTS_DIR, SnapshotWriter, part_name

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1_000_000, 10_000_000, 40_000_000)
BEFORE_SIZES = (1_000_000, 2_000_000)
TREND_POINTS = 12


def say(text: str) -> None:
    print(f"[bench-report {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- the lab snapshot -------------------------------------------------------------------------


def lab_snapshot(out: Path, domains: int, seed: int, log: Any) -> Path:
    """The lab, generated and scanned once (both kept for the next run)."""
    lab = out / f"lab-{domains}-seed{seed}"
    folder = out / "base" / "lab"
    if (folder / MANIFEST).is_file() and json.loads((folder / MANIFEST).read_text())[
        "status"
    ] == "complete":
        return folder
    if not (lab / "lab.json").is_file():
        say(f"generating a lab of {domains:,} domains")
        generate_lab(domains, lab, seed=seed)
    shutil.rmtree(folder, ignore_errors=True)
    with KnotServer(lab) as knot:
        say(f"scanning it through Knot on 127.0.0.1:{knot.port}")
        argv = [sys.executable, "-m", "survey", "scan", str(lab / "domains.csv"), "--label"]
        argv += ["lab", "--snapshots", str(out / "base"), "--quiet"]
        usage = run_measured([*argv, "--nameserver", f"127.0.0.1:{knot.port}"], log)
    if usage.returncode != 0:
        raise SystemExit(f"survey scan of the lab failed ({usage.returncode})")
    return folder


# -- replicas -----------------------------------------------------------------------------------


class Template:
    """One lab part, prepared once so each copy is a few vectorised string joins."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        domains, orgs = table["domain"].to_pylist(), table["org_domain"].to_pylist()
        self.org = pa.array(orgs, pa.string())
        self.domain_head = pa.array(_heads(domains, orgs), pa.string())
        self.hosts = {name: _HostTemplate(table[name].combine_chunks(), orgs) for name in HOSTS}

    def copy(self, k: int) -> pa.Table:
        tag = pa.scalar(f"c{k}-")
        renamed = pc.binary_join_element_wise(self.domain_head, tag, self.org, "")
        plain = pc.binary_join_element_wise(pa.scalar(f"c{k}."), self.table["domain"], "")
        columns = {
            "domain": pc.if_else(pc.is_null(renamed), plain, renamed),
            "org_domain": pc.binary_join_element_wise(tag, self.org, ""),
            **{name: template.copy(tag) for name, template in self.hosts.items()},
        }
        table = self.table
        for name, values in columns.items():
            table = table.set_column(table.schema.get_field_index(name), name, values)
        return table


HOSTS = ("rua_hosts", "ruf_hosts")


def _heads(names: list[str | None], orgs: list[str | None]) -> list[str | None]:
    """What precedes the organization in each name (None: the name is not in it)."""
    return [
        name[: len(name) - len(org)] if name and org and _within(name, org) else None
        for name, org in zip(names, orgs, strict=True)
    ]


def _within(name: str, org: str) -> bool:
    return name == org or name.endswith("." + org)


class _HostTemplate:
    """A list column of hosts: hosts inside the row's organization are renamed with it."""

    def __init__(self, lists: pa.ListArray, orgs: list[str | None]) -> None:
        offsets = lists.offsets.to_numpy()
        self.lists, self.values = lists, lists.values.slice(offsets[0], offsets[-1] - offsets[0])
        parents = np.repeat(np.arange(len(lists)), np.diff(offsets))
        element_orgs = [orgs[i] for i in parents]
        self.head = pa.array(_heads(self.values.to_pylist(), element_orgs), pa.string())
        self.org = pa.array(element_orgs, pa.string())

    def copy(self, tag: pa.Scalar) -> pa.Array:
        renamed = pc.binary_join_element_wise(self.head, tag, self.org, "")
        values = pc.coalesce(renamed, self.values)
        offsets = pa.array(self.lists.offsets.to_numpy() - self.lists.offsets[0].as_py())
        return pa.ListArray.from_arrays(offsets, values, mask=pc.is_null(self.lists))


def build_replica(base: Path, folder: Path, rows: int) -> Path:
    """A complete snapshot of `rows` rows (a multiple of the lab's) at `folder`."""
    if (folder / MANIFEST).is_file():
        return folder
    parts = sorted((base / PARTS_DIR).glob("part-*.parquet"))
    templates = [Template(pq.read_table(p)) for p in parts]
    base_rows = sum(t.table.num_rows for t in templates)
    copies = rows // base_rows
    tmp = folder.with_name(folder.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"building {folder.name}: {copies} copies of {len(parts)} parts")
    with SnapshotWriter(tmp) as writer:
        for k in range(copies):
            for i, template in enumerate(templates):
                # As the writer writes a part, without its fsync per part (hours at 40M here):
                # the folder is renamed into place only once every part and the manifest are.
                path = tmp / PARTS_DIR / part_name(k * len(templates) + i)
                pq.write_table(template.copy(k), path, compression="zstd")
        writer.write_manifest(_manifest(base, folder.name, copies * base_rows, copies * len(parts)))
    os.replace(tmp, folder)
    return folder


def _manifest(base: Path, label: str, rows: int, parts: int) -> dict[str, Any]:
    manifest = json.loads((base / MANIFEST).read_text())
    given = manifest["input"]
    given.update(path=f"replicated from {base}", lines=rows, accepted=rows, unique=rows)
    given.update(rejected=0, duplicates=0)
    manifest.update(label=label, rows=rows, parts=parts, status="complete")
    manifest["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return manifest


def trend_set(source: Path, root: Path, points: int = TREND_POINTS) -> Path:
    """`points` snapshots sharing `source`'s parts (hard links) and its tallies (copied)."""
    shutil.rmtree(root, ignore_errors=True)
    for month in range(1, points + 1):
        folder = root / f"2026-{month:02d}"
        (folder / PARTS_DIR).mkdir(parents=True)
        for part in (source / PARTS_DIR).glob("part-*.parquet"):
            os.link(part, folder / PARTS_DIR / part.name)
        manifest = json.loads((source / MANIFEST).read_text())
        (folder / MANIFEST).write_text(json.dumps({**manifest, "label": folder.name}))
        if (source / "tallies").is_dir():
            shutil.copytree(source / "tallies", folder / "tallies")
    return root


# -- measuring ------------------------------------------------------------------------------------


def before_source(out: Path, rev: str) -> Path:
    """The `survey` package (and data/) of `rev`, for main's pandas path."""
    folder = out / f"before-{rev}"
    if not (folder / "survey").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "survey", "data"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(argv: list[str], log: Any, source: Path | None = None) -> dict[str, Any]:
    """Run the `survey` command (from the package under `source` when given) and measure it."""
    command = [sys.executable, "-m", "survey"]
    if source is not None:  # first on sys.path: ahead of the editable install and of `-m`'s cwd
        start = f"import sys; sys.path.insert(0, {str(source)!r}); from survey.cli.main import main"
        command = [sys.executable, "-c", start + "; main()"]
    print(f"$ {' '.join(command)} {' '.join(argv)}", file=log, flush=True)
    usage = run_measured([*command, *argv], log)
    if usage.returncode != 0:
        raise SystemExit(f"survey {argv[0]} failed ({usage.returncode}); see the log")
    load = os.getloadavg()[0]  # the machine is shared: a busy one stretches the wall time
    cpu = round(usage.cpu, 1)
    return {
        "wall": round(usage.wall, 1),
        "cpu": cpu,
        "peak_rss_mb": round(usage.peak_rss_mb),
        "load": load,
    }


def report(snapshot: Path, out: Path, log: Any, source: Path | None = None) -> dict[str, Any]:
    target = out / "reports" / snapshot.name
    shutil.rmtree(target, ignore_errors=True)
    result = measure(["report", str(snapshot), "--out", str(target)], log, source)
    shutil.rmtree(target, ignore_errors=True)
    return result


def trend(root: Path, out: Path, log: Any) -> dict[str, Any]:
    target = out / "reports" / f"trend-{root.name}"
    result = measure(["trend", str(root), "--out", str(target)], log)
    shutil.rmtree(target, ignore_errors=True)
    return result


def _size(rows: int) -> str:
    return f"{rows // 1_000_000}M"


def table(results: dict[str, Any]) -> str:
    """The README's table."""
    lines = [
        "| rows | report before (main, pandas) | report after, no tallies | report after, tallies"
        " present | parts on disk |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for rows, row in results["sizes"].items():
        before = row.get("before")
        cells = [_cell(before) if before else "—"]
        cells += [_cell(row[k]) if k in row else "—" for k in ("cold", "warm")]
        lines.append(f"| {_size(int(rows))} | " + " | ".join(cells) + f" | {row['disk_mb']:,} MB |")
    for name, row in results["trend"].items():
        lines.append(f"\n`survey trend`, {name}: {_cell(row)}")
    return "\n".join(lines)


def _cell(run: dict[str, Any]) -> str:
    return f"{run['wall']} s ({run.get('cpu', '?')} s CPU), {run['peak_rss_mb']:,} MB"


def _disk_mb(folder: Path) -> int:
    return round(sum(p.stat().st_size for p in (folder / PARTS_DIR).iterdir()) / 2**20)


def run_sizes(args: argparse.Namespace, base: Path, out: Path, log: Any) -> dict[str, Any]:
    sizes: dict[str, Any] = {}
    source = before_source(out, args.before_rev)
    for rows in sorted({*args.sizes, *args.before_sizes}):
        folder = build_replica(base, out / "scale" / f"snap-{_size(rows)}", rows)
        row: dict[str, Any] = {"disk_mb": _disk_mb(folder)}
        if rows in args.before_sizes:
            say(f"{_size(rows)}: survey report, before (main's pandas path)")
            row["before"] = report(folder, out, log, source)
        if rows in args.sizes:
            shutil.rmtree(folder / "tallies", ignore_errors=True)
            say(f"{_size(rows)}: survey report, after, no tallies")
            row["cold"] = report(folder, out, log)
            say(f"{_size(rows)}: survey report, after, tallies present")
            row["warm"] = report(folder, out, log)
        sizes[str(rows)] = row
        say(f"{_size(rows)}: {row}")
        (out / "report-scale.partial.json").write_text(json.dumps(sizes, indent=2) + "\n")
    return sizes


def run_trends(args: argparse.Namespace, out: Path, log: Any) -> dict[str, Any]:
    largest, smallest = max(args.sizes), min(args.sizes)
    trends = {}
    root = trend_set(out / "scale" / f"snap-{_size(largest)}", out / "scale" / "trend-warm")
    say(f"survey trend over {TREND_POINTS} x {_size(largest)}, tallies present")
    trends[f"{TREND_POINTS} x {_size(largest)} rows, tallies present"] = trend(root, out, log)
    say(f"trend: {trends}")
    shutil.rmtree(root)
    source = out / "scale" / f"snap-{_size(smallest)}"
    shutil.rmtree(source / "tallies", ignore_errors=True)
    root = trend_set(source, out / "scale" / "trend-cold")
    say(f"survey trend over {TREND_POINTS} x {_size(smallest)}, no tallies")
    trends[f"{TREND_POINTS} x {_size(smallest)} rows, no tallies (each computed)"] = trend(
        root, out, log
    )
    shutil.rmtree(root)
    return trends


def main() -> None:
    parser = argparse.ArgumentParser(description="Reports at scale (issue 11).")
    parser.add_argument("--report-scale", action="store_true", help="(how scripts/bench calls it)")
    parser.add_argument("--domains", type=int, default=100_000, help="lab size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--before-sizes", type=int, nargs="*", default=list(BEFORE_SIZES))
    parser.add_argument("--before-rev", default="main", help="revision of the pandas path")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "report-scale")
    parser.add_argument("--keep", action="store_true", help="keep the snapshots built")
    parser.add_argument("--skip-trend", action="store_true", help="no survey trend runs")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bench.log", "a", encoding="utf-8") as log:
        base = lab_snapshot(out, args.domains, args.seed, log)
        began = dt.datetime.now(dt.UTC)
        results = {"sizes": run_sizes(args, base, out, log), "trend": {}}
        if not args.skip_trend:
            results["trend"] = run_trends(args, out, log)
    (out / "report-scale.json").write_text(json.dumps(results, indent=2) + "\n")
    head = (
        f"{began:%Y-%m-%d}, {platform.node()} ({os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}), lab of {args.domains:,} domains replicated"
    )
    text = head + "\n\n" + table(results)
    print(text)
    (out / "report-scale.md").write_text(text + "\n")
    if not args.keep:
        shutil.rmtree(out / "scale", ignore_errors=True)


if __name__ == "__main__":
    main()
