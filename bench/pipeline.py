"""Chat turn → memory visible, outside-in against real memvault processes.

Run: ``python -m bench.pipeline [--turns N] [--embedder local|hashing]
[--mode embedded|scale|both]``.

- **embedded**: ``memvault serve`` alone (SQLite, qdrant-edge, the in-process bus and
  worker, the rule-based extractor).
- **scale**: ``memvault serve --no-migrate``, ``memvault relay`` and ``memvault worker``
  (one process, two threads) on a fresh PostgreSQL database
  (``MEMVAULT_BENCH_POSTGRES_URL``, default the local server), Redis Streams and the
  Redis broker (``MEMVAULT_BENCH_REDIS_URL``), with the in-memory vector store (each
  process its own: nothing here searches). Skipped, saying why, when either server is
  unreachable.

N times each, the benchmark posts one user turn to ``POST /messages`` and polls
``GET /items`` every 10 ms until the memory extracted from that turn is listed (a
faster poll loads the API it measures; the answer is late by at most one poll). Rows:

- *new user*: a new user each turn, with no memory yet (no candidate to recall);
- *returning user*: a new user who already has one unrelated memory of the same type,
  so the decision step embeds the fact and recalls candidates;
- *direct write* (the baseline, same run): ``POST /items`` of the same text, then one
  ``GET /items``: the write without the pipeline. The pipeline rows print their p50 as
  a ratio to it.

The rows take turns (one turn of each, N times), so load that drifts during the run
weighs on every row alike.

The relay's poll interval is printed beside them: a hand-off that waited for the poll
would show up as about half of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import numpy as np
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.search import Tokens, free_port, server
from memvault.adapters.settings import Settings
from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.migrations import upgrade

MESSAGES = "/api/v1/memory/messages"
ITEMS = "/api/v1/memory/items"
POLL_S = 0.01
GIVE_UP_S = 30.0
STARTUP_TIMEOUT_S = 120.0
POSTGRES_URL = os.environ.get(
    "MEMVAULT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("MEMVAULT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
Turn = Callable[[httpx.AsyncClient, Tokens, int], Awaitable[float]]


async def listed(client: httpx.AsyncClient, headers: dict[str, str], marker: str) -> bool:
    page = await client.get(ITEMS, headers=headers)
    page.raise_for_status()
    return any(marker in item["content"] for item in page.json()["items"])


async def wait_listed(
    client: httpx.AsyncClient, headers: dict[str, str], marker: str, started: float
) -> float:
    """Milliseconds from ``started`` until an item containing ``marker`` is listed."""
    while time.perf_counter() - started < GIVE_UP_S:
        if await listed(client, headers, marker):
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(POLL_S)
    raise RuntimeError(f"no memory {marker!r} after {GIVE_UP_S:.0f} s")


async def chat_turn(
    client: httpx.AsyncClient, tokens: Tokens, n: int, *, returning: bool = False
) -> float:
    headers = tokens(f"bench-chat-{n:04d}-{secrets.token_hex(3)}")
    if returning:  # an unrelated memory of the same type, indexed before the clock starts
        earlier = {"memory_type": "preference", "content": "I love hiking in the Alps"}
        (await client.post(ITEMS, json=earlier, headers=headers)).raise_for_status()
    marker = f"teal number {n}"
    body = {
        "conversation_id": "bench",
        "messages": [{"role": "user", "content": f"My favourite colour is {marker}."}],
    }
    started = time.perf_counter()
    (await client.post(MESSAGES, json=body, headers=headers)).raise_for_status()
    return await wait_listed(client, headers, marker, started)


async def returning_turn(client: httpx.AsyncClient, tokens: Tokens, n: int) -> float:
    return await chat_turn(client, tokens, n, returning=True)


async def direct_write(client: httpx.AsyncClient, tokens: Tokens, n: int) -> float:
    headers = tokens(f"bench-direct-{n:04d}-{secrets.token_hex(3)}")
    marker = f"teal number {n}"
    item = {"memory_type": "preference", "content": f"My favourite colour is {marker}"}
    started = time.perf_counter()
    (await client.post(ITEMS, json=item, headers=headers)).raise_for_status()
    return await wait_listed(client, headers, marker, started)


ROWS: dict[str, Turn] = {
    "direct write (baseline)": direct_write,
    "chat, new user": chat_turn,
    "chat, returning user": returning_turn,
}


async def measure(base: str, tokens: Tokens, turns: int) -> dict[str, list[float]]:
    """Each row's turns, interleaved (one of each row in turn), so that a machine whose
    load drifts during the run weighs on every row alike."""
    delays: dict[str, list[float]] = {name: [] for name in ROWS}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for turn in ROWS.values():  # warm-up: model load, first queries, first jobs
            await turn(client, tokens, -1)
        for n in range(turns):
            for name, turn in ROWS.items():
                delays[name].append(await turn(client, tokens, n))
    return delays


def table(title: str, delays: dict[str, list[float]]) -> Table:
    out = Table(title=title)
    for column in ("row", "turns", "p50 ms", "p95 ms", "max ms", "p50 / baseline"):
        out.add_column(column, justify="right")
    baseline = float(np.percentile(delays["direct write (baseline)"], 50))
    for name, values in delays.items():
        p50 = float(np.percentile(values, 50))
        out.add_row(
            name,
            str(len(values)),
            f"{p50:.0f}",
            f"{np.percentile(values, 95):.0f}",
            f"{max(values):.0f}",
            f"{p50 / baseline:.2f}×",
        )
    out.caption = (
        f"relay poll interval {Settings.model_fields['relay_poll_interval_s'].default * 1000:.0f}"
        f" ms (the fallback); GET /items polled every {POLL_S * 1000:.0f} ms"
    )
    return out


async def embedded(turns: int, embedder: str, console: Console) -> None:
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="memvault-bench-pipeline-") as tmp:
        async with server(Path(tmp) / "data", embedder, secret) as base:
            delays = await measure(base, Tokens(secret), turns)
    console.print(table(f"chat turn → memory visible (embedded, {embedder} embedder)", delays))


async def admin(statement: str) -> None:
    engine = create_engine(POSTGRES_URL, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    name = f"memvault_bench_{uuid.uuid4().hex[:12]}"
    await admin(f"CREATE DATABASE {name}")
    try:
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def scale_env(tmp: Path, database_url: str, embedder: str, secret: str) -> dict[str, str]:
    run = uuid.uuid4().hex[:12]
    return os.environ | {
        "MEMVAULT_DATA_DIR": str(tmp / "data"),
        "MEMVAULT_DATABASE_URL": database_url,
        "MEMVAULT_PORT": str(free_port()),
        "MEMVAULT_BROKER": "redis",
        "MEMVAULT_EVENT_BUS": "redis",
        "MEMVAULT_REDIS_URL": REDIS_URL,
        "MEMVAULT_EVENT_TOPIC": f"memvault-bench-{run}",
        "MEMVAULT_CONSUMER_GROUP": f"memvault-bench-{run}",
        "MEMVAULT_BROKER_NAMESPACE": f"memvault-bench-{run}",
        "MEMVAULT_WORKER_PROCESSES": "1",
        "MEMVAULT_WORKER_THREADS": "2",
        "MEMVAULT_VECTOR_STORE": "memory",
        "MEMVAULT_EMBEDDER": embedder,
        "MEMVAULT_AUTH_JWT_SECRET": secret,
        "MEMVAULT_RATE_LIMIT_PER_SECOND": "1000000",
        "MEMVAULT_RATE_LIMIT_BURST": "1000000",
        "MEMVAULT_LOG_LEVEL": "warning",
    }


CLI = [sys.executable, "-m", "memvault.entrypoints.cli"]
"""The ``memvault`` command, run by this interpreter."""


@asynccontextmanager
async def spawned(
    tmp: Path,
    env: dict[str, str],
    commands: Mapping[str, Sequence[str]],
    *,
    stdin: bool = False,
) -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    """Each of ``commands`` (name → argv) as a process in its own session, its output
    in ``tmp/<name>.log`` (``stdin``: a pipe to each), until the block ends; then
    SIGTERM, a kill after 20 s, and this run's Redis keys forgotten."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in commands.items():
            with (tmp / f"{name}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once
                        list(command),
                        env=env,
                        stdin=subprocess.PIPE if stdin else None,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield started
    finally:
        stop(started)
        await forget_redis_keys(env)


def stop(started: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process still running, then wait up to 20 s for each before SIGKILL."""
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@asynccontextmanager
async def processes(tmp: Path, env: dict[str, str]) -> AsyncIterator[str]:
    """``serve``, ``relay`` and ``worker`` until the block ends; yields the API's URL."""
    commands = {
        "serve": [*CLI, "serve", "--no-migrate"],
        "relay": [*CLI, "relay"],
        "worker": [*CLI, "worker"],
    }
    async with spawned(tmp, env, commands) as started:
        base = f"http://127.0.0.1:{env['MEMVAULT_PORT']}"
        await api_ready(base, started)
        yield base


async def api_ready(base: str, started: Sequence[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in started):
                raise RuntimeError("a memvault process exited early; see its log")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError("the scale stack did not become ready in time")


async def forget_redis_keys(env: dict[str, str]) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.delete(env["MEMVAULT_EVENT_TOPIC"])
        keys = [k async for k in client.scan_iter(match=env["MEMVAULT_BROKER_NAMESPACE"] + ":*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def servers_down() -> str | None:
    """Why scale mode cannot run here, or ``None``."""
    try:
        await admin("SELECT 1")
        client = Redis.from_url(REDIS_URL)
        try:
            await client.ping()
        finally:
            await client.aclose()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


async def scale(turns: int, embedder: str, console: Console) -> None:
    reason = await servers_down()
    if reason is not None:
        console.print(f"scale mode skipped: PostgreSQL or Redis unreachable ({reason})")
        return
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="memvault-bench-scale-") as tmp:
        async with AsyncExitStack() as stack:
            url = await stack.enter_async_context(postgres_database())
            env = scale_env(Path(tmp), url, embedder, secret)
            base = await stack.enter_async_context(processes(Path(tmp), env))
            delays = await measure(base, Tokens(secret), turns)
    title = f"chat turn → memory visible (scale: PostgreSQL, Redis; {embedder} embedder)"
    console.print(table(title, delays))


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--embedder", choices=("local", "hashing"), default="local")
    parser.add_argument("--mode", choices=("embedded", "scale", "both"), default="both")
    args = parser.parse_args(argv)
    console = Console()
    if args.mode in ("embedded", "both"):
        asyncio.run(embedded(args.turns, args.embedder, console))
    if args.mode in ("scale", "both"):
        asyncio.run(scale(args.turns, args.embedder, console))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
