"""Shared fixtures: a generated lab zone served by a real Knot DNS on a loopback port."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: The integration lab: large enough to hold every record shape many times over.
LAB_DOMAINS = 20_000


@dataclass(frozen=True)
class ServedLab:
    folder: Path
    port: int

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def domains_csv(self) -> Path:
        return self.folder / "domains.csv"

    @property
    def expected(self) -> Path:
        return self.folder / "expected.parquet"

    def first_domains(self, n: int, folder: Path) -> Path:
        """The lab's first `n` domains (in rank order) as a domains.csv of their own."""
        lines = self.domains_csv.read_text().splitlines()[: n + 1]  # the header, then n rows
        path = folder / "domains.csv"
        path.write_text("\n".join(lines) + "\n")
        return path


def require_knot() -> None:
    if shutil.which("knotd") is None:
        if os.environ.get("CI"):
            pytest.fail("knotd is not installed: .ci/run must install the Debian package knot")
        pytest.skip("knotd (Debian package knot) is not installed")


@pytest.fixture(scope="session")
def knot_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedLab]:
    require_knot()
    from survey.lab.generate import generate_lab
    from survey.lab.knot import KnotServer

    folder = tmp_path_factory.mktemp("knot-lab")
    generate_lab(LAB_DOMAINS, folder, seed=7)
    with KnotServer(folder) as server:
        yield ServedLab(folder, server.port)


#: The DNSSEC lab: smaller, every case of survey/lab/dnssec.py several times.
DNSSEC_LAB_DOMAINS = 400


@dataclass(frozen=True)
class ValidatedLab(ServedLab):
    """The signed lab: Knot on `port`, a validating Unbound in front of it on `resolver_port`."""

    resolver_port: int
    cases: dict[str, str]  # delegated domain → case (survey.lab.dnssec)
    trust_anchor: str

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.resolver_port}"


def require_unbound() -> None:
    from survey.lab.unbound import unbound_path

    if unbound_path() is None:
        if os.environ.get("CI"):
            pytest.fail("unbound is not installed: scripts/bootstrap installs the Debian package")
        pytest.skip("unbound (Debian package unbound) is not installed")


@pytest.fixture(scope="session")
def dnssec_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValidatedLab]:
    """A generated lab signed and delegated (survey.lab.dnssec), served by Knot, validated by
    Unbound (trust anchor: the lab root's DS), whose clock for signatures runs
    VALIDATOR_DAYS_AHEAD days ahead so that the `expired` zones' signatures have run out."""
    require_knot()
    require_unbound()
    import datetime as dt

    from survey.lab.dnssec import VALIDATOR_DAYS_AHEAD, SignedKnotServer, sign_lab
    from survey.lab.generate import generate_lab
    from survey.lab.unbound import UnboundServer

    folder = tmp_path_factory.mktemp("dnssec-lab")
    generate_lab(DNSSEC_LAB_DOMAINS, folder, seed=13)
    lab = sign_lab(folder, seed=13)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=VALIDATOR_DAYS_AHEAD)
    with (
        SignedKnotServer(lab) as knot,
        UnboundServer(knot.port, lab.trust_anchor, lab.cases, later) as unbound,
    ):
        yield ValidatedLab(folder, knot.port, unbound.port, lab.cases, lab.trust_anchor)
