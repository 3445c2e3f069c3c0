"""Scans on a Dask cluster (survey/scan/cluster.py): a real `dask scheduler` and two `dask worker`
processes on loopback, the Knot lab's truth, a worker SIGKILLed mid-scan, SIGINT and resume, a
scheduler out of reach, and one killed mid-run then a resume on a cluster that is back.

Kill points are query numbers seen by the fault proxy, as in test_crash.py: the test acts from
the proxy's `on_query` hook, so the scan is mid-chunk by construction, never by a timer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("distributed")  # the `cluster` extra (scripts/bootstrap installs it)
from distributed import Client

from survey.dns.settings import ResolverSettings, system_nameservers
from survey.errors import ClusterError, InputError
from survey.input.stream import InputDomain
from survey.lab.compare import COMPARED, differing, expected_rows, rows_by_domain, snapshot_rows
from survey.lab.faults import FaultProxy
from survey.scan.cluster import DaskRunner, scan_chunk
from survey.scan.pipeline import ScanOptions, cluster_address, run_scan, runner_for
from survey.scan.runners import RunnerSetup
from survey.store.snapshot import PARTS_DIR, part_name
from survey.verdict.dkim import SelectorList

N = 1200
CHUNK = 100
WAIT = 120  # seconds a process or a state may take at most before the test fails

#: The scan's default DKIM selectors: the lab's truth is stated for them.
DEFAULT_DKIM = SelectorList.load("default")


@dataclass
class DaskCluster:
    """A scheduler and workers, each a process of its own, as a user starts them."""

    folder: Path
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return str(json.loads((self.folder / "scheduler.json").read_text())["address"])

    def client(self) -> Client:
        return Client(self.address, set_as_default=False, timeout=WAIT)

    def stop(self) -> None:
        for process in (*self.workers, self.scheduler):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (*self.workers, self.scheduler):
            try:
                process.wait(WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def dask_process(folder: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "dask", *args, "--no-dashboard"]
    with (folder / f"{name}.log").open("wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def start_cluster(folder: Path, workers: int = 2) -> DaskCluster:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "scheduler.json"
    file.unlink(missing_ok=True)
    scheduler = dask_process(
        folder, "scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
        "--scheduler-file", str(file),
    )  # fmt: skip
    cluster = DaskCluster(folder, scheduler)
    wait_for(file.exists, "the scheduler's address file")
    for i in range(workers):
        args = [
            "worker", "--scheduler-file", str(file), "--host", "127.0.0.1", "--nthreads", "1",
            "--local-directory", str(folder / f"worker-{i}"),
        ]  # fmt: skip
        cluster.workers.append(dask_process(folder, f"worker-{i}", *args))
    with cluster.client() as client:
        client.wait_for_workers(workers, timeout=WAIT)
    return cluster


def wait_for(condition, what: str) -> None:
    """Wait for a state (never for a length of time); fail after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT} s for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[DaskCluster]:
    started = start_cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def lab_input(knot_lab, tmp_path_factory) -> Path:
    return knot_lab.first_domains(N, tmp_path_factory.mktemp("cluster-input"))


def cluster_options(source: Path, snapshots: Path, nameserver: str, address: str, **more):
    settings = ResolverSettings(nameservers=(nameserver,), timeout=1.0)
    return ScanOptions(
        source, snapshots, "dask", settings, chunk_size=CHUNK, cluster=address, **more
    )


def assert_lab_truth(knot_lab, folder: Path) -> None:
    """Every domain once, each verdict the lab's truth, the snapshot complete and balanced."""
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["accounting"]["balanced"]
    domains: list[str] = []
    for part in sorted((folder / "domains").glob("part-*.parquet")):
        domains += pq.read_table(part, columns=["domain"])["domain"].to_pylist()
    assert len(domains) == len(set(domains)) == N
    truth = expected_rows(knot_lab.folder)
    rows = snapshot_rows(folder)
    wrong = {d: diff for d, got in rows.items() if (diff := differing(got, truth[d], COMPARED))}
    assert wrong == {}


def at_query(proxy: FaultProxy, number: int, act) -> None:
    """Run `act` once, from the proxy's thread, when query `number` (absolute) arrives."""
    fired: list[int] = []

    def hook(seen: int) -> None:
        if seen >= number and not fired:
            fired.append(seen)
            act()

    proxy.on_query = hook


def survey(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "survey", *args, "--quiet"]
    environment = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def scan_args(source: Path, snapshots: Path, nameserver: str, address: str) -> list[str]:
    return [
        "scan", str(source), "--label", "dask", "--snapshots", str(snapshots),
        "--nameserver", nameserver, "--timeout", "1", "--chunk-size", str(CHUNK),
        "--cluster", address,
    ]  # fmt: skip


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("tls://scheduler.lan:8786", "tls://scheduler.lan:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
    ],
)
def test_cluster_addresses(given: str, address: str) -> None:
    assert cluster_address(given) == address


