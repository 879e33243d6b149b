"""Secrets at rest and at start-up: weak JWT secrets refused, private files, masked config."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from memvault.container import Settings, write_private_file

COMMANDS = [["serve"], ["token", "alice"], ["relay"], ["worker"]]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memvault.entrypoints.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def embedded_env(data_dir: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
    return env | {"MEMVAULT_DATA_DIR": str(data_dir), "COLUMNS": "400"} | variables


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("secret", ["", "only-31-bytes-of-secret-xxxxxxx"], ids=["empty", "short"])
def test_a_command_refuses_to_start_with_a_jwt_secret_under_32_bytes(
    tmp_path: Path, command: list[str], secret: str
):
    assert len(secret) < 32
    env = embedded_env(tmp_path / "data", MEMVAULT_AUTH_JWT_SECRET=secret)
    done = run_cli(env, *command)
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, output
    assert "MEMVAULT_AUTH_JWT_SECRET" in output
    assert "at least 32 bytes" in output
    assert not (tmp_path / "data").exists(), "nothing is created before the refusal"


def test_a_secret_of_32_bytes_is_accepted(tmp_path: Path):
    env = embedded_env(tmp_path / "data", MEMVAULT_AUTH_JWT_SECRET="s" * 32)
    done = run_cli(env, "token", "alice")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".") == 2


def test_the_data_directory_and_its_files_are_private_to_the_owner(tmp_path: Path):
    data = tmp_path / "data"
    env = embedded_env(data)
    assert run_cli(env, "db", "upgrade").returncode == 0
    assert run_cli(env, "token", "alice").returncode == 0
    assert mode(data) == 0o700
    assert mode(data / "memvault.db") == 0o600
    assert mode(data / "jwt-secret") == 0o600
    assert len((data / "jwt-secret").read_text().strip()) >= 32
    assert sorted(p.name for p in data.iterdir()) == ["jwt-secret", "memvault.db"]


def test_the_embedded_vector_directory_is_private_to_the_owner(tmp_path: Path):
    from memvault.container import build_infrastructure

    settings = Settings(data_dir=tmp_path / "data", vector_store="qdrant-edge")
    build_infrastructure(settings).vector_store()
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "vectors") == 0o700


def test_a_private_file_replaces_the_old_one_whole_and_leaves_no_temporary(tmp_path: Path):
    path = tmp_path / "jwt-secret"
    path.write_text("old")
    path.chmod(0o644)
    write_private_file(path, "new secret")
    assert path.read_text() == "new secret"
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["jwt-secret"]


def test_config_show_masks_every_credential(tmp_path: Path):
    password = "hunter2-pw"
    env = embedded_env(
        tmp_path / "data",
        MEMVAULT_DATABASE_URL=f"postgresql+asyncpg://memvault:{password}@db:5432/memvault",
        MEMVAULT_REDIS_URL=f"redis://:{password}@redis:6379/0",
        MEMVAULT_RABBITMQ_URL=f"amqp://guest:{password}@rabbit:5672/",
        MEMVAULT_QDRANT_URL=f"https://admin:{password}@qdrant:6333",
        MEMVAULT_MILVUS_URI=f"http://root:{password}@milvus:19530",
        MEMVAULT_LLM_BASE_URL=f"https://user:{password}@llm.example/v1?api_key={password}",
        MEMVAULT_EMBEDDING_BASE_URL=f"https://user:{password}@embed.example/v1",
        MEMVAULT_AUTH_JWT_SECRET=password * 4,
        MEMVAULT_LLM_API_KEY=password,
        MEMVAULT_EMBEDDING_API_KEY=password,
        MEMVAULT_QDRANT_API_KEY=password,
        MEMVAULT_MILVUS_TOKEN=password,
    )
    done = run_cli(env, "config", "show")
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout
    for visible in ("redis:6379/0", "rabbit:5672", "qdrant:6333", "milvus:19530", "db:5432"):
        assert visible in done.stdout
    assert done.stdout.count("********") >= 13


def test_a_short_secret_file_in_the_data_directory_is_refused_too(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "jwt-secret").write_text("too-short\n")
    done = run_cli(embedded_env(data), "token", "alice")
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert "jwt-secret" in output
    assert "at least 32 bytes" in output
