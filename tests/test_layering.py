"""The packages form one stack, and no import points back up it (docs/architecture.md):

    mock_idp  <-  loadtests  <-  reports  <-  loginload  <-  benchmarks

Every import in every module is read from its source (the ``ast``, so an import hidden inside a
function counts too), and one that names a package higher in the stack than its own fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STACK = ("mock_idp", "loadtests", "reports", "loginload", "benchmarks")
LEVEL = {name: i for i, name in enumerate(STACK)}


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return [(line, name) for line, name in found if name in LEVEL]


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", STACK)
def test_no_import_points_up_the_stack(package: str) -> None:
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules(package)
        for line, name in _imported_packages(path)
        if LEVEL[name] > LEVEL[package]
    ]
    assert not upward, "imports that point up the stack:\n" + "\n".join(upward)


def test_the_walk_sees_every_package_and_catches_an_upward_import(tmp_path: Path) -> None:
    assert all(_modules(p) for p in STACK), "a package of the stack has no modules"
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from reports.build import build_report\n")
    assert _imported_packages(probe) == [(2, "reports")]


def test_the_demo_service_speaks_only_http_to_the_idp() -> None:
    """examples/ is a relying party a team copies: it imports nothing of loginload's, so all it knows of
    the mock is what NHS login's interface says (any package may import it, e.g. to start it)."""
    ours = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules("examples")
        for line, name in _imported_packages(path)
    ]
    assert _modules("examples") and not ours, "the demo service imports loginload's packages:\n" + "\n".join(
        ours
    )
