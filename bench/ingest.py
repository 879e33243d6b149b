"""Ingest throughput and search during bulk indexing, outside-in against ``memvault serve``.

Run: ``python -m bench.ingest [--items N] [--turns T] [--bulk B] [--idle-searches S]
[--bulk-in-flight F] [--lane-texts L] [--embedder local|hashing] [--no-compare]``.

1. The raw embedder, in this process: ``embed_documents`` over the N synthetic memories
   (``bench.corpus``) in batches of 32, right before and right after step 2 (the server
   idle meanwhile): texts/s; their mean is the baseline of the run. Before the server
   starts (local embedder only): how a query embedding fares while L documents are
   embedded in batches of 32 without pause, in this process: p50/p99 of the query
   against the same queries on the idle model, and the documents' texts/s, for one model
   with no lane, one model behind the priority lane, and queries on a second instance
   of the model (what the server runs); "drift" is the largest ``1 - cosine`` between
   a query's vector and its idle vector (a model unsafe to run twice at once shows it).
2. ``POST /items/batch`` (500 items a call, one user per call) of the same N memories
   to a fresh ``memvault serve``: items/s until every call returned (the vectors are
   written inside the call), and its ratio to the baseline; beside it, the share of
   that time the server's model was embedding (``memvault_embedding_seconds``), which
   tells a slow write path from a model slowed down inside the server.
3. ``POST /messages``: T user turns the rule extractor turns into one memory each (one
   user per turn, four in flight), timed until every memory is listed by ``GET /items``.
4. Another user searches without pause, first S times on the idle server (the
   baseline), then while B memories are indexed through ``POST /items/batch`` (one
   user, 500 a call, as many calls as that takes, ``--bulk-in-flight`` of them at once,
   two by default): search p50 / p99 of each, the ratio of the p99s, and the count of
   answers marked ``degraded`` (the dense retriever timed out or failed). Beside them,
   the document texts the server's model embedded meanwhile
   (``memvault_embedded_texts_total``: more than B would be double work) and the server
   log's vector syncs that outran their wait (``vector_sync_slow``) or failed.
5. The embedder comparison table of ``bench.embedders`` (texts/s, query p50,
   ``bench.retrieval`` hit@5) for every candidate installed (``--no-compare`` skips it).

Acceptance (issue 13), printed after step 4: batch ingest at least 0.8× the raw
embedder, and no degraded search while the bulk batch is indexed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from bench import embedders
from bench.corpus import SyntheticMemory, memories, queries
from bench.search import BATCH, BATCH_SIZE, SEARCH, Tokens, load, server, verdict
from memvault.adapters.embedder.hashing import HashingEmbedder
from memvault.adapters.embedder.local import LocalEmbedder
from memvault.adapters.embedder.priority import PriorityEmbedder
from memvault.application.ports.embedder import Embedder, Vector
from memvault.container import LOCAL_EMBED_SLICE

MESSAGES = "/api/v1/memory/messages"
ITEMS = "/api/v1/memory/items"
EMBED_BATCH = 32
GIVE_UP_S = 300.0
BATCH_FLOOR = 0.8
"""Batch ingest must reach this share of the raw embedder's throughput (issue 13)."""
SEARCHER = "bench-searcher"


@dataclass
class Searches:
    latencies: list[float] = field(default_factory=list)
    degraded: int = 0

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")


async def raw_embedder(kind: str, texts: Sequence[str]) -> float:
    embedder: Embedder = LocalEmbedder() if kind == "local" else HashingEmbedder(256)
    await embedder.embed_documents(texts[:1])  # load the model first
    started = time.perf_counter()
    for start in range(0, len(texts), EMBED_BATCH):
        await embedder.embed_documents(texts[start : start + EMBED_BATCH])
    return len(texts) / (time.perf_counter() - started)


@dataclass
class Lane:
    label: str
    query_ms: list[float]
    documents_per_s: float = float("nan")
    drift: float = 0.0

    def p(self, q: float) -> float:
        return float(np.percentile(self.query_ms, q))


async def idle_queries(embedder: Embedder, questions: Sequence[str]) -> tuple[Lane, list[Vector]]:
    await embedder.embed_query(questions[0])  # load the model first
    lane, vectors = Lane("idle model (baseline)", []), []
    for question in questions:
        began = time.perf_counter()
        vectors.append(await embedder.embed_query(question))
        lane.query_ms.append((time.perf_counter() - began) * 1000)
    return lane, vectors


