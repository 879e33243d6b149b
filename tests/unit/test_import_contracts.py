"""The import contracts in pyproject.toml hold, and a violation of each kind breaks them.

Each violation is planted in a copy of the source tree, so the real one is untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    # memvault/ holds links to the top-level folders: the copy follows them into real files.
    shutil.copytree(
        ROOT / "memvault", tmp_path / "memvault", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / "memvault" / module
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_source_tree_keeps_every_contract(tree: Path):
    done = lint_imports(tree)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("application/readiness.py", "import sqlalchemy", "Use cases import no framework"),
        ("application/readiness.py", "import litestar", "Use cases import no framework"),
        ("domain/memory.py", "import structlog", "The domain is pure"),
        ("adapters/system_clock.py", "import memvault.container", "Only entrypoints reach"),
        (
            "application/ports/clock.py",
            "from memvault.container import Settings",
            "Only entrypoints reach",
        ),
        (
            "application/search/render.py",
            "from memvault.application.jobs import queries",
            "Use-case folders are independent",
        ),
        (
            "entrypoints/logging.py",
            "import memvault.adapters.system_clock",
            "Entrypoints reach adapters",
        ),
        ("domain/errors.py", "import memvault.application.ports.clock", "Hexagonal layers"),
        ("container.py", "import memvault.entrypoints.logging", "Hexagonal layers"),
    ],
)
def test_a_planted_violation_breaks_its_contract(tree: Path, module: str, line: str, contract: str):
    plant(tree, module, line)
    done = lint_imports(tree)
    assert done.returncode != 0
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), done.stdout
