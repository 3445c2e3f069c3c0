"""Every name the scripts import from survey exists, function-level imports included: the
benchmark and soak scripts are not run by the tests, so a moved name would break them silently."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
PYTHON_SCRIPTS = sorted(
    p
    for p in SCRIPTS.iterdir()
    if p.is_file() and (p.suffix == ".py" or p.read_bytes().startswith(b"#!/usr/bin/env python"))
)


def survey_imports(path: Path) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("survey"):
            found += [(node.module or "", alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("script", PYTHON_SCRIPTS, ids=lambda p: p.name)
def test_every_imported_name_exists(script: Path) -> None:
    missing = []
    for module, name in survey_imports(script):
        imported = importlib.import_module(module)
        if not hasattr(imported, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{module}.{name}")
    assert missing == []


def test_the_scripts_are_found() -> None:
    assert {"bench_lib.py", "bench_main.py", "soak"} <= {p.name for p in PYTHON_SCRIPTS}
