"""Only loopback: the lab, the fault proxy and the demo can send packets to 127.0.0.0/8 or ::1
and nowhere else."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from survey.cli import demo
from survey.errors import LabError
from survey.lab.faults import FaultProxy
from survey.lab.knot import CONFIG, KnotServer
from survey.lab.serve import LabServer
from survey.scan.pipeline import ScanOptions, ScanSummary

OFF_HOST = ["0.0.0.0", "192.0.2.1", "8.8.8.8", "::", "2001:db8::1", "localhost", "dns.example"]


def host_of(nameserver: str) -> str:
    host = nameserver.rsplit(":", 1)[0]
    return host.strip("[]")


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


@pytest.mark.parametrize("host", OFF_HOST)
def test_lab_server_refuses_to_bind_off_loopback(host, tmp_path) -> None:
    with pytest.raises(LabError, match="loopback"):
        LabServer(tmp_path / "root.zone", host=host)


@pytest.mark.parametrize("host", OFF_HOST)
def test_fault_proxy_refuses_off_loopback_upstream_and_bind(host) -> None:
    with pytest.raises(LabError, match="loopback"):
        FaultProxy((host, 53))
    with pytest.raises(LabError, match="loopback"):
        FaultProxy(("127.0.0.1", 53), host=host)


def test_knot_listens_on_loopback_only() -> None:
    assert is_loopback(KnotServer.host)
    listens = [line.split(":", 1)[1] for line in CONFIG.splitlines() if "listen:" in line]
    assert listens == [" 127.0.0.1@{port}"]


def test_fault_proxy_names_a_loopback_nameserver() -> None:
    with FaultProxy(("127.0.0.1", 9)) as proxy:
        assert is_loopback(host_of(proxy.nameserver))
    with FaultProxy(("::1", 9), host="::1") as proxy:
        assert is_loopback(host_of(proxy.nameserver))


def test_demo_resolver_names_only_the_loopback_lab(monkeypatch, tmp_path: Path) -> None:
    """The demo's real scan path, with every ScanOptions it builds recorded on the way."""
    seen: list[ScanOptions] = []
    real_run_scan = demo.run_scan

    def recording(options: ScanOptions, progress=None) -> ScanSummary:
        seen.append(options)
        return real_run_scan(options, progress)

    monkeypatch.setattr(demo, "run_scan", recording)
    lab = tmp_path / "lab"
    demo.generate_lab(60, lab, seed=1)
    summary = demo._scan_served_lab(lab, tmp_path / "snaps", "demo", None)
    assert summary.status == "complete"
    assert seen
    for options in seen:
        servers = options.resolver.nameservers
        assert servers, "an empty list would mean the system resolver"
        assert all(is_loopback(host_of(s)) for s in servers), servers


def test_cli_lab_serve_refuses_off_loopback(monkeypatch, capsys, tmp_path) -> None:
    import sys

    from survey.cli.main import main

    monkeypatch.setattr(
        sys, "argv", ["survey", "lab", "serve", str(tmp_path), "--host", "0.0.0.0", "--port", "0"]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "loopback" in capsys.readouterr().err
