"""Unbound (the Debian package) as the lab's validating resolver, between the survey and Knot.

`UnboundServer` writes its own unbound.conf into a temporary directory, checks it with
`unbound-checkconf`, starts `unbound -d` on a loopback port, polls it with a real query until
it answers, and stops it. It only ever talks to loopback addresses:

- `stub-zone: "."` sends every question for the lab's root to the lab server's port, and one
  stub zone per child zone does the same for the zones the root delegates (their NS, `ns.lab.`,
  has the glue 127.0.0.1, but a delegation carries no port: without the stubs Unbound would ask
  127.0.0.1 port 53). `do-not-query-localhost: no` lets it ask loopback at all.
- `trust-anchor:` is the lab root's DS (from `survey.lab.dnssec`), so that Unbound validates
  the lab as it validates the Internet from the real root's key.
- `override_date` moves the validator's clock for signature times only (`val-override-date`):
  the DNSSEC lab's `expired` zone is judged on a day its signatures have run out.

`val-log-level: 2` and `log-servfail` make the log say why each answer failed validation.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from dnslib import RCODE, DNSRecord

from survey.errors import LabError
from survey.lab.knot import POLL_TIMEOUT, free_port

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

CONFIG = """\
server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{run}"
    pidfile: "{run}/unbound.pid"
    use-syslog: no
    logfile: "{log}"
    verbosity: 1
    val-log-level: 2
    log-servfail: yes
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    num-threads: 1
    edns-buffer-size: 1232
    trust-anchor: "{anchor}"
{override}
remote-control:
    control-enable: no
"""


def unbound_path(name: str = "unbound") -> str | None:
    """Where unbound (or `unbound-checkconf`) is: on PATH, or in /usr/sbin."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def answers(port: int, host: str = "127.0.0.1", timeout: float = POLL_TIMEOUT) -> bool:
    """True when the resolver on host@port answers the root SOA."""
    try:
        reply = DNSRecord.parse(DNSRecord.question(".", "SOA").send(host, port, timeout=timeout))
    except (OSError, ValueError):
        return False
    return bool(reply.header.rcode == RCODE.NOERROR and reply.rr)


class UnboundServer:
    """unbound validating on 127.0.0.1@port, asking the lab server on 127.0.0.1@`upstream`."""

    host = "127.0.0.1"

    def __init__(
        self,
        upstream: int,
        trust_anchor: str,
        stub_zones: Iterable[str] = (),
        override_date: dt.datetime | None = None,
        port: int | None = None,
    ) -> None:
        self.upstream = upstream
        self.trust_anchor = trust_anchor
        self.stub_zones = tuple(sorted(stub_zones))
        self.override_date = override_date
        self.port = port or 0
        self._requested_port = port
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def nameserver(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return Path(self._tmp.name) / "unbound.log" if self._tmp else None

    def start(self) -> UnboundServer:
        binary = unbound_path()
        if binary is None:
            raise LabError("unbound (Debian package unbound) is not installed")
        self.port = self._requested_port or free_port(self.host)
        self._tmp = tempfile.TemporaryDirectory(prefix="survey-unbound-")
        conf = Path(self._tmp.name) / "unbound.conf"
        conf.write_text(self._config(), encoding="utf-8")
        self._check(conf)
        began = time.monotonic()
        self._process = subprocess.Popen(
            [binary, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        self._wait_until_ready(began)
        return self

    def _config(self) -> str:
        assert self._tmp is not None
        override = ""
        if self.override_date is not None:
            override = f'    val-override-date: "{self.override_date:%Y%m%d%H%M%S}"\n'
        text = CONFIG.format(
            port=self.port,
            run=self._tmp.name,
            log=self.log_path,
            anchor=self.trust_anchor,
            override=override,
        )
        stubs = [".", *self.stub_zones]
        return text + "".join(
            f'stub-zone:\n    name: "{zone}"\n    stub-addr: {self.host}@{self.upstream}\n'
            for zone in stubs
        )

    def _check(self, conf: Path) -> None:
        checker = unbound_path("unbound-checkconf")
        if checker is None:
            return
        run = subprocess.run([checker, str(conf)], capture_output=True, text=True)
        if run.returncode != 0:
            self.stop()
            raise LabError(f"unbound-checkconf refused the lab's config: {run.stderr.strip()}")

    def _wait_until_ready(self, began: float) -> None:
        assert self._process is not None
        while time.monotonic() - began < START_TIMEOUT:
            if self._process.poll() is not None:
                self._fail(f"unbound exited with status {self._process.returncode}")
            if answers(self.port, self.host):
                return
            time.sleep(0.05)
        self._fail(f"unbound did not answer within {START_TIMEOUT:.0f} s")

    def _fail(self, reason: str) -> None:
        tail = self.log_tail()
        self.stop()
        raise LabError(f"{reason}; unbound log:\n{tail}")

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

    def __enter__(self) -> UnboundServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
