"""memvault-client stands alone: it imports only the standard library, httpx and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "python" / "memvault_client"
ALLOWED = {"httpx", "memvault_client"}


def test_the_client_imports_nothing_of_the_server():
    imported: set[str] = set()
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert "httpx" in imported
    assert imported - ALLOWED <= set(sys.stdlib_module_names)
