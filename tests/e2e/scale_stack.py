"""The scale deployment as separate processes: ``memvault serve``, ``memvault relay`` and
``memvault worker`` on PostgreSQL, the Redis broker and the Redis Streams event bus.

Each stack gets a fresh database, its own event topic, consumer group and broker key
namespace, so runs sharing the servers never see each other's events or jobs. Every
process is started in its own session and its whole group is stopped at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError

from tests.databases import fresh_database
from tests.fixtures.redis import REDIS_URL

STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
COMMANDS = {"serve": ["serve", "--no-migrate"], "relay": ["relay"], "worker": ["worker"]}
READY_LINES = {"relay": "relay_started", "worker": "ready for action"}


@dataclass(frozen=True, slots=True)
class ScaleStack:
    base_url: str
    env: dict[str, str]
    """The ``MEMVAULT_*`` variables every process of the stack runs with."""
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    """``serve``, ``relay`` and ``worker``, each the leader of its own process group."""

    def log_tails(self, lines: int = 15) -> str:
        parts = []
        for name, path in self.logs.items():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- memvault {name} ---\n" + "\n".join(tail))
        return "\n".join(parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _checked_redis(url: str = REDIS_URL) -> Redis:
    client = Redis.from_url(url)
    try:
        client.ping()
    except RedisError as error:
        pytest.fail(f"Redis is unreachable at {url} ({error})", pytrace=False)
    return client


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "memvault.entrypoints.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process (Dramatiq's main process passes it on to its workers) and
    wait; then SIGKILL whatever is left of each process group."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _wait_ready(stack: ScaleStack, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    pending = set(processes)
    while pending:
        for name in sorted(pending):
            if processes[name].poll() is not None:
                raise AssertionError(f"memvault {name} exited early\n{stack.log_tails(40)}")
            if name == "serve":
                try:
                    ready = httpx.get(f"{stack.base_url}/readyz", timeout=1).status_code == 200
                except httpx.TransportError:
                    ready = False
            else:
                ready = READY_LINES[name] in stack.logs[name].read_text(errors="replace")
            if ready:
                pending.discard(name)
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready in time: {sorted(pending)}\n{stack.log_tails(40)}")
        time.sleep(0.1)


def _forget_redis_keys(env: dict[str, str]) -> None:
    client = _checked_redis()
    try:
        client.delete(env["MEMVAULT_EVENT_TOPIC"])
        keys = list(client.scan_iter(match=env["MEMVAULT_BROKER_NAMESPACE"] + ":*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def scale_stack(
    tmp: Path,
    settings: dict[str, str],
    per_process: dict[str, dict[str, str]] | None = None,
    *,
    redis_url: str = REDIS_URL,
) -> Iterator[ScaleStack]:
    """Start the three processes with ``settings`` (``MEMVAULT_*`` names) added, and
    ``per_process[name]`` on top for that process only (e.g. its metrics port).

    ``redis_url`` other than the shared server's is a private Redis the caller owns (and
    may kill): its keys die with it, so they are not cleaned up here."""
    _checked_redis(redis_url).close()
    run = uuid.uuid4().hex[:12]
    port = free_port()
    with ExitStack() as stack_exit:
        database_url = stack_exit.enter_context(fresh_database("postgresql", tmp))
        env = os.environ | {
            "MEMVAULT_DATA_DIR": str(tmp / "data"),
            "MEMVAULT_DATABASE_URL": database_url,
            "MEMVAULT_PORT": str(port),
            "MEMVAULT_BROKER": "redis",
            "MEMVAULT_EVENT_BUS": "redis",
            "MEMVAULT_REDIS_URL": redis_url,
            "MEMVAULT_EVENT_TOPIC": f"memvault-test-{run}",
            "MEMVAULT_CONSUMER_GROUP": f"memvault-test-{run}",
            "MEMVAULT_BROKER_NAMESPACE": f"memvault-test-{run}",
            "MEMVAULT_WORKER_PROCESSES": "1",
            "MEMVAULT_WORKER_THREADS": "2",
            "MEMVAULT_LOG_LEVEL": "info",
            "MEMVAULT_EMBEDDER": "hashing",
            # the steps poll the API; the per-user limit is tested elsewhere
            "MEMVAULT_RATE_LIMIT_PER_SECOND": "1000",
            "MEMVAULT_RATE_LIMIT_BURST": "1000",
            "MEMVAULT_VECTOR_STORE": "memory",
            **settings,
        }
        if redis_url == REDIS_URL:
            stack_exit.callback(_forget_redis_keys, env)
        logs = {name: tmp / f"{name}.log" for name in COMMANDS}
        processes: dict[str, subprocess.Popen[bytes]] = {}
        stack = ScaleStack(
            base_url=f"http://127.0.0.1:{port}", env=env, logs=logs, processes=processes
        )
        try:
            for name, args in COMMANDS.items():
                own = env | (per_process or {}).get(name, {})
                processes[name] = _start(args, own, logs[name])
            _wait_ready(stack, processes)
            yield stack
        finally:
            _stop(list(processes.values()))
