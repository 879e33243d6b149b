"""No double work in vector sync: a slow sync is never embedded twice at once, and the
re-sync sweeper takes bounded slices where an item that always fails blocks nobody."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from memvault.application.indexing.ledger import SyncLedger
from memvault.application.indexing.vector_sync import ResyncVectorsUseCase, VectorIndexer
from memvault.application.memory_items.create_item import CreateItems, CreateItemsUseCase, NewItem
from memvault.application.ports.embedder import Embedder, EmbedderError, Vector
from tests.integration import test_vector_sync as sync
from tests.integration.test_vector_sync import (
    World,
    create_then_crash,
    memory_infrastructure,
    open_world,
    rows,
)

template_database = sync.template_database


@pytest.fixture
async def edge_world(tmp_path: Path, template_database: Path) -> AsyncIterator[World]:
    """SQLite and the embedded qdrant-edge store: the embedded default."""
    infra = memory_infrastructure(tmp_path, template_database, vector_store="qdrant-edge")
    async for opened in open_world(infra):
        yield opened


class HeldEmbedder(Embedder):
    """Counts document calls; each waits until ``release`` is set. Texts containing
    ``poison`` always fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.texts: list[list[str]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    @property
    def name(self) -> str:
        return "held"

    @property
    def dimension(self) -> int:
        return 2

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        self.calls += 1
        self.texts.append(list(texts))
        self.started.set()
        await self.release.wait()
        if any("poison" in text for text in texts):
            raise EmbedderError("this text always fails")
        return [[1.0, 0.0] for _ in texts]

    async def embed_query(self, text: str) -> Vector:
        return [1.0, 0.0]


def sweeper_parts(
    world: World,
    embedder: Embedder,
    *,
    timeout: timedelta = timedelta(seconds=30),
    per_item: timedelta = timedelta(),
) -> tuple[VectorIndexer, SyncLedger]:
    ledger = SyncLedger(rest=timedelta(minutes=1))
    indexer = VectorIndexer(
        world.container.uow(),
        world.clock,
        embedder,
        world.container.infra.vector_store(),
        timeout=timeout,
        per_item=per_item,
        ledger=ledger,
    )
    return indexer, ledger


async def test_a_sync_past_its_timeout_is_not_embedded_again_while_it_runs(
    edge_world: World,
) -> None:
    world = edge_world
    alice, _ = world.users
    item_id = await create_then_crash(world, alice, "plays the cello")
    embedder = HeldEmbedder()
    indexer, ledger = sweeper_parts(world, embedder, timeout=timedelta())
    async with world.container.uow()() as uow:
        [item] = await uow.items.get_many(alice, [item_id])

    await indexer.items_changed([item])  # gives up waiting; the sync goes on
    await embedder.started.wait()
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
    edge_world: World,
) -> None:
    world = edge_world
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


async def test_the_wait_for_a_sync_scales_with_its_batch(edge_world: World) -> None:
    """No fixed allowance at all, an hour per item: a batch whose embedding ends only
    after the caller began waiting is still waited for, and ends synced (with
    ``per_item`` zero the caller would have returned with the items pending)."""
    world = edge_world
    alice, _ = world.users
    ids = [await create_then_crash(world, alice, f"likes tea number {n}") for n in range(3)]
    embedder = HeldEmbedder()
    indexer, ledger = sweeper_parts(
        world, embedder, timeout=timedelta(), per_item=timedelta(hours=1)
    )
    async with world.container.uow()() as uow:
        items = await uow.items.get_many(alice, ids)

    waiting = asyncio.create_task(indexer.items_changed(items))
    await embedder.started.wait()  # the sync is under way, its caller waiting on it
    embedder.release.set()
    await waiting

    assert ledger.skipped(now=world.clock.now()) == [], "nothing left running behind it"
    assert [(await rows(world))[i].vector_status for i in ids] == ["synced"] * 3


async def test_items_of_running_syncs_past_the_exclusion_cap_are_not_embedded_again(
    edge_world: World,
) -> None:
    """More items syncing than one sweep's query may name (a 5,000-item batch sent in
    ten concurrent calls): the sweeper still leaves every one of them alone."""
    world = edge_world
    alice, _ = world.users
    running = [await create_then_crash(world, alice, f"plays the cello {n}") for n in range(3)]
    behind = await create_then_crash(world, alice, "likes green tea")
    embedder = HeldEmbedder()
    indexer, ledger = sweeper_parts(world, embedder, timeout=timedelta())
    async with world.container.uow()() as uow:
        items = await uow.items.get_many(alice, running)
    await indexer.items_changed(items)  # still running, in the background
    await embedder.started.wait()

    world.clock.advance(timedelta(hours=1))
    resync = ResyncVectorsUseCase(
        world.container.uow(), world.clock, indexer, batch=2, ledger=ledger, max_excluded=1
    )
    embedder.started.clear()
    taken = await resync()
    await embedder.started.wait()

    assert taken == 1, "only the item nobody is syncing"
    assert embedder.texts == [[f"plays the cello {n}" for n in range(3)], ["likes green tea"]]
    embedder.release.set()
    await indexer.settled()
    assert {(await rows(world))[i].vector_status for i in [*running, behind]} == {"synced"}


