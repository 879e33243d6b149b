"""Search over HTTP in scale mode: two ``memvault serve`` processes on one PostgreSQL
database with the Milvus server as the vector store, beside the same exact in-process
baseline as ``bench.search``.

Run: ``python -m bench.search_scale [--memories N] [--users U] [--queries Q]
[--clients C] [--apis A]`` (defaults: 20,000 memories over 200 users, the same 100 per
user as ``bench.search``'s 100k over 1,000, since loading through the network stores
runs at about 170 items/s here; ``MEMVAULT_BENCH_SCALE_MEMORIES`` sets the default of
N; ``MEMVAULT_BENCH_POSTGRES_URL`` the PostgreSQL server, as in ``bench.pipeline``).

The benchmark creates a fresh PostgreSQL database, starts a Milvus standalone server
(the PyPI ``milvus`` package, a dev dependency) on free ports with its data in a
temporary directory, and two ``memvault serve --no-migrate`` processes on free ports
with the hashing embedder (so what is measured is memvault's own cost, and the network
hop to the database and Milvus). It loads N memories over U users through
``POST /items/batch`` (spread over both APIs), then times ``POST /search`` (limit 10),
first one at a time and then with C concurrent clients, the requests alternating
between the two APIs. Beside each: the exact numpy top-10 over the asking user's vectors
in this process, and the servers' ``Server-Timing`` stages. Only the relay-less API is
needed: ``POST /items/batch`` indexes its items in the request.

Skipped, saying why, when PostgreSQL is unreachable or the ``milvus`` package is not
installed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from itertools import cycle
from pathlib import Path

import httpx
import structlog
from rich.console import Console

from bench.corpus import memories
from bench.pipeline import api_ready, postgres_database, scale_env, servers_down, stop
from bench.search import (
    LOAD_IN_FLIGHT,
    Timings,
    Tokens,
    free_port,
    labelled,
    latency_table,
    load,
    numpy_baseline,
    one_search,
    stage_table,
    workload,
)

MILVUS_READY_MS = 90_000


@contextmanager
def milvus_server(base: Path) -> Iterator[str]:
    """A Milvus standalone server with its data under ``base``; yields its URI."""
    from milvus import MilvusServer

    server = MilvusServer(wait_for_started=False)
    server.set_base_dir(str(base))
    try:
        server.start()
        server.wait_started(timeout=MILVUS_READY_MS)
        yield f"http://127.0.0.1:{server.listen_port}"
    finally:
        process = server.server_proc
        if process is not None:  # SIGTERM can hang for minutes; the data is throwaway
            process.kill()
            process.wait(timeout=30)
        server.stop()


@asynccontextmanager
async def apis(tmp: Path, env: dict[str, str], count: int) -> AsyncIterator[list[str]]:
    """``count`` ``memvault serve`` processes sharing ``env`` but each on its own port."""
    started: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for n in range(count):
            port = free_port()
            with (tmp / f"serve-{n}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once
                        [sys.executable, "-m", "memvault.entrypoints.cli", "serve", "--no-migrate"],
                        env=env | {"MEMVAULT_PORT": str(port)},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            await api_ready(base, started)
        yield bases
    finally:
        stop(started)


async def alternating_sequential(
    clients: Sequence[httpx.AsyncClient], tokens: Tokens, work: Sequence[tuple[str, str]]
) -> Timings:
    timings = Timings()
    started = time.perf_counter()
    for client, (user, text) in zip(cycle(clients), work, strict=False):
        await one_search(client, tokens, user, text, timings)
    timings.seconds = time.perf_counter() - started
    return timings


async def alternating_concurrent(
    clients: Sequence[httpx.AsyncClient],
    tokens: Tokens,
    work: Sequence[tuple[str, str]],
    concurrency: int,
) -> Timings:
    """``concurrency`` clients; client ``k`` sends every request to API ``k mod 2``."""
    timings = Timings()
    queue = list(reversed(work))

    async def run_client(client: httpx.AsyncClient) -> None:
        while queue:
            user, text = queue.pop()
            await one_search(client, tokens, user, text, timings)

    started = time.perf_counter()
    await asyncio.gather(*(run_client(clients[k % len(clients)]) for k in range(concurrency)))
    timings.seconds = time.perf_counter() - started
    return timings


async def bench(args: argparse.Namespace, console: Console) -> int:
    reason = await servers_down()
    if reason is not None:
        console.print(f"scale-mode search skipped: PostgreSQL or Redis unreachable ({reason})")
        return 0
    try:
        import milvus  # noqa: F401 - the server package, a dev dependency
    except ImportError:
        console.print("scale-mode search skipped: the milvus package is not installed")
        return 0
    corpus = list(memories(args.memories, args.users))
    users = sorted({m.user for m in corpus})
    work = workload(users, args.queries)
    secret = secrets.token_urlsafe(48)
    tokens = Tokens(secret)
    with tempfile.TemporaryDirectory(prefix="memvault-bench-search-scale-") as name:
        tmp = Path(name)
        async with AsyncExitStack() as stack:
            url = await stack.enter_async_context(postgres_database())
            milvus_uri = stack.enter_context(milvus_server(tmp / "milvus"))
            env = scale_env(tmp, url, "hashing", secret) | {
                "MEMVAULT_VECTOR_STORE": "milvus",
                "MEMVAULT_MILVUS_URI": milvus_uri,
            }
            bases = await stack.enter_async_context(apis(tmp, env, args.apis))
            limits = httpx.Limits(max_connections=args.clients + LOAD_IN_FLIGHT)
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=base, timeout=60, limits=limits)
                )
                for base in bases
            ]
            console.print(
                f"scale mode: loading {len(corpus):,} memories of {len(users):,} users "
                f"through {len(bases)} APIs (PostgreSQL, Milvus)"
            )
            half = len(corpus) // 2
            started = time.perf_counter()
            await asyncio.gather(
                load(clients[0], tokens, corpus[:half], console),
                load(clients[-1], tokens, corpus[half:], console),
            )
            rate = len(corpus) / (time.perf_counter() - started)
            await alternating_sequential(clients, tokens, work[: min(50, len(work))])  # warm up
            alone = await alternating_sequential(clients, tokens, work)
            together = await alternating_concurrent(clients, tokens, work, args.clients)
    baseline = labelled(await numpy_baseline(corpus, work), "numpy exact top-10")
    console.print(
        latency_table(
            f"POST /search, scale mode ({args.apis} APIs, PostgreSQL, Milvus server), hashing "
            f"embedder, {len(corpus):,} memories over {len(users):,} users, {len(work)} "
            f"queries; ingest {rate:,.0f} items/s",
            [
                ("sequential", alone, baseline),
                (f"{args.clients} concurrent clients", together, baseline),
            ],
        )
    )
    console.print(stage_table("Where a sequential search spends its time (scale mode)", alone))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--memories",
        type=int,
        default=int(os.environ.get("MEMVAULT_BENCH_SCALE_MEMORIES", "20000")),
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--apis", type=int, default=2, help="memvault serve processes")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    return asyncio.run(bench(args, Console(width=max(Console().width, 132))))


if __name__ == "__main__":
    raise SystemExit(main())
