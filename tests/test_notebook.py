"""notebooks/explore.ipynb runs top to bottom against two real lab snapshots, so it never rots."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from survey.dns.settings import ResolverSettings
from survey.lab.generate import generate_lab
from survey.lab.serve import LabServer
from survey.scan.pipeline import ScanOptions, run_scan
from survey.store.snapshot import Snapshot

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "explore.ipynb"


@pytest.fixture(scope="module")
def two_snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two months of a small lab, scanned through the dnslib lab server on loopback."""
    root = tmp_path_factory.mktemp("nb")
    for epoch, label in enumerate(("2026-10", "2026-11")):
        lab = root / f"lab{epoch}"
        generate_lab(600, lab, seed=3, epoch=epoch)
        with LabServer(lab / "root.zone") as server:
            settings = ResolverSettings(nameservers=(f"127.0.0.1:{server.port}",), timeout=1.0)
            run_scan(ScanOptions(lab / "domains.csv", root / "snapshots", label, settings))
    return root / "snapshots"


def test_explore_notebook_runs(two_snapshots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Snapshot.open(two_snapshots / "2026-11").is_complete
    monkeypatch.setenv("SURVEY_SNAPSHOTS", str(two_snapshots))
    repo = str(NOTEBOOK.parent.parent)  # the kernel imports this checkout's survey package
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "2 snapshot(s)" in text and "domains publish p=monitor" in text
    assert "SQL agrees with the report's table: True" in text
    assert "('2026-10', '2026-11')" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the trend chart was not drawn"