class Process:
    """What one process of scale mode holds: its own ledger, indexer and sweeper, on the
    database the others share (``serve``, ``relay``, ``worker``)."""

    def __init__(self, world: World, embedder: Embedder, *, timeout: timedelta) -> None:
        self.indexer, self.ledger = sweeper_parts(
            world, embedder, timeout=timeout, per_item=timedelta(seconds=0.2)
        )
        self.resync = ResyncVectorsUseCase(
            world.container.uow(), world.clock, self.indexer, ledger=self.ledger
        )
        self.create = CreateItemsUseCase(world.container.uow(), world.clock, self.indexer)


async def test_another_process_sweeper_leaves_a_running_write_sync_alone_until_its_deadline(
    edge_world: World,
) -> None:
    """The API's sync after its commit hangs; the relay's sweeper (its own ledger, which
    knows nothing of it) leaves the items alone past its grace, until the deadline the
    write recorded (30 s plus 0.2 s per item), then takes them: that sync crashed."""
    world = edge_world
    alice, _ = world.users
    held = HeldEmbedder()
    api = Process(world, held, timeout=timedelta(seconds=30))
    relay_embedder = HeldEmbedder()
    relay_embedder.release.set()
    relay = Process(world, relay_embedder, timeout=timedelta(seconds=30))
    news = [NewItem(memory_type="fact", content=f"plays the cello {n}") for n in range(5)]

    writing = asyncio.create_task(api.create(CreateItems(user_id=alice, items=news)))
    await held.started.wait()  # committed; its sync embeds, held

    world.clock.advance(timedelta(seconds=30.5))  # past the relay's grace, not the deadline
    assert await relay.resync() == 0
    assert relay_embedder.calls == 0, "not embedded a second time while the first runs"

    world.clock.advance(timedelta(seconds=1))  # past 30 s + 5 × 0.2 s after the write
    assert await relay.resync() == 5, "the deadline passed: taken as a crashed sync's"
    assert relay_embedder.calls == 1
    assert {r.vector_status for r in (await rows(world)).values()} == {"synced"}

    held.release.set()
    await writing
    await api.indexer.settled()
    assert held.calls == 1


async def test_two_sweepers_never_take_the_same_items_while_a_sync_runs(
    edge_world: World,
) -> None:
    world = edge_world
    alice, _ = world.users
    ids = [await create_then_crash(world, alice, f"likes tea number {n}") for n in range(3)]
    world.clock.advance(timedelta(hours=1))
    held = HeldEmbedder()
    first = Process(world, held, timeout=timedelta(seconds=30))
    other_embedder = HeldEmbedder()
    other_embedder.release.set()
    second = Process(world, other_embedder, timeout=timedelta(seconds=30))

    sweeping = asyncio.create_task(first.resync())
    await held.started.wait()
    world.clock.advance(timedelta(seconds=29))
    assert await second.resync() == 0
    assert other_embedder.calls == 0

    world.clock.advance(timedelta(seconds=2))  # past the first sweep's 30 s + 3 × 0.2 s
    assert await second.resync() == 3
    assert other_embedder.calls == 1
    held.release.set()
    assert await sweeping == 3
    await first.indexer.settled()
    assert {(await rows(world))[i].vector_status for i in ids} == {"synced"}


async def test_items_that_failed_before_are_retried_concurrently_each_alone(
    edge_world: World,
) -> None:
    """Four items that failed once, each hanging on retry: the sweep starts all four at
    once (one after another, the second would wait for the first's 30 s timeout); each
    is still its own call."""
    world = edge_world
    alice, _ = world.users
    ids = [await create_then_crash(world, alice, f"hangs number {n}") for n in range(4)]
    held = HeldEmbedder()
    indexer, ledger = sweeper_parts(world, held, timeout=timedelta(seconds=30))
    async with world.container.uow()() as uow:
        items = await uow.items.get_many(alice, ids)
    ledger.failed([(i.id or 0, i.updated_at) for i in items], now=world.clock.now())
    world.clock.advance(timedelta(hours=1))
    resync = ResyncVectorsUseCase(
        world.container.uow(), world.clock, indexer, ledger=ledger, retries=4
    )

    sweeping = asyncio.create_task(resync())
    deadline = time.monotonic() + 10  # a bound on waiting, far below one 30 s timeout
    while held.calls < 4:
        assert time.monotonic() < deadline, f"{held.calls} of 4 retries started at once"
        await asyncio.sleep(0.01)
    assert sorted(held.texts) == [[f"hangs number {n}"] for n in range(4)]
    held.release.set()
    assert await sweeping == 4
    await indexer.settled()
