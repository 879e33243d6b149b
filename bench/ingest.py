"""Ingest throughput and search during bulk indexing, outside-in against ``memvault serve``.

Run: ``python -m bench.ingest [--items N] [--turns T] [--bulk B] [--embedder local|hashing]
[--no-compare]``.

1. The raw embedder, in this process: ``embed_documents`` over the N synthetic memories
   (``bench.corpus``) in batches of 32: texts/s, the baseline of the run.
2. ``POST /items/batch`` (500 items a call, one user per call) of the same N memories
   to a fresh ``memvault serve``: items/s until every call returned (the vectors are
   written inside the call), and its ratio to the baseline.
3. ``POST /messages``: T user turns the rule extractor turns into one memory each (one
   user per turn, four in flight), timed until every memory is listed by ``GET /items``.
4. While B memories are indexed through ``POST /items/batch`` (one user, 500 a call,
   two calls in flight), another user searches without pause: search p50 / p99 and the
   count of answers marked ``degraded`` (the dense retriever timed out or failed).
5. The embedder comparison table of ``bench.embedders`` (texts/s, query p50,
   ``bench.retrieval`` hit@5) for every candidate installed (``--no-compare`` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from bench import embedders
from bench.corpus import SyntheticMemory, memories, queries
from bench.search import BATCH, SEARCH, Tokens, load, server
from memvault.adapters.embedder.hashing import HashingEmbedder
from memvault.adapters.embedder.local import LocalEmbedder
from memvault.application.ports.embedder import Embedder

MESSAGES = "/api/v1/memory/messages"
ITEMS = "/api/v1/memory/items"
EMBED_BATCH = 32
GIVE_UP_S = 300.0


async def raw_embedder(kind: str, texts: Sequence[str]) -> float:
    embedder: Embedder = LocalEmbedder() if kind == "local" else HashingEmbedder(256)
    await embedder.embed_documents(texts[:EMBED_BATCH])  # load the model first
    started = time.perf_counter()
    for start in range(0, len(texts), EMBED_BATCH):
        await embedder.embed_documents(texts[start : start + EMBED_BATCH])
    return len(texts) / (time.perf_counter() - started)


async def through_messages(client: httpx.AsyncClient, tokens: Tokens, turns: int) -> float:
    users = [f"bench-turn-{n:05d}-{secrets.token_hex(3)}" for n in range(turns)]
    gate = asyncio.Semaphore(4)

    async def post(n: int, user: str) -> None:
        text = f"My favourite colour is teal number {n}."
        body = {"conversation_id": "bench", "messages": [{"role": "user", "content": text}]}
        async with gate:
            (await client.post(MESSAGES, json=body, headers=tokens(user))).raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(post(n, user) for n, user in enumerate(users)))
    for user in users:
        while not (await client.get(ITEMS, headers=tokens(user))).json()["items"]:
            if time.perf_counter() - started > GIVE_UP_S:
                raise RuntimeError("memories from chat turns never appeared")
            await asyncio.sleep(0.01)
    return turns / (time.perf_counter() - started)


async def search_during_bulk(
    client: httpx.AsyncClient, tokens: Tokens, bulk: int, console: Console
) -> tuple[list[float], int]:
    searcher = "bench-searcher"
    corpus = [SyntheticMemory(searcher, m.memory_type, m.content) for m in memories(20, 1)]
    await load(client, tokens, corpus, console)
    bulk_corpus = [
        SyntheticMemory("bench-bulk", m.memory_type, m.content) for m in memories(bulk, 1, seed=9)
    ]
    loading = asyncio.create_task(load(client, tokens, bulk_corpus, console))
    latencies: list[float] = []
    degraded = 0
    texts = queries()
    while not loading.done():
        began = time.perf_counter()
        answer = await client.post(
            SEARCH, json={"query": next(texts), "limit": 10}, headers=tokens(searcher)
        )
        answer.raise_for_status()
        latencies.append((time.perf_counter() - began) * 1000)
        degraded += bool(answer.json()["degraded"])
    await loading
    return latencies, degraded


async def run(args: argparse.Namespace, console: Console) -> None:
    corpus = list(memories(args.items, max(1, args.items // 500)))
    baseline = await raw_embedder(args.embedder, [m.content for m in corpus])
    secret = secrets.token_urlsafe(32)
    tokens = Tokens(secret)
    with tempfile.TemporaryDirectory(prefix="memvault-bench-ingest-") as tmp:
        async with (
            server(Path(tmp) / "data", args.embedder, secret) as base,
            httpx.AsyncClient(base_url=base, timeout=600) as client,
        ):
            batch_rate = await load(client, tokens, corpus, console, in_flight=1)
            chat_rate = await through_messages(client, tokens, args.turns)
            latencies, degraded = await search_during_bulk(client, tokens, args.bulk, console)
    throughput = Table(title=f"ingest, outside-in ({args.embedder} embedder)")
    for column in ("path", "items", "items/s", "ratio to the raw embedder"):
        throughput.add_column(column, justify="right")
    throughput.add_row("raw embedder, in-process", str(args.items), f"{baseline:.1f}", "1.00")
    throughput.add_row(
        f"POST {BATCH}", str(args.items), f"{batch_rate:.1f}", f"{batch_rate / baseline:.2f}"
    )
    throughput.add_row(
        f"POST {MESSAGES} (rules)",
        str(args.turns),
        f"{chat_rate:.1f}",
        f"{chat_rate / baseline:.2f}",
    )
    console.print(throughput)
    during = Table(title=f"search while {args.bulk:,} memories are indexed")
    for column in ("searches", "p50 ms", "p99 ms", "degraded"):
        during.add_column(column, justify="right")
    during.add_row(
        str(len(latencies)),
        f"{np.percentile(latencies, 50):.0f}" if latencies else "-",
        f"{np.percentile(latencies, 99):.0f}" if latencies else "-",
        str(degraded),
    )
    console.print(during)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=5000)
    parser.add_argument("--embedder", choices=("local", "hashing"), default="local")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the embedder comparison table"
    )
    args = parser.parse_args(argv)
    asyncio.run(run(args, Console()))
    if not args.no_compare:
        return embedders.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