@pytest.mark.parametrize("given", ["", "127.0.0.1", "http://h:1", "tcp://h:0", "tcp://h:70000"])
def test_bad_cluster_addresses_are_refused(given: str) -> None:
    with pytest.raises(InputError, match="--cluster"):
        cluster_address(given)


def test_cluster_and_workers_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--workers"):
        ScanOptions(tmp_path / "in.txt", tmp_path, "x", workers=2, cluster="tcp://h:1")
    options = ScanOptions(tmp_path / "in.txt", tmp_path, "x", cluster="h:8786")
    assert isinstance(runner_for(options, tmp_path), DaskRunner)


@pytest.mark.knot
def test_a_task_run_again_rewrites_the_same_part_whole(knot_lab, tmp_path: Path) -> None:
    # What the scheduler does when the worker running a task died: run it again elsewhere.
    (tmp_path / PARTS_DIR).mkdir()
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=1.0)
    setup = RunnerSetup(tmp_path, settings, True, None, chunks_in_flight=2, dkim=DEFAULT_DKIM)
    rows = knot_lab.domains_csv.read_text().splitlines()[1:201]
    chunk = [InputDomain(row.split(",")[0], None, None) for row in rows]
    first, again = scan_chunk(setup, 7, chunk), scan_chunk(setup, 7, chunk)
    assert first.domains == again.domains == 200 and first.types == again.types
    assert sum(first.counts.questions.values()) >= 400 and first.worker == "local"
    assert [p.name for p in (tmp_path / PARTS_DIR).iterdir()] == [part_name(7)]
    part = pq.read_table(tmp_path / PARTS_DIR / part_name(7)).to_pandas()
    assert list(part.domain) == [item.domain for item in chunk]
    truth = expected_rows(knot_lab.folder)
    wrong = [d for d, row in rows_by_domain(part).items() if differing(row, truth[d], COMPARED)]
    assert wrong == []


def test_without_dask_the_cluster_option_says_what_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.delitem(sys.modules, "survey.scan.cluster")
    for module in ("dask", "distributed"):  # as if the `cluster` extra were missing
        monkeypatch.setitem(sys.modules, module, None)
    options = ScanOptions(tmp_path / "in.txt", tmp_path, "x", cluster="127.0.0.1:8786")
    with pytest.raises(InputError, match=r"pip install 'dmarc-survey\[cluster\]'"):
        runner_for(options, tmp_path)


# -- on a real cluster ----------------------------------------------------------------------


