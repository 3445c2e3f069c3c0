"""The package layout is the pipeline, and dependencies run one way (docs/architecture.md).

Every import in survey/, function-level ones included, is checked against the allowed
directions; the module graph must have no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "survey"

#: package → the packages it may import (besides itself, `survey` and `survey.errors`).
ALLOWED: dict[str, frozenset[str]] = {
    "schema": frozenset(),
    "records": frozenset({"schema"}),
    "dns": frozenset({"schema"}),
    "input": frozenset({"schema"}),
    "store": frozenset({"schema"}),
    "verdict": frozenset({"records", "input", "schema", "dns.outcome"}),
    "scan": frozenset({"verdict", "records", "dns", "input", "store", "schema"}),
    "report": frozenset({"store", "verdict", "input", "schema"}),
    "flows": frozenset({"schema", "store", "verdict.psl", "verdict.vendors"}),
    "lab": frozenset({"store", "schema"}),
    "cli": frozenset(
        {"scan", "flows", "report", "lab", "store", "dns", "input", "verdict", "schema"}
    ),
    "__main__": frozenset({"cli"}),
}
BASE = frozenset({"survey", "survey.errors"})


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every survey module `path` imports, at any depth of the code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("survey"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("survey"):
            module = node.module or ""
            for alias in node.names:  # `from survey.dns import wire` imports survey.dns.wire
                candidate = f"{module}.{alias.name}"
                found.add(
                    candidate
                    if (ROOT.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                    else module
                )
    return found


GRAPH = {module_name(p): imports(p) for p in sorted(ROOT.rglob("*.py"))}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def allowed(source: str, target: str) -> bool:
    if target in BASE or package_of(source) == package_of(target):
        return True
    rules = ALLOWED.get(package_of(source), frozenset())
    inner = target.removeprefix("survey.")
    return package_of(target) in rules or inner in rules


def test_every_package_is_placed() -> None:
    packages = {package_of(m) for m in GRAPH} - {"", "errors"}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_one_way(module: str) -> None:
    wrong = sorted(t for t in GRAPH[module] if not allowed(module, t))
    assert wrong == [], f"{module} may not import {wrong}"


def test_no_import_cycle() -> None:
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " → ".join([*path, module, target]))
            if target in GRAPH and target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [])


def test_every_package_says_its_job() -> None:
    for init in ROOT.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.splitlines()[0]) > 20, init
