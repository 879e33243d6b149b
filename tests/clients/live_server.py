"""A real ``memvault serve`` process on a free port with a fresh data dir (hashing
embedder, in-memory vector store), for the client, MCP and generated-client tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from memvault.entrypoints.http.auth import issue_token

STARTUP_TIMEOUT_S = 90
SECRET = "live-server-secret-" + "y" * 48
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class LiveServer:
    url: str
    env: dict[str, str]

    def token(self, user: str, *, admin: bool = False) -> str:
        return issue_token(SECRET, user, admin=admin, ttl=timedelta(hours=2))

    def api_key(self, scope: str, name: str) -> str:
        response = httpx.post(
            f"{self.url}/api/v1/admin/keys",
            json={"name": name, "scope": scope},
            headers={"Authorization": f"Bearer {self.token('ops', admin=True)}"},
        )
        response.raise_for_status()
        return str(response.json()["key"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env | {
        "PYTHONPATH": pythonpath,
        **installed_server_env(data_dir, port),
        **extra,
    }


def installed_server_env(data_dir: Path, port: int) -> dict[str, str]:
    """The settings of every test server, whatever the installation it runs from."""
    return {
        "MEMVAULT_DATA_DIR": str(data_dir),
        "MEMVAULT_PORT": str(port),
        "MEMVAULT_AUTH_JWT_SECRET": SECRET,
        "MEMVAULT_EMBEDDER": "hashing",
        "MEMVAULT_VECTOR_STORE": "memory",
        "MEMVAULT_LOG_LEVEL": "warning",
        "MEMVAULT_RELAY_POLL_INTERVAL_S": "0.1",
        "MEMVAULT_SWEEP_INTERVAL_S": "0.5",
    }


@contextmanager
def live_server(data_dir: Path, **extra: str) -> Iterator[LiveServer]:
    port = free_port()
    command = [sys.executable, "-m", "memvault.entrypoints.cli", "serve"]
    with serving(command, server_env(data_dir, port, **extra), data_dir, port, ROOT) as server:
        yield server


@contextmanager
def serving(
    command: list[str], env: dict[str, str], data_dir: Path, port: int, cwd: Path
) -> Iterator[LiveServer]:
    """Run ``command`` (a ``memvault serve``) until the block ends, ready on ``port``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "serve.log").open("w") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, url, data_dir / "serve.log")
            yield LiveServer(url=url, env=env)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise AssertionError(f"serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"serve did not become ready in time:\n{log.read_text()}")
        time.sleep(0.2)
