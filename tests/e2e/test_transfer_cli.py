"""``memvault export`` and ``memvault import`` against a running ``memvault serve``: they
go through its admin API (the audit entries name the CLI's admin token), and an
export imported back changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from memvault.entrypoints.http.auth import issue_token
from tests.e2e.test_serve_process import free_port, running_server

SECRET = "transfer-cli-" + "c" * 48


def memvault(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memvault.entrypoints.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user, ttl=timedelta(minutes=5))}"}


def test_export_and_import_go_through_a_running_server(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "MEMVAULT_DATA_DIR": str(tmp_path / "data"),
        "MEMVAULT_PORT": str(port),
        "MEMVAULT_AUTH_JWT_SECRET": SECRET,
        "MEMVAULT_EMBEDDER": "hashing",
        "MEMVAULT_VECTOR_STORE": "memory",
        "MEMVAULT_LOG_LEVEL": "warning",
    }
    env.pop("MEMVAULT_DATABASE_URL", None)
    file, moved = tmp_path / "alice.jsonl", tmp_path / "bob.jsonl"
    with running_server(env, port) as base:
        for content in ("I love hiking", "Allergic to peanuts", "Lives in Lisbon"):
            created = httpx.post(
                f"{base}/api/v1/memory/items",
                json={"memory_type": "fact", "content": content},
                headers=bearer("alice"),
            )
            assert created.status_code == 201, created.text

        exported = memvault(env, "export", "--user", "alice", "--history", "-o", str(file))
        again = memvault(env, "import", str(file))
        moved.write_text(
            "".join(
                json.dumps(json.loads(line) | {"user_id": "bob", "id": None}) + "\n"
                for line in file.read_text().splitlines()
            )
        )
        imported = memvault(env, "import", str(moved))
        broken = memvault(env, "import", str(file.with_suffix(".missing")))
        bob = httpx.get(f"{base}/api/v1/memory/items", headers=bearer("bob")).json()["items"]
        history = httpx.get(
            f"{base}/api/v1/memory/items/{bob[0]['id']}/history", headers=bearer("bob")
        ).json()["items"]

    assert exported.returncode == 0, exported.stderr
    assert len(file.read_text().splitlines()) == 3
    assert all(len(json.loads(line)["history"]) == 1 for line in file.read_text().splitlines())
    assert again.returncode == 0, again.stderr
    assert "skipped" in again.stdout
    assert "│ 3" in again.stdout.split("skipped", 1)[1].splitlines()[0]
    assert imported.returncode == 0, imported.stderr
    assert sorted(item["content"] for item in bob) == [
        "Allergic to peanuts",
        "I love hiking",
        "Lives in Lisbon",
    ]
    assert [(e["operation"], e["operator_id"], e["reason"]) for e in history][-1] == (
        "create",
        "memvault-cli",
        "imported",
    )
    assert broken.returncode == 1
    assert "cannot read" in broken.stderr
