"""Knot DNS serving the lab zone: the realistic server for integration tests and benchmarks.

`KnotServer` writes its own knot.conf, storage and run directory into a temporary directory,
starts `knotd` on a loopback port and polls it with a real SOA query until the zone answers.
`udp-max-payload: 1232` (the DNS Flag Day 2020 value) makes large answers truncate over UDP and
come by TCP, as they do on the Internet.

Knot 3.2 has no setting for its UDP sockets' receive buffers: they get the kernel's default
(`net.core.rmem_default`, 208 KiB here), which overflows when a scan keeps 500 questions in
flight while the two share two cores (each dropped query is a timeout and a retry; the
README's Benchmark has the counts). `receive_buffer=` gives the sockets a
production resolver's buffer: the default is raised while knotd binds them (root only; the
previous value is put back as soon as they exist) and `receive_buffers` says what they got.
"""

import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from dnslib import QTYPE, RCODE, DNSRecord

from survey.errors import LabError

START_TIMEOUT = 20.0
POLL_TIMEOUT = 0.2
STOP_TIMEOUT = 10.0
UDP_MAX_PAYLOAD = 1232
UDP_WORKERS = 2  # one SO_REUSEPORT socket each
RMEM_DEFAULT = Path("/proc/sys/net/core/rmem_default")

CONFIG = """\
server:
    rundir: "{run}"
    listen: 127.0.0.1@{port}
    udp-max-payload: {payload}
    udp-workers: {udp_workers}
    tcp-workers: 2
    background-workers: 4

log:
  - target: "{log}"
    any: info

database:
    storage: "{run}"

template:
  - id: default
    storage: "{run}"
    semantic-checks: off
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    dnssec-signing: off

zone:
  - domain: .
    file: "{zone}"
"""


def knotd_path() -> str | None:
    """Where knotd is: on PATH, or in /usr/sbin which is often off a user's PATH."""
    return shutil.which("knotd") or shutil.which("knotd", path="/usr/sbin:/usr/local/sbin")


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on `host` right now."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise LabError(f"no free port on {host} for both UDP and TCP")


def udp_sockets_bound(port: int) -> int:
    """How many IPv4 UDP sockets are bound to `port` (from /proc/net/udp)."""
    try:
        table = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return 0
    suffix = f":{port:04X}"
    return sum(1 for line in table if line.split()[1].endswith(suffix))


def udp_receive_buffers(port: int) -> list[int]:
    """The receive buffer sizes (bytes) of the UDP sockets bound to `port`, from `ss`; empty
    when there are none or `ss` is missing."""
    ss = shutil.which("ss") or shutil.which("ss", path="/usr/sbin:/sbin:/usr/bin")
    if ss is None:
        return []
    try:
        shown = subprocess.run(
            [ss, "-uamnH", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(size) for size in re.findall(r"\brb(\d+)", shown)]


def soa_answers(
    port: int, host: str = "127.0.0.1", timeout: float = POLL_TIMEOUT, zone: str = "."
) -> bool:
    """True when the server on host@port answers the SOA of `zone` (the root) authoritatively."""
    query = DNSRecord.question(zone, "SOA")
    try:
        reply = DNSRecord.parse(query.send(host, port, timeout=timeout))
    except (OSError, ValueError):
        return False
    return bool(
        reply.header.rcode == RCODE.NOERROR
        and reply.header.aa
        and any(rr.rtype == QTYPE.SOA for rr in reply.rr)
    )


class KnotServer:
    """knotd serving `zone_dir/root.zone` as the zone `.` on 127.0.0.1@port."""

    host = "127.0.0.1"
    start_timeout = START_TIMEOUT  # seconds until the zone must answer

    def __init__(
        self, zone_dir: Path | str, port: int | None = None, receive_buffer: int | None = None
    ) -> None:
        self.zone_file = Path(zone_dir).resolve() / "root.zone"
        self.port = port or 0
        self._requested_port = port
        self.receive_buffer = receive_buffer  # bytes for knotd's UDP sockets; None: the default
        self.receive_buffers: list[int] = []  # what its UDP sockets got (from `ss`), once started
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.load_seconds: float | None = None

    @property
    def log_path(self) -> Path | None:
        return Path(self._tmp.name) / "knot.log" if self._tmp else None

    def start(self) -> "KnotServer":
        binary = knotd_path()
        if binary is None:
            raise LabError("knotd (Knot DNS) is not installed or not on PATH")
        if not self.zone_file.is_file():
            raise LabError(f"no zone file at {self.zone_file}")
        self.port = self._requested_port or free_port(self.host)
        self._tmp = tempfile.TemporaryDirectory(prefix="survey-knot-")
        conf = Path(self._tmp.name) / "knot.conf"
        conf.write_text(self._config(), encoding="utf-8")
        began = time.monotonic()
        with self._default_receive_buffer():
            self._process = subprocess.Popen(
                [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
            if self.receive_buffer is not None:
                self._wait_for_sockets(began)
        self._wait_until_ready(began)
        self.load_seconds = time.monotonic() - began
        self.receive_buffers = udp_receive_buffers(self.port)
        return self

    @contextlib.contextmanager
    def _default_receive_buffer(self) -> Iterator[None]:
        """`net.core.rmem_default` raised to `receive_buffer` meanwhile, when that is allowed."""
        wanted = self.receive_buffer
        try:
            before = int(RMEM_DEFAULT.read_text())
        except (OSError, ValueError):
            before = None
        raised = False
        if wanted is not None and before is not None and before < wanted:
            with contextlib.suppress(OSError):  # not root, or a read-only /proc/sys: Knot
                RMEM_DEFAULT.write_text(str(wanted))  # keeps the default (and says so)
                raised = True
        if not raised:
            yield
            return
        try:
            yield
        finally:
            RMEM_DEFAULT.write_text(str(before))

    def _wait_for_sockets(self, began: float) -> None:
        """Until knotd has bound its UDP sockets (they take the default when created)."""
        assert self._process is not None
        while time.monotonic() - began < START_TIMEOUT and self._process.poll() is None:
            if udp_sockets_bound(self.port) >= UDP_WORKERS:
                return
            time.sleep(0.01)

    def _config(self) -> str:
        assert self._tmp is not None
        return CONFIG.format(
            run=self._tmp.name,
            port=self.port,
            payload=UDP_MAX_PAYLOAD,
            udp_workers=UDP_WORKERS,
            log=self.log_path,
            zone=self.zone_file,
        )

    def _wait_until_ready(self, began: float) -> None:
        """Readiness poll: each try is a real SOA query with a short timeout."""
        assert self._process is not None
        while time.monotonic() - began < self.start_timeout:
            if self._process.poll() is not None:
                self._fail(f"knotd exited with status {self._process.returncode}")
            if soa_answers(self.port, self.host):
                return
            time.sleep(0.05)
        self._fail(f"knotd did not answer within {self.start_timeout:.0f} s")

    def _fail(self, reason: str) -> None:
        tail = self.log_tail()
        self.stop()
        raise LabError(f"{reason}; knot log:\n{tail}")

    def log_tail(self, lines: int = 20) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "KnotServer":
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
