"""The import contracts in pyproject.toml hold, and a violation of each kind breaks them.

The violations are planted together in a copy of the source tree, so the real one is
untouched and lint-imports runs once for them all; its report must name each planted
import, at its line, under the contract that import breaks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # Wide enough that no line of the report is wrapped.
    env = os.environ | {"PYTHONPATH": str(root), "COLUMNS": "1000"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def copy_tree(into: Path) -> Path:
    # memvault/ holds links to the top-level folders: the copy follows them into real files.
    shutil.copytree(
        ROOT / "memvault", into / "memvault", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", into / "pyproject.toml")
    return into


def plant(tree: Path, module: str, line: str) -> int:
    """Append ``line`` to ``module``; return its line number."""
    path = tree / "memvault" / module
    text = path.read_text().rstrip("\n") + f"\n\n{line}\n"
    path.write_text(text)
    return len(text.splitlines())


VIOLATIONS = [
    (
        "application/readiness.py",
        "import sqlalchemy",
        "sqlalchemy",
        "Use cases import no framework",
    ),
    ("application/readiness.py", "import litestar", "litestar", "Use cases import no framework"),
    ("domain/memory.py", "import structlog", "structlog", "The domain is pure"),
    (
        "adapters/system_clock.py",
        "import memvault.container",
        "memvault.container",
        "Only entrypoints reach",
    ),
    (
        "application/ports/clock.py",
        "from memvault.container import Settings",
        "memvault.container",
        "Only entrypoints reach",
    ),
    (
        "application/search/render.py",
        "from memvault.application.jobs import queries",
        "memvault.application.jobs.queries",
        "Use-case folders are independent",
    ),
    (
        "entrypoints/logging.py",
        "import memvault.adapters.system_clock",
        "memvault.adapters.system_clock",
        "Entrypoints reach adapters",
    ),
    (
        "domain/errors.py",
        "import memvault.application.ports.clock",
        "memvault.application.ports.clock",
        "Hexagonal layers",
    ),
    (
        "container.py",
        "import memvault.entrypoints.logging",
        "memvault.entrypoints.logging",
        "Hexagonal layers",
    ),
]
"""(module, planted line, what it imports, the contract it breaks)."""


@dataclass
class Planted:
    report: subprocess.CompletedProcess[str]
    lines: dict[tuple[str, str], int]
    """The line number of each planted (module, line)."""


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    """Every violation planted in one copy, checked by one run of lint-imports."""
    tree = copy_tree(tmp_path_factory.mktemp("planted"))
    lines = {(module, line): plant(tree, module, line) for module, line, _, _ in VIOLATIONS}
    return Planted(lint_imports(tree), lines)


def broken_section(stdout: str, contract: str) -> str:
    """The report's details of the broken contract whose name starts with ``contract``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = [c["name"] for c in config["tool"]["importlinter"]["contracts"]]
    rows = stdout.split("Broken contracts", 1)[-1].splitlines()
    starts = [n for n, row in enumerate(rows) if row in names]
    for begin, end in zip(starts, [*starts[1:], len(rows)], strict=True):
        if rows[begin].startswith(contract):
            return "\n".join(rows[begin:end])
    return ""


def test_the_source_tree_keeps_every_contract(tmp_path: Path):
    done = lint_imports(copy_tree(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("module", "line", "imported", "contract"), VIOLATIONS)
def test_a_planted_violation_breaks_its_contract(
    planted: Planted, module: str, line: str, imported: str, contract: str
):
    done = planted.report
    assert done.returncode != 0
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), done.stdout
    importer = "memvault." + module.removesuffix(".py").replace("/", ".")
    number = planted.lines[(module, line)]
    section = broken_section(done.stdout, contract)
    assert f"{importer} -> {imported} (l.{number})" in section, done.stdout
