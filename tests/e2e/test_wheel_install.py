"""The distribution installs like a well-made application: a wheel with one import name
(``memvault``), its migrations inside, the embedded default as the base install.

One wheel is built from this checkout and installed, without extras, into a fresh
virtualenv outside the source tree; everything below runs that installation's own
``memvault`` command, never this checkout.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.clients.live_server import free_port, installed_server_env, serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PIP = [sys.executable, "-m", "pip"]


@dataclass(frozen=True, slots=True)
class Installed:
    wheel: Path
    prefix: Path

    @property
    def memvault(self) -> str:
        return str(self.prefix / "bin" / "memvault")

    @property
    def python(self) -> str:
        return str(self.prefix / "bin" / "python")


CLEAN_ENV = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
"""No PYTHONPATH: the installation must stand on its own, never import this checkout."""


def run(
    command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=CLEAN_ENV | (env or {}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    # The server and its client (a separate distribution the MCP tools use), as an index
    # would serve them.
    built = run([*PIP, "wheel", "--no-deps", "--quiet", "-w", str(base), str(ROOT),
                 str(ROOT / "clients" / "python")])  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next(base.glob("memvault-0*.whl"))
    prefix = base / "venv"
    venv.create(prefix, with_pip=False)
    # This venv's pip installs into the new one (no pip bootstrap, no byte-compiling:
    # both only cost time); the base install only, no extras.
    wheels = [str(wheel), *map(str, base.glob("memvault_client-*.whl"))]
    target = str(prefix / "bin" / "python")
    done = run([*PIP, "--python", target, "install", "--quiet", "--no-compile", *wheels])
    assert done.returncode == 0, done.stderr
    return Installed(wheel=wheel, prefix=prefix)


def test_the_wheel_has_one_import_name_and_ships_its_migrations(installed: Installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"memvault", f"{installed.wheel.name.split('-py3')[0]}.dist-info"}
    assert "memvault/alembic/env.py" in names
    assert any(name.startswith("memvault/alembic/versions/0001_") for name in names)
    assert "memvault/entrypoints/http/ui/index.html" in names


def test_entrypoints_in_that_environment_is_not_memvaults(installed: Installed, tmp_path: Path):
    probe = "import importlib.util as u; s = u.find_spec('entrypoints'); print(s and s.origin)"
    found = run([installed.python, "-c", probe], cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "memvault" not in found.stdout
    assert run([installed.python, "-c", "import domain"], cwd=tmp_path).returncode != 0


def test_a_backend_whose_extra_is_missing_is_refused_by_name(installed: Installed, tmp_path: Path):
    env = installed_server_env(tmp_path, free_port()) | {
        "MEMVAULT_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test",
    }
    done = run([installed.memvault, "db", "upgrade"], env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "pip install 'memvault[postgres]'" in done.stdout + done.stderr


def test_the_base_install_migrates_serves_stores_and_searches(installed: Installed, tmp_path: Path):
    port = free_port()
    # The real embedded default (local model, embedded vector store), not the test doubles.
    env = (
        CLEAN_ENV
        | installed_server_env(tmp_path, port)
        | {
            "MEMVAULT_EMBEDDER": "local",
            "MEMVAULT_VECTOR_STORE": "qdrant-edge",
        }
    )
    migrated = run([installed.memvault, "db", "upgrade"], env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    token = run([installed.memvault, "token", "alice"], env=env, cwd=tmp_path)
    assert token.returncode == 0, token.stderr
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    command = [installed.memvault, "serve", "--no-migrate"]
    with serving(command, env, tmp_path, port, tmp_path) as server:
        created = httpx.post(
            f"{server.url}/api/v1/memory/items",
            json={"memory_type": "preference", "content": "I drink my coffee black"},
            headers=headers,
            timeout=60,
        )
        assert created.status_code == 201, created.text
        found = httpx.post(
            f"{server.url}/api/v1/memory/search",
            json={"query": "how do I take my coffee?"},
            headers=headers,
            timeout=60,
        )
        assert found.status_code == 200, found.text
        assert [item["id"] for item in found.json()["items"]] == [created.json()["id"]]
