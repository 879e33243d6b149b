"""Code imports the design card's folders only through ``memvault``
(docs/adr/0010-one-import-name.md).

A bare ``import domain`` would load the same files a second time under another name (two
copies of every class) in the working tree, and fail outright in an installed wheel.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"domain", "application", "adapters", "entrypoints", "container"}


def python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed if not (ROOT / name).is_symlink()]


def bare_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FOLDERS]
    return found


def test_no_module_imports_a_folder_by_its_bare_name():
    assert [line for path in python_files() for line in bare_imports(path)] == []


def test_memvault_links_every_folder_of_the_design_card():
    for name in ("domain", "application", "adapters", "entrypoints", "alembic", "container.py"):
        link = ROOT / "memvault" / name
        assert link.is_symlink(), name
        assert link.resolve() == (ROOT / name).resolve(), name