async def queries_while_indexing(
    label: str,
    documents: Embedder,
    queries_to: Embedder,
    texts: Sequence[str],
    questions: Sequence[str],
    idle: Sequence[Vector],
) -> Lane:
    """Queries one after another, without pause, until ``texts`` are embedded."""
    await documents.embed_documents(texts[:1])
    await queries_to.embed_query(questions[0])

    async def index() -> None:
        for start in range(0, len(texts), EMBED_BATCH):
            await documents.embed_documents(texts[start : start + EMBED_BATCH])

    lane = Lane(label, [])
    started = time.perf_counter()
    indexing = asyncio.create_task(index())
    n = 0
    while not indexing.done():
        began = time.perf_counter()
        vector = await queries_to.embed_query(questions[n % len(questions)])
        lane.query_ms.append((time.perf_counter() - began) * 1000)
        cosine = float(np.dot(vector, idle[n % len(questions)]))
        lane.drift = max(lane.drift, 1.0 - cosine)
        n += 1
    await indexing
    lane.documents_per_s = len(texts) / (time.perf_counter() - started)
    return lane


async def query_lanes(texts: Sequence[str]) -> list[Lane]:
    """One model without a lane, one behind the priority lane, and what the server runs:
    queries on a second instance of the model (the lane then lets both through)."""
    questions = [q for q, _ in zip(queries(seed=5), range(40), strict=False)]
    shared = LocalEmbedder()
    baseline, idle = await idle_queries(shared, questions)
    lanes = [baseline]
    lanes.append(
        await queries_while_indexing("one model, no lane", shared, shared, texts, questions, idle)
    )
    laned = PriorityEmbedder(shared, slice_size=LOCAL_EMBED_SLICE)
    lanes.append(
        await queries_while_indexing(
            f"one model, priority lane (slices ≤ {LOCAL_EMBED_SLICE})",
            laned,
            laned,
            texts,
            questions,
            idle,
        )
    )
    server = PriorityEmbedder(LocalEmbedder(query_instance=True), slice_size=LOCAL_EMBED_SLICE)
    lanes.append(
        await queries_while_indexing(
            "queries on a second instance (served)", server, server, texts, questions, idle
        )
    )
    return lanes


def lane_table(lanes: Sequence[Lane], texts: int) -> Table:
    out = Table(title=f"query embedding while {texts} documents are embedded (in-process)")
    for column in (
        "model(s)",
        "queries",
        "query p50 ms",
        "query p99 ms",
        "p99 / idle p99",
        "documents/s",
        "drift",
    ):
        out.add_column(column, justify="right")
    idle = lanes[0].p(99)
    for lane in lanes:
        out.add_row(
            lane.label,
            str(len(lane.query_ms)),
            f"{lane.p(50):.1f}",
            f"{lane.p(99):.1f}",
            f"{lane.p(99) / idle:.2f}×",
            "-" if np.isnan(lane.documents_per_s) else f"{lane.documents_per_s:.1f}",
            f"{lane.drift:.1e}",
        )
    return out


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


async def search_once(
    client: httpx.AsyncClient, tokens: Tokens, texts: Iterator[str], into: Searches
) -> None:
    began = time.perf_counter()
    answer = await client.post(
        SEARCH, json={"query": next(texts), "limit": 10}, headers=tokens(SEARCHER)
    )
    answer.raise_for_status()
    into.latencies.append((time.perf_counter() - began) * 1000)
    into.degraded += bool(answer.json()["degraded"])


async def server_metric(client: httpx.AsyncClient, sample: str) -> float:
    """One sample of the server's ``/metrics`` (0 before it exists)."""
    page = await client.get("/metrics")
    page.raise_for_status()
    for line in page.text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def embedded_documents(client: httpx.AsyncClient) -> float:
    """The server's count of document texts its model embedded."""
    return await server_metric(client, 'memvault_embedded_texts_total{kind="documents"}')


async def embedding_seconds(client: httpx.AsyncClient) -> float:
    """Seconds the server's model spent embedding documents."""
    return await server_metric(client, 'memvault_embedding_seconds_sum{kind="documents"}')


async def search_idle_then_during_bulk(
    client: httpx.AsyncClient,
    tokens: Tokens,
    args: argparse.Namespace,
    console: Console,
) -> tuple[Searches, Searches, float]:
    """The searcher's idle baseline, then searches without pause until the bulk
    memories of another user are loaded (and so indexed); also the document texts the
    server embedded meanwhile."""
    bulk, idle = args.bulk, args.idle_searches
    corpus = [SyntheticMemory(SEARCHER, m.memory_type, m.content) for m in memories(20, 1)]
    await load(client, tokens, corpus, console)
    texts = queries()
    baseline = Searches()
    for _ in range(idle):
        await search_once(client, tokens, texts, baseline)
    bulk_corpus = [
        SyntheticMemory("bench-bulk", m.memory_type, m.content) for m in memories(bulk, 1, seed=9)
    ]
    before = await embedded_documents(client)
    loading = asyncio.create_task(
        load(client, tokens, bulk_corpus, console, in_flight=args.bulk_in_flight)
    )
    during = Searches()
    while not loading.done():
        await search_once(client, tokens, texts, during)
    await loading
    return baseline, during, await embedded_documents(client) - before


