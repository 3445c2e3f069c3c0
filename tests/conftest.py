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
