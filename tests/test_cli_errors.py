"""Bad input files and options: one clear error line, a non-zero exit, no traceback, nothing
half-written. A full disk while writing a part leaves the earlier parts and the manifest valid.

The CLI runs in-process through its real entry point (`survey.cli.main.main`), which is what the
`survey` console script calls; one case runs it as a subprocess to see the real stderr.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from survey.cli.main import main
from survey.dns.settings import ResolverSettings
from survey.scan.pipeline import ScanOptions, run_scan
from survey.store import snapshot as snapshot_module


def survey(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["survey", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def assert_one_error_line(code: int, stderr: str, *words: str) -> None:
    lines = stderr.strip().splitlines()
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("survey: error: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0], lines[0]


BAD_FILES = {
    "binary": (bytes(range(256)) * 40, "binary"),
    "utf16": ("example.com\nexample.org\n".encode("utf-16"), "binary"),
    "latin1": ("exämple-with-a-long-ascii-name.com\n".encode("latin-1") * 50, "invalid_encoding"),
    "csv_without_domain": (b"name,weight\nexample.com,3\n", "domain"),
    "empty": (b"", "empty"),
    "only_comments": (b"# nothing here\n\n   \n", "no domain"),
    "long_line": (b"a" * 10_000 + b".example\n", "line_too_long"),
    "parquet_named": (b"example.com\n", "Parquet"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_input_files(case, monkeypatch, capsys, tmp_path) -> None:
    content, word = BAD_FILES[case]
    source = tmp_path / ("in.parquet" if case == "parquet_named" else "in.txt")
    source.write_bytes(content)
    snapshots = tmp_path / "snaps"
    code, stderr = survey(monkeypatch, capsys, "scan", str(source), "--label", "bad",
                          "--snapshots", str(snapshots), "--nameserver", "127.0.0.1:9")  # fmt: skip
    assert_one_error_line(code, stderr, word)
    assert not (snapshots / "bad").exists()  # nothing half-written


BAD_OPTIONS = {
    "label_escapes": (["--label", "../../x"], "invalid snapshot label"),
    "nameserver_name": (["--nameserver", "dns.example"], "not an IP address"),
    "nameserver_port": (["--nameserver", "127.0.0.1:99999"], "port"),
    "negative_concurrency": (["--concurrency", "-5"], "--concurrency"),
    "zero_tries": (["--tries", "0"], "--tries"),
    "negative_timeout": (["--timeout", "-1"], "--timeout"),
    "unknown_option": (["--frobnicate"], "frobnicate"),
    "retry_with_input": (["--retry-unresolved", "x"], "--retry-unresolved"),
    "cluster_address": (["--cluster", "http://127.0.0.1:8786"], "--cluster"),
    "cluster_with_workers": (["--cluster", "tcp://127.0.0.1:9", "--workers", "2"], "--workers"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_options(case, monkeypatch, capsys, tmp_path) -> None:
    extra, word = BAD_OPTIONS[case]
    source = tmp_path / "in.txt"
    source.write_text("example.com\n")
    snapshots = tmp_path / "snaps"
    args = ["scan", str(source), "--snapshots", str(snapshots), "--label", "ok", *extra]
    if not any(a.startswith("--nameserver") for a in extra):
        args += ["--nameserver", "127.0.0.1:9"]
    code, stderr = survey(monkeypatch, capsys, *args)
    assert_one_error_line(code, stderr, word)
    assert not snapshots.exists() or not any(snapshots.iterdir())
    assert not (tmp_path.parent / "x").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "/nonexistent/domains.txt", "--nameserver", "127.0.0.1:9"],
        ["report", "/nonexistent/snapshot"],
        ["scan", "--retry-unresolved", "/nonexistent/snapshot"],
        ["scan"],
        ["no-such-command"],
    ],
)
def test_missing_things(args, monkeypatch, capsys) -> None:
    code, stderr = survey(monkeypatch, capsys, *args)
    assert_one_error_line(code, stderr)


def test_os_errors_are_one_line(monkeypatch, capsys, tmp_path) -> None:
    """A report folder under a regular file: NotADirectoryError, said in one line."""
    from snapshot_factory import write_snapshot

    folder = write_snapshot(tmp_path / "snaps", "ok")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, stderr = survey(monkeypatch, capsys, "report", str(folder), "--out",
                          str(blocker / "report"), "--format", "svg")  # fmt: skip
    assert_one_error_line(code, stderr, str(blocker))


def test_subprocess_stderr_is_one_line(tmp_path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(
        [sys.executable, "-m", "survey", "scan", str(tmp_path / "none.txt"),
         "--concurrency", "-1"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert_one_error_line(run.returncode, run.stderr, "--concurrency")


@pytest.mark.knot
def test_full_disk_keeps_earlier_parts_and_manifest_valid(
    knot_lab, monkeypatch, capsys, tmp_path
) -> None:
    lines = knot_lab.domains_csv.read_text().splitlines()[:601]
    source = tmp_path / "domains.csv"
    source.write_text("\n".join(lines) + "\n")
    real_write = snapshot_module.write_atomically
    parts_written = []

    def disk_fills_after_two_parts(path: Path, payload: bytes) -> None:
        if path.suffix == ".parquet" and len(parts_written) < 2:
            parts_written.append(path)
        elif len(parts_written) >= 2:  # from now on every write fails, manifest included
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            tmp.write_bytes(payload[: len(payload) // 2])  # half a file, as a full disk leaves
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
        real_write(path, payload)

    monkeypatch.setattr(snapshot_module, "write_atomically", disk_fills_after_two_parts)
    snapshots = tmp_path / "snaps"
    code, stderr = survey(monkeypatch, capsys, "scan", str(source), "--label", "full",
                          "--snapshots", str(snapshots), "--nameserver", knot_lab.nameserver,
                          "--chunk-size", "100", "--workers", "1", "--quiet")  # fmt: skip
    # --workers 1: the full disk is simulated in this process (spawned workers would not see it)
    assert_one_error_line(code, stderr, "No space left on device")
    folder = snapshots / "full"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "running"  # the last manifest that could be written
    parts = sorted((folder / "domains").glob("part-*.parquet"))
    assert parts == sorted(parts_written)
    assert sum(pq.read_table(p).num_rows for p in parts) == 200
    monkeypatch.setattr(snapshot_module, "write_atomically", real_write)  # disk freed
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=1.0)
    resumed = run_scan(
        ScanOptions(source, snapshots, "full", settings, chunk_size=100, resume=True)
    )
    assert resumed.status == "complete" and resumed.manifest["rows"] == 600
    assert not list((folder / "domains").glob(".*tmp*"))
