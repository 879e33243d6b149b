"""`memvault serve` as a user runs it: a real process, a real port, data kept across restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

STARTUP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "memvault.entrypoints.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


@contextmanager
def running_server(env: dict[str, str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "memvault.entrypoints.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("serve did not become ready in time")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_items_survive_a_restart_of_the_embedded_server(tmp_path: Path):
    port = free_port()
    env = os.environ | {
        "MEMVAULT_DATA_DIR": str(tmp_path / "data"),
        "MEMVAULT_PORT": str(port),
        "MEMVAULT_LOG_LEVEL": "warning",
    }
    env.pop("MEMVAULT_DATABASE_URL", None)
    env.pop("MEMVAULT_AUTH_JWT_SECRET", None)

    with running_server(env, port) as base:
        headers = {"Authorization": f"Bearer {cli(env, 'token', 'alice')}"}
        created = httpx.post(
            f"{base}/api/v1/memory/items",
            json={"memory_type": "preference", "content": "prefers green tea"},
            headers=headers,
            timeout=60,  # the first write loads the local model
        )
        assert created.status_code == 201, created.text
    assert (tmp_path / "data" / "jwt-secret").exists()

    with running_server(env, port) as base:
        headers = {"Authorization": f"Bearer {cli(env, 'token', 'alice')}"}
        item = httpx.get(
            f"{base}/api/v1/memory/items/{created.json()['id']}", headers=headers, timeout=60
        )
        assert item.status_code == 200
        assert item.json()["content"] == "prefers green tea"