def sync_warnings(log: Path) -> dict[str, int]:
    """How often the server logged a sync that outran its wait or failed."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return {event: text.count(event) for event in ("vector_sync_slow", "vector_sync_failed")}


def load_average() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


async def run(args: argparse.Namespace, console: Console) -> None:
    console.print(f"load average (1/5/15 min) at start: {load_average()}", highlight=False)
    corpus = list(memories(args.items, max(1, args.items // 500)))
    lanes = (
        await query_lanes([m.content for m in corpus][: args.lane_texts])
        if args.embedder == "local" and args.lane_texts > 0
        else []
    )
    secret = secrets.token_urlsafe(32)
    tokens = Tokens(secret)
    with tempfile.TemporaryDirectory(prefix="memvault-bench-ingest-") as tmp:
        async with (
            server(Path(tmp) / "data", args.embedder, secret) as base,
            httpx.AsyncClient(base_url=base, timeout=600) as client,
        ):
            # The baseline right before and right after the batch calls, on the same
            # texts, while the server idles: load that drifts weighs on both alike.
            raw_before = await raw_embedder(args.embedder, [m.content for m in corpus])
            model_before, began = await embedding_seconds(client), time.perf_counter()
            batch_rate = await load(client, tokens, corpus, console, in_flight=1)
            batch_wall = time.perf_counter() - began
            model_busy = await embedding_seconds(client) - model_before
            raw_after = await raw_embedder(args.embedder, [m.content for m in corpus])
            chat_rate = await through_messages(client, tokens, args.turns)
            idle, during, bulk_embedded = await search_idle_then_during_bulk(
                client, tokens, args, console
            )
        warnings = sync_warnings(Path(tmp) / f"serve-{args.embedder}.log")
    throughput = Table(title=f"ingest, outside-in ({args.embedder} embedder)")
    for column in ("path", "items", "items/s", "ratio to the raw embedder (mean)"):
        throughput.add_column(column, justify="right")
    baseline = (raw_before + raw_after) / 2
    for when, rate in (("before", raw_before), ("after", raw_after)):
        throughput.add_row(
            f"raw embedder, in-process, {when}",
            str(args.items),
            f"{rate:.1f}",
            f"{rate / baseline:.2f}",
        )
    throughput.add_row(
        f"POST {BATCH}", str(args.items), f"{batch_rate:.1f}", f"{batch_rate / baseline:.2f}"
    )
    throughput.add_row(
        f"POST {MESSAGES} (rules)",
        str(args.turns),
        f"{chat_rate:.1f}",
        f"{chat_rate / baseline:.2f}",
    )
    throughput.caption = (
        f"during the batch calls the server's model embedded for {model_busy:.1f} s of"
        f" {batch_wall:.1f} s ({model_busy / batch_wall:.0%}): {args.items / model_busy:.1f}"
        " texts/s inside the server; the rest is the write path"
    )
    console.print(throughput)
    if lanes:
        console.print(lane_table(lanes, min(args.lane_texts, args.items)))
    searching = Table(
        title=f"search: idle, then while {args.bulk:,} memories are indexed"
        f" ({BATCH_SIZE} a call, {args.bulk_in_flight} calls in flight)"
    )
    for column in ("server", "searches", "p50 ms", "p99 ms", "p99 / idle p99", "degraded"):
        searching.add_column(column, justify="right")
    for label, searches in (("idle (baseline)", idle), ("bulk indexing", during)):
        searching.add_row(
            label,
            str(len(searches.latencies)),
            f"{searches.p(50):.0f}",
            f"{searches.p(99):.0f}",
            f"{searches.p(99) / idle.p(99):.2f}×",
            str(searches.degraded),
        )
    searching.caption = (
        f"documents the server's model embedded meanwhile: {bulk_embedded:,.0f}"
        f" for {args.bulk:,} memories; server log: vector_sync_slow"
        f" {warnings['vector_sync_slow']}, vector_sync_failed {warnings['vector_sync_failed']}"
    )
    console.print(searching)
    console.print(f"load average (1/5/15 min) at the end: {load_average()}", highlight=False)
    console.print("acceptance (issue 13):")
    for line in (
        verdict(
            f"batch ingest {batch_rate / baseline:.2f}× the raw embedder (≥ {BATCH_FLOOR}×)",
            batch_rate >= BATCH_FLOOR * baseline,
        ),
        verdict(
            f"{during.degraded} degraded of {len(during.latencies)} searches during the"
            f" {args.bulk:,}-item batch (0)",
            during.degraded == 0 and bool(during.latencies),
        ),
    ):
        console.print(f"  {line}", highlight=False)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=5000)
    parser.add_argument("--idle-searches", type=int, default=200)
    parser.add_argument(
        "--bulk-in-flight", type=int, default=2, help="bulk batch calls sent at once"
    )
    parser.add_argument(
        "--lane-texts",
        type=int,
        default=320,
        help="documents per row of the in-process query-lane comparison (0: skip it)",
    )
    parser.add_argument("--embedder", choices=("local", "hashing"), default="local")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the embedder comparison table"
    )
    args = parser.parse_args(argv)
    asyncio.run(run(args, Console(width=max(Console().width, 132))))
    if not args.no_compare:
        return embedders.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
