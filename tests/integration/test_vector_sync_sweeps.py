"""No double work in vector sync: a slow sync is never embedded twice at once, and the
re-sync sweeper takes bounded slices where an item that always fails blocks nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from memvault.application.indexing.ledger import SyncLedger
from memvault.application.indexing.vector_sync import ResyncVectorsUseCase, VectorIndexer
from memvault.application.ports.embedder import Embedder, EmbedderError, Vector
from tests.integration import test_vector_sync as sync
from tests.integration.test_vector_sync import World, create_then_crash, rows

memory_world = sync.memory_world
template_database = sync.template_database


class HeldEmbedder(Embedder):
    """Counts document calls; each waits until ``release`` is set. Texts containing
    ``poison`` always fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    @property
    def name(self) -> str:
        return "held"

    @property
    def dimension(self) -> int:
        return 2

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        self.calls += 1
        await self.release.wait()
        if any("poison" in text for text in texts):
            raise EmbedderError("this text always fails")
        return [[1.0, 0.0] for _ in texts]

    async def embed_query(self, text: str) -> Vector:
        return [1.0, 0.0]


def sweeper_parts(
    world: World, embedder: Embedder, *, timeout: timedelta = timedelta(seconds=30)
) -> tuple[VectorIndexer, SyncLedger]:
    ledger = SyncLedger(rest=timedelta(minutes=1))
    indexer = VectorIndexer(
        world.container.uow(),
        world.clock,
        embedder,
        world.container.infra.vector_store(),
        timeout=timeout,
        per_item=timedelta(),
        ledger=ledger,
    )
    return indexer, ledger


async def test_a_sync_past_its_timeout_is_not_embedded_again_while_it_runs(
    memory_world: World,
) -> None:
    world = memory_world
    alice, _ = world.users
    item_id = await create_then_crash(world, alice, "plays the cello")
    embedder = HeldEmbedder()
    indexer, ledger = sweeper_parts(world, embedder, timeout=timedelta())
    async with world.container.uow()() as uow:
        [item] = await uow.items.get_many(alice, [item_id])

    await indexer.items_changed([item])  # gives up waiting; the sync goes on
    assert embedder.calls == 1
    assert (await rows(world))[item_id].vector_status == "pending"

    world.clock.advance(timedelta(hours=1))
    resync = ResyncVectorsUseCase(world.container.uow(), world.clock, indexer, ledger=ledger)
    assert await resync() == 0, "the running sync's item is left alone"
    assert embedder.calls == 1

    embedder.release.set()
    await indexer.settled()
    assert (await rows(world))[item_id].vector_status == "synced"
    assert embedder.calls == 1
    assert await resync() == 0


async def test_the_sweeper_takes_bounded_slices_and_a_poison_item_blocks_nobody(
    memory_world: World,
) -> None:
    world = memory_world
    alice, _ = world.users
    poison = await create_then_crash(world, alice, "poison: this text always fails")
    good = [await create_then_crash(world, alice, f"likes tea number {n}") for n in range(4)]
    embedder = HeldEmbedder()
    embedder.release.set()
    indexer, ledger = sweeper_parts(world, embedder)
    world.clock.advance(timedelta(hours=1))
    resync = ResyncVectorsUseCase(
        world.container.uow(), world.clock, indexer, batch=2, ledger=ledger
    )

    taken = [await resync() for _ in range(6)]

    assert max(taken) <= 2
    states = await rows(world)
    assert [states[i].vector_status for i in good] == ["synced"] * 4
    assert states[poison].vector_status == "failed"
    assert ledger.attempts(poison) >= 2
