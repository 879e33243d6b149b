"""Search over HTTP against a real ``memvault serve``, beside exact in-process baselines.

Run: ``python -m bench.search [--memories N] [--users U] [--queries Q] [--clients C]
[--local-memories M] [--data-dir DIR]`` (``MEMVAULT_BENCH_MEMORIES`` and
``MEMVAULT_BENCH_LOCAL_MEMORIES`` set the defaults of N and M). With ``--data-dir`` the
hashing run's data directory is kept there and reused by a later run with the same N and
U (loading 100k memories takes minutes); the ingest rate is then not measured.

1. Hashing embedder (so what is measured is memvault's own cost): the benchmark starts
   ``memvault serve`` (the embedded default: SQLite, qdrant-edge) on a free port with a
   fresh data directory, loads N synthetic memories (``bench.corpus``) over U users with
   ``POST /items/batch``, then times ``POST /search`` (limit 10) from the client, first
   one at a time, then with C concurrent clients. Beside each: an exact numpy search
   (dot products and a top 10) over the asking user's vectors in this process, timed on
   the same queries in the same run, and the ratio.
2. The default local embedder with M memories: search p50 against the in-process query
   embedding p50 of the same model on the same queries.
3. Where the server's time goes: the search's own ``Server-Timing`` stages, p50 and p99.

Rate limits are lifted for the benchmark's server; everything else is the default.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import httpx
import numpy as np
import structlog
from rich.console import Console
from rich.table import Table

from bench.corpus import SyntheticMemory, memories, queries
from memvault.adapters.embedder.hashing import HashingEmbedder
from memvault.entrypoints.http.auth import issue_token

SEARCH = "/api/v1/memory/search"
BATCH = "/api/v1/memory/items/batch"
LIMIT = 10
STARTUP_TIMEOUT_S = 120
LOAD_IN_FLIGHT = 2
LOAD_ATTEMPTS = 5
BATCH_SIZE = 500
HASHING_DIMENSION = 256


@dataclass
class Timings:
    """Client-side latencies (ms) and the server's stages (ms) of one run."""

    label: str = ""
    latencies: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0

    def p(self, q: float, values: Sequence[float] | None = None) -> float:
        data = self.latencies if values is None else values
        return float(np.percentile(data, q)) if data else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def server(
    data_dir: Path, embedder: str, secret: str, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[str]:
    """``memvault serve`` in a child process until the block ends (``extra_env``: more
    ``MEMVAULT_*`` settings)."""
    port = free_port()
    env = os.environ | {
        "MEMVAULT_DATA_DIR": str(data_dir),
        "MEMVAULT_PORT": str(port),
        "MEMVAULT_EMBEDDER": embedder,
        "MEMVAULT_AUTH_JWT_SECRET": secret,
        "MEMVAULT_RATE_LIMIT_PER_SECOND": "1000000",
        "MEMVAULT_RATE_LIMIT_BURST": "1000000",
        "MEMVAULT_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    env.pop("MEMVAULT_DATABASE_URL", None)
    log = (data_dir.parent / f"serve-{embedder}.log").open("w")
    process = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once
        [sys.executable, "-m", "memvault.entrypoints.cli", "serve"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _ready(process, base)
        yield base
    except BaseException:
        log.flush()
        lines = (data_dir.parent / f"serve-{embedder}.log").read_text().splitlines()
        print("\n".join(["memvault serve's log ends with:", *lines[-40:]]), file=sys.stderr)
        raise
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def _ready(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("memvault serve exited early; see serve-*.log")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError("memvault serve did not become ready in time")


class Tokens:
    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._headers: dict[str, dict[str, str]] = {}

    def __call__(self, user: str) -> dict[str, str]:
        if user not in self._headers:
            token = issue_token(self._secret, user)
            self._headers[user] = {"Authorization": f"Bearer {token}"}
        return self._headers[user]


def by_user(corpus: Sequence[SyntheticMemory]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for memory in corpus:
        grouped[memory.user].append(memory.content)
    return grouped


async def load(
    client: httpx.AsyncClient,
    tokens: Tokens,
    corpus: Sequence[SyntheticMemory],
    console: Console,
    *,
    batch_size: int = BATCH_SIZE,
    in_flight: int = LOAD_IN_FLIGHT,
) -> float:
    """Every memory through ``POST /items/batch``; returns items per second. A batch's
    vectors are embedded in its request: with a slow model, small batches one at a time
    keep each within the indexer's timeout, so no vector is left to the re-sync sweeper
    to embed in the background while searches are measured."""
    batches: list[tuple[str, list[dict[str, str]]]] = []
    for memory in corpus:
        if not batches or batches[-1][0] != memory.user or len(batches[-1][1]) >= batch_size:
            batches.append((memory.user, []))
        batches[-1][1].append({"memory_type": memory.memory_type, "content": memory.content})
    gate = asyncio.Semaphore(in_flight)
    done = 0
    started = time.perf_counter()

    async def send(user: str, items: list[dict[str, str]]) -> None:
        nonlocal done
        async with gate:
            for attempt in range(LOAD_ATTEMPTS):
                response = await client.post(BATCH, json={"items": items}, headers=tokens(user))
                if response.status_code < 500 or attempt == LOAD_ATTEMPTS - 1:
                    break
                await asyncio.sleep(1 + attempt)  # a batch is all or nothing: send it again
            response.raise_for_status()
        done += len(items)
        if done % 5000 < len(items) or done == len(corpus):  # progress, now and then
            console.print(f"  loaded {done:,}/{len(corpus):,} memories", highlight=False)

    await asyncio.gather(*(send(user, items) for user, items in batches))
    return len(corpus) / (time.perf_counter() - started)


def workload(users: Sequence[str], count: int, seed: int = 3) -> list[tuple[str, str]]:
    """``count`` (user, query) pairs: users drawn at random, queries from the set."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(users), size=count)
    return [(users[i], text) for i, text in zip(picks, islice(queries(), count), strict=True)]


async def one_search(
    client: httpx.AsyncClient, tokens: Tokens, user: str, text: str, into: Timings
) -> None:
    started = time.perf_counter()
    response = await client.post(SEARCH, json={"query": text, "limit": LIMIT}, headers=tokens(user))
    into.latencies.append((time.perf_counter() - started) * 1000)
    response.raise_for_status()
    for part in response.headers.get("server-timing", "").split(","):
        name, _, ms = part.strip().partition(";dur=")
        if ms:
            into.stages[name].append(float(ms))


async def sequential(
    client: httpx.AsyncClient, tokens: Tokens, work: Sequence[tuple[str, str]]
) -> Timings:
    timings = Timings()
    started = time.perf_counter()
    for user, text in work:
        await one_search(client, tokens, user, text, timings)
    timings.seconds = time.perf_counter() - started
    return timings


async def concurrent(
    client: httpx.AsyncClient, tokens: Tokens, work: Sequence[tuple[str, str]], clients: int
) -> Timings:
    timings = Timings()
    queue = list(reversed(work))

    async def run_client() -> None:
        while queue:
            user, text = queue.pop()
            await one_search(client, tokens, user, text, timings)

    started = time.perf_counter()
    await asyncio.gather(*(run_client() for _ in range(clients)))
    timings.seconds = time.perf_counter() - started
    return timings


async def numpy_baseline(
    corpus: Sequence[SyntheticMemory], work: Sequence[tuple[str, str]]
) -> Timings:
    """Exact top-10 over the asking user's vectors (hashing embedder), in this process;
    the embedding itself is not timed (the server's hashing embedding is negligible)."""
    embedder = HashingEmbedder(HASHING_DIMENSION)
    matrices: dict[str, np.ndarray] = {}
    for user, texts in by_user(corpus).items():
        matrices[user] = np.asarray(await embedder.embed_documents(texts), dtype=np.float32)
    vectors = [np.asarray(await embedder.embed_query(text), dtype=np.float32) for _, text in work]
    timings = Timings()
    started = time.perf_counter()
    for (user, _), vector in zip(work, vectors, strict=True):
        began = time.perf_counter()
        scores = matrices[user] @ vector
        top = np.argpartition(-scores, min(LIMIT, len(scores) - 1))[:LIMIT]
        top[np.argsort(-scores[top])].tolist()
        timings.latencies.append((time.perf_counter() - began) * 1000)
    timings.seconds = time.perf_counter() - started
    return timings


async def embedding_baseline(work: Sequence[tuple[str, str]]) -> Timings:
    """The default local model's query embedding, in this process, on the same queries."""
    from memvault.adapters.embedder.local import LocalEmbedder

    embedder = LocalEmbedder()
    await embedder.embed_query("warm up")
    timings = Timings()
    for _, text in work:
        began = time.perf_counter()
        await embedder.embed_query(text)
        timings.latencies.append((time.perf_counter() - began) * 1000)
    return timings


def ms(value: float) -> str:
    return f"{value:.2f}"


def ratio(value: float, base: float) -> str:
    return f"{value / base:,.1f}x" if base else "-"


def latency_table(title: str, rows: Sequence[tuple[str, Timings, Timings]]) -> Table:
    table = Table(title=title)
    for column in ("measurement", "p50 ms", "p99 ms", "req/s", "baseline", "base p50 ms"):
        table.add_column(
            column, justify="left" if column in ("measurement", "baseline") else "right"
        )
    for column in ("base p99 ms", "p50 ratio", "p99 ratio", "p50 - base p50 ms"):
        table.add_column(column, justify="right")
    for label, measured, base in rows:
        table.add_row(
            label,
            ms(measured.p(50)),
            ms(measured.p(99)),
            f"{measured.rate:,.0f}",
            base.label,
            ms(base.p(50)),
            ms(base.p(99)),
            ratio(measured.p(50), base.p(50)),
            ratio(measured.p(99), base.p(99)),
            ms(measured.p(50) - base.p(50)),
        )
    return table


def stage_table(title: str, timings: Timings) -> Table:
    table = Table(title=title)
    table.add_column("stage (server's Server-Timing)")
    for column in ("p50 ms", "p99 ms", "mean ms", "share of total (mean)"):
        table.add_column(column, justify="right")
    total = float(np.mean(timings.stages.get("total", [0.0]))) or 1.0
    for name, values in timings.stages.items():
        mean = float(np.mean(values))
        table.add_row(
            name,
            ms(timings.p(50, values)),
            ms(timings.p(99, values)),
            ms(mean),
            f"{mean / total:.0%}",
        )
    table.add_row(
        "client latency (HTTP round trip)",
        ms(timings.p(50)),
        ms(timings.p(99)),
        ms(float(np.mean(timings.latencies))),
        "",
    )
    return table


def labelled(timings: Timings, label: str) -> Timings:
    timings.label = label
    return timings


def seeded_marker(data_dir: Path, args: argparse.Namespace) -> Path:
    """The file that says ``data_dir`` holds the whole corpus of ``args``."""
    return data_dir / f".bench-search-seeded-{args.memories}-{args.users}"


async def hashing_run(args: argparse.Namespace, tmp: Path, console: Console) -> list[str]:
    corpus = list(memories(args.memories, args.users))
    users = sorted({m.user for m in corpus})
    work = workload(users, args.queries)
    secret = secrets.token_urlsafe(48)
    tokens = Tokens(secret)
    data_dir = args.data_dir or tmp / "hashing"
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = seeded_marker(data_dir, args)
    async with server(data_dir, "hashing", secret) as base:
        limits = httpx.Limits(max_connections=args.clients + LOAD_IN_FLIGHT)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            rate = float("nan")
            if marker.exists():
                console.print(
                    f"hashing embedder: reusing the {len(corpus):,} memories in {data_dir}"
                )
            else:
                console.print(
                    f"hashing embedder: loading {len(corpus):,} memories of {len(users):,} users"
                )
                rate = await load(client, tokens, corpus, console)
                marker.touch()
            await sequential(client, tokens, work[: min(50, len(work))])  # warm up
            alone = await sequential(client, tokens, work)
            together = await concurrent(client, tokens, work, args.clients)
    baseline = labelled(await numpy_baseline(corpus, work), "numpy exact top-10")
    console.print(
        latency_table(
            f"POST /search, hashing embedder, {len(corpus):,} memories over {len(users):,} users "
            f"({len(corpus) // len(users)} each), {len(work)} queries; ingest {rate:,.0f} items/s",
            [
                ("sequential", alone, baseline),
                (f"{args.clients} concurrent clients", together, baseline),
            ],
        )
    )
    console.print(stage_table("Where a sequential search spends its time (hashing)", alone))
    overhead50 = alone.p(50) - baseline.p(50)
    overhead99 = alone.p(99) - baseline.p(99)
    return [
        verdict(f"search overhead p50 {overhead50:.1f} ms <= 5 ms", overhead50 <= 5),
        verdict(f"search overhead p99 {overhead99:.1f} ms <= 15 ms", overhead99 <= 15),
        verdict(f"{args.clients} clients {together.rate:,.0f} req/s >= 300", together.rate >= 300),
        verdict(
            f"{args.clients} clients p99 {together.p(99):.1f} ms <= 100 ms", together.p(99) <= 100
        ),
    ]


async def local_run(args: argparse.Namespace, tmp: Path, console: Console) -> list[str]:
    corpus = list(memories(args.local_memories, max(1, args.local_memories // 100)))
    users = sorted({m.user for m in corpus})
    work = workload(users, min(args.queries, 200))
    secret = secrets.token_urlsafe(48)
    tokens = Tokens(secret)
    async with (
        server(tmp / "local", "local", secret) as base,
        httpx.AsyncClient(base_url=base, timeout=60) as client,
    ):
        console.print(f"local embedder: loading {len(corpus):,} memories of {len(users):,} users")
        rate = await load(client, tokens, corpus, console, batch_size=16, in_flight=1)
        await sequential(client, tokens, work[:20])  # warm up (the model loads lazily)
        alone = await sequential(client, tokens, work)
    baseline = labelled(await embedding_baseline(work), "in-process query embedding")
    console.print(
        latency_table(
            f"POST /search, default local embedder, {len(corpus):,} memories over "
            f"{len(users):,} users, {len(work)} queries; ingest {rate:,.1f} items/s",
            [("sequential", alone, baseline)],
        )
    )
    console.print(stage_table("Where a sequential search spends its time (local)", alone))
    bound = baseline.p(50) + 5
    return [
        verdict(
            f"local search p50 {alone.p(50):.1f} ms <= embedding p50 + 5 = {bound:.1f} ms",
            alone.p(50) <= bound,
        )
    ]


def verdict(text: str, ok: bool) -> str:
    return f"{'PASS' if ok else 'FAIL'}  {text}"


async def bench(args: argparse.Namespace, console: Console) -> int:
    with tempfile.TemporaryDirectory(prefix="memvault-bench-search-") as tmp:
        verdicts = await hashing_run(args, Path(tmp), console)
        if args.local_memories > 0:
            verdicts += await local_run(args, Path(tmp), console)
    console.print("acceptance (issue: read path at the speed of the index):")
    for line in verdicts:
        console.print(f"  {line}", highlight=False)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    env = os.environ.get
    parser.add_argument(
        "--memories", type=int, default=int(env("MEMVAULT_BENCH_MEMORIES", "100000"))
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--local-memories",
        type=int,
        default=int(env("MEMVAULT_BENCH_LOCAL_MEMORIES", "2000")),
        help="memories for the local-embedder run (0: skip it)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the hashing run's data directory here and reuse it when already seeded",
    )
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    return asyncio.run(bench(args, Console(width=max(Console().width, 132))))


if __name__ == "__main__":
    raise SystemExit(main())
