"""container.py is the only composition root and sits between entrypoints and adapters."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


def test_the_container_never_imports_an_entrypoint():
    assert "entrypoints" not in imported_roots(ROOT / "container.py")


def test_importing_the_container_builds_nothing():
    source = (ROOT / "container.py").read_text()
    tree = ast.parse(source)
    top_level_calls = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr | ast.Assign)
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func) != "TypeVar"
    ]
    assert top_level_calls == [], "container.py must not build anything at import time"
