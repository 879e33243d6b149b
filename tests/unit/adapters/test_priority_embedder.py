"""The priority lane: a query embedding never waits behind queued document slices."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from memvault.adapters.embedder.priority import Lane, PriorityEmbedder
from memvault.application.ports.embedder import Embedder, Vector

UNBOUNDED = 1e9
"""Slices never shrink below ``slice_size`` here, however slow the test runs."""


class GatedEmbedder(Embedder):
    """Records every call in order; each call waits until the test opens its gate."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.started = asyncio.Event()
        self.gates: list[asyncio.Event] = []

    @property
    def name(self) -> str:
        return "gated"

    @property
    def dimension(self) -> int:
        return 1

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return [[1.0] for _ in await self._call("+".join(texts))]

    async def embed_query(self, text: str) -> Vector:
        await self._call(f"q:{text}")
        return [1.0]

    async def _call(self, label: str) -> list[str]:
        gate = asyncio.Event()
        self.gates.append(gate)
        self.started.set()
        await gate.wait()
        self.calls.append(label)
        return label.split("+")


async def open_next(inner: GatedEmbedder) -> None:
    """Let the running call finish and wait until the next one has started."""
    inner.started.clear()
    inner.gates[-1].set()
    await inner.started.wait()


async def queued(embedder: PriorityEmbedder, count: int) -> None:
    """Let the new tasks run until ``count`` of them wait at the gate."""
    for _ in range(20):
        if embedder.gate.waiting(Lane.QUERY) + embedder.gate.waiting(Lane.DOCUMENT) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError("the callers never queued")


async def test_a_query_goes_before_queued_document_slices() -> None:
    inner = GatedEmbedder()
    embedder = PriorityEmbedder(inner, slice_size=2, slice_seconds=UNBOUNDED)
    bulk = asyncio.create_task(embedder.embed_documents(["a", "b", "c", "d", "e"]))
    await inner.started.wait()  # slice a+b holds the model
    other = asyncio.create_task(embedder.embed_documents(["x"]))
    query = asyncio.create_task(embedder.embed_query("where"))
    await queued(embedder, 2)

    await open_next(inner)
    await open_next(inner)
    await open_next(inner)
    await open_next(inner)
    inner.gates[-1].set()

    assert len(await bulk) == 5
    assert await other == [[1.0]]
    assert await query == [1.0]
    assert inner.calls == ["a+b", "q:where", "x", "c+d", "e"]


async def test_a_cancelled_caller_keeps_the_model_until_its_slice_ends() -> None:
    inner = GatedEmbedder()
    embedder = PriorityEmbedder(inner, slice_size=2, slice_seconds=UNBOUNDED)
    bulk = asyncio.create_task(embedder.embed_documents(["a", "b", "c"]))
    await inner.started.wait()
    bulk.cancel()
    query = asyncio.create_task(embedder.embed_query("where"))
    await queued(embedder, 1)
    assert inner.calls == [], "the query waits for the slice still running"

    await open_next(inner)
    inner.gates[-1].set()
    assert await query == [1.0]
    assert inner.calls == ["a+b", "q:where"], "the cancelled batch's next slice never runs"


async def test_slices_shrink_to_what_the_model_embeds_in_the_slice_budget() -> None:
    inner = GatedEmbedder()
    embedder = PriorityEmbedder(inner, slice_size=4, slice_seconds=0.25)
    embedder._learn(0.25)  # measured: a quarter second per text
    bulk = asyncio.create_task(embedder.embed_documents(["a", "b", "c"]))
    await inner.started.wait()
    await open_next(inner)
    await open_next(inner)
    inner.gates[-1].set()
    await bulk
    assert inner.calls[:2] == ["a", "b"]


class ApartEmbedder(GatedEmbedder):
    """Documents wait for the test's gate; queries run on an instance of their own."""

    queries_apart = True

    async def embed_query(self, text: str) -> Vector:
        self.calls.append(f"q:{text}")
        return [1.0]


async def test_a_model_with_its_own_query_instance_answers_queries_during_a_slice() -> None:
    inner = ApartEmbedder()
    embedder = PriorityEmbedder(inner, slice_size=2, slice_seconds=UNBOUNDED)
    bulk = asyncio.create_task(embedder.embed_documents(["a", "b", "c", "d", "e"]))
    await inner.started.wait()  # the documents hold their model

    assert await embedder.embed_query("where") == [1.0]
    assert inner.calls == ["q:where"], "answered while the documents still run"
    inner.gates[-1].set()
    assert len(await bulk) == 5
    assert inner.calls == ["q:where", "a+b+c+d+e"], "documents in the model's own batches"