@pytest.mark.knot
def test_a_cluster_scan_gives_the_lab_truth(knot_lab, lab_input, cluster, tmp_path) -> None:
    options = cluster_options(lab_input, tmp_path, knot_lab.nameserver, cluster.address)
    chunks: list[int] = []
    summary = run_scan(options, lambda done: chunks.append(done.domains) if done.domains else None)
    assert summary.status == "complete"
    assert sorted(chunks) == [CHUNK] * (N // CHUNK)  # each part counted by the parent once
    assert_lab_truth(knot_lab, summary.folder)
    entry = summary.manifest["runs"][-1]
    with cluster.client() as client:
        workers = set(client.scheduler_info()["workers"])
    assert entry["runner"]["kind"] == "dask" and entry["runner"]["cluster"] == cluster.address
    assert entry["runner"]["threads"] == 2
    assert set(entry["runner"]["workers"]) <= workers and entry["workers"] >= 1
    questions = sum(entry["questions"].values())
    assert sum(entry["transport"]["tries"].values()) >= questions > 2 * N
    # each task's SPF evaluations, summed by the parent: one per row with a single record
    lookups = pq.read_table(summary.folder / "domains", columns=["spf_lookups"])["spf_lookups"]
    assert entry["spf_eval"]["domains"] == len(lookups) - lookups.null_count > 0


@pytest.mark.knot
def test_a_worker_killed_mid_chunk_loses_nothing(knot_lab, lab_input, cluster, tmp_path) -> None:
    # The proxy's thread only raises a flag at query 600 (it must keep answering); a thread of
    # the test then SIGKILLs a worker the scheduler says is running a chunk.
    killed: list[str] = []
    mid_scan, scanned = threading.Event(), threading.Event()
    with cluster.client() as client, FaultProxy(("127.0.0.1", knot_lab.port)) as proxy:
        pids = client.run(os.getpid)

        def kill_a_busy_worker() -> None:
            mid_scan.wait(WAIT)
            while not killed and not scanned.is_set():
                busy = [address for address, keys in client.processing().items() if keys]
                if busy:
                    killed.append(busy[0])
                    os.kill(pids[busy[0]], signal.SIGKILL)  # its nanny starts a new one

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        at_query(proxy, 600, mid_scan.set)
        try:
            summary = run_scan(
                cluster_options(lab_input, tmp_path, proxy.nameserver, cluster.address)
            )
        finally:
            scanned.set()
            mid_scan.set()
            killer.join()
        client.wait_for_workers(2, timeout=WAIT)  # the next test has two again
        assert len(killed) == 1 and killed[0] not in client.run(os.getpid)
    assert summary.status == "complete"
    assert_lab_truth(knot_lab, summary.folder)


@pytest.mark.knot
def test_sigint_stops_a_cluster_scan_and_resume_finishes_it(
    knot_lab, lab_input, cluster, tmp_path
) -> None:
    folder = tmp_path / "dask"
    with FaultProxy(("127.0.0.1", knot_lab.port)) as proxy:
        process = survey(*scan_args(lab_input, tmp_path, proxy.nameserver, cluster.address))
        at_query(proxy, 600, lambda: process.send_signal(signal.SIGINT))
        _, stderr = process.communicate(timeout=WAIT)
        # The chunks in flight finish on their workers after the parent exits; the resolver
        # stays up until they have (closing it first would make their rows timeouts).
        # A cancelled task leaves the scheduler's books at once but its thread runs to the end,
        # so idle means no worker thread running a task.
        with cluster.client() as client:  # only the tasks in flight ran: the input was not queued
            running = lambda dask_worker: len(dask_worker.active_threads)  # noqa: E731 (by value)
            wait_for(lambda: not any(client.run(running).values()), "the workers to idle")
    assert process.returncode == 3, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert len(list((folder / "domains").glob("part-*.parquet"))) < N // CHUNK
    resumed = run_scan(
        cluster_options(lab_input, tmp_path, knot_lab.nameserver, cluster.address, resume=True)
    )
    assert resumed.manifest["runs"][-1]["kind"] == "resume"
    assert_lab_truth(knot_lab, folder)


def test_an_unreachable_scheduler_is_one_error_line_and_no_snapshot(
    knot_lab, lab_input, tmp_path
) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    args = scan_args(lab_input, tmp_path, knot_lab.nameserver, address)
    process = survey(*args, env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    _, stderr = process.communicate(timeout=WAIT)
    assert process.returncode == 2
    assert stderr.splitlines() == [stderr.strip()]
    assert stderr.startswith(f"survey: error: cannot reach the Dask scheduler at {address}")
    assert not (tmp_path / "dask").exists()


def test_workers_that_cannot_write_the_snapshot_are_refused(lab_input, cluster, tmp_path) -> None:
    # A folder the workers do not see (here: one that does not exist), as on a machine that
    # lacks the shared mount: refused before the input is read, not one failed task per chunk.
    options = cluster_options(lab_input, tmp_path, "127.0.0.1:9", cluster.address)
    runner = runner_for(options, tmp_path / "not-mounted")
    with pytest.raises(ClusterError, match="cannot write into the snapshot folder"):
        runner.check()


def test_without_nameserver_each_worker_names_its_own_resolver(cluster, tmp_path) -> None:
    # Checked, never asked: the tests query loopback only.
    (tmp_path / "dask" / PARTS_DIR).mkdir(parents=True)
    options = ScanOptions(tmp_path / "in.txt", tmp_path, "dask", cluster=cluster.address)
    runner = runner_for(options, tmp_path / "dask")
    runner.check()
    described = runner.describe()
    assert described["threads"] == 2 and described["cluster"] == cluster.address
    assert described["system_nameservers"] == {socket.gethostname(): list(system_nameservers())}
    assert list((tmp_path / "dask" / PARTS_DIR).iterdir()) == []  # the probe files are gone


@pytest.mark.knot
def test_a_scheduler_killed_mid_run_then_resume_on_a_cluster_back(
    knot_lab, lab_input, cluster, tmp_path
) -> None:
    # Dask workers close when their scheduler goes: "back" is a cluster started again, here the
    # module's (the address may differ; the snapshot does not depend on it).
    folder = tmp_path / "dask"
    first = start_cluster(tmp_path / "first", workers=1)
    try:
        with FaultProxy(("127.0.0.1", knot_lab.port)) as proxy:
            process = survey(*scan_args(lab_input, tmp_path, proxy.nameserver, first.address))
            at_query(proxy, 600, first.scheduler.kill)
            _, stderr = process.communicate(timeout=WAIT)
    finally:
        first.stop()
    assert process.returncode == 2, stderr
    assert stderr.splitlines() == [stderr.strip()]
    assert stderr.startswith(f"survey: error: lost the Dask scheduler at {first.address}")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "--resume" in manifest["error"]
    assert manifest["runs"][-1]["runner"]["cluster"] == first.address
    assert len(list((folder / "domains").glob("part-*.parquet"))) < N // CHUNK
    resumed = run_scan(
        cluster_options(lab_input, tmp_path, knot_lab.nameserver, cluster.address, resume=True)
    )
    assert resumed.manifest["runs"][-1]["runner"]["cluster"] == cluster.address
    assert_lab_truth(knot_lab, folder)
