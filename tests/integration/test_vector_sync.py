"""Vector sync through the real use cases (docs/behaviour.md, "Vectors").

After every kind of change (create, batch create, a content edit that changes the
number of chunks, delete, restore, dedup archive, TTL expiry, a crash between commit
and vector write) the store must hold exactly the chunks of the visible items' current
text: the test reads every chunk back through the port (``document_ids`` plus a
search per user that returns all of a user's chunks) and compares it with what
``chunk_text`` makes of each visible item in the database. The sync itself never
changes ``updated_at``: it always equals the one in the item's last audit entry.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dependency_injector import providers
from sqlalchemy import select

from memvault.adapters.sqlalchemy.migrations import upgrade
from memvault.adapters.sqlalchemy.tables import memory_items
from memvault.adapters.vector_store.memory import MemoryVectorStore
from memvault.application.indexing.chunking import chunk_id, chunk_text
from memvault.application.maintenance.dedup import Dedup
from memvault.application.maintenance.reindex import ReindexUseCase
from memvault.application.memory_items.change_item import PatchItem, SetItemStatus
from memvault.application.memory_items.create_item import CreateItems, CreateItemsUseCase, NewItem
from memvault.application.ports.clock import Clock
from memvault.application.ports.indexer import ItemIndexer
from memvault.application.ports.vector_store import (
    VectorFilter,
    VectorStore,
)
from memvault.application.shared.documents import document_id
from memvault.container import (
    Container,
    Infrastructure,
    Settings,
    build_infrastructure,
    close_infrastructure,
)
from memvault.domain.memory import ItemChanges, MemoryItem, MemoryStatus
from tests.conftest import off_loop
from tests.doubles import SwitchableStore

STORES = ["memory", "qdrant-edge", "milvus-lite", "milvus"]
READ_ALL = 1000
"""A search limit above any user's chunk count here: a search then returns every chunk."""

LONG = " ".join(f"sentence {n} about the mountain cabin and the lake." for n in range(24))
"""About 1 200 characters: four chunks of at most 400 with an overlap of 80."""
MEDIUM = LONG[:520]
"""Two chunks."""


class TickingClock(Clock):
    """Real time at first, then 1 ms later at every call (so the sync's "now" always
    differs from the change's) and jumps forward on demand."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class CrashBeforeIndexing(ItemIndexer):
    """What a process killed right after the commit leaves: no vector write at all."""

    async def items_changed(self, items: Sequence[MemoryItem]) -> None:
        return None


@dataclass
class World:
    """One container on a database of its own, a store of the given kind and two users."""

    container: Container
    clock: TickingClock
    users: tuple[str, str]

    @property
    def store(self) -> VectorStore:
        store: VectorStore = self.container.infra.vector_store()
        return store


@pytest.fixture(scope="module")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test: the sweeper and reindex read items
    of every user, so each test needs a database nobody else writes to."""
    path = tmp_path_factory.mktemp("vector-sync") / "template.db"
    off_loop(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


def own_database(template: Path, tmp_path: Path) -> str:
    copy = tmp_path / "memvault.db"
    shutil.copyfile(template, copy)
    return f"sqlite+aiosqlite:///{copy}"


def store_settings(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if kind in ("memory", "qdrant-edge"):
        return {"vector_store": kind}
    if kind == "milvus-lite":
        return {"vector_store": "milvus", "milvus_uri": str(tmp_path / "vectors.db")}
    uri: str = request.getfixturevalue("milvus_server_uri")
    return {
        "vector_store": "milvus",
        "milvus_uri": uri,
        "vector_collection": f"sync_{uuid.uuid4().hex[:12]}",
    }


def memory_infrastructure(tmp_path: Path, template: Path, **store: str) -> Infrastructure:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=own_database(template, tmp_path),
        embedder="hashing",
        **({"vector_store": "memory"} | store),
    )
    return build_infrastructure(settings)


async def open_world(infra: Infrastructure) -> AsyncIterator[World]:
    clock = TickingClock()
    infra.clock.override(providers.Object(clock))
    users = (f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}")
    try:
        yield World(container=infra.loops().current(), clock=clock, users=users)
    finally:
        await infra.loops().close_current()
        await close_infrastructure(infra)


@pytest.fixture(params=STORES)
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, template_database: Path
) -> AsyncIterator[World]:
    store = store_settings(request.param, request, tmp_path)
    async for opened in open_world(memory_infrastructure(tmp_path, template_database, **store)):
        yield opened


@pytest.fixture
async def memory_world(tmp_path: Path, template_database: Path) -> AsyncIterator[World]:
    async for opened in open_world(memory_infrastructure(tmp_path, template_database)):
        yield opened


@pytest.fixture
async def broken_world(tmp_path: Path, template_database: Path) -> AsyncIterator[World]:
    infra = memory_infrastructure(tmp_path, template_database)
    infra.vector_store.override(providers.Object(SwitchableStore(MemoryVectorStore(), down=True)))
    async for opened in open_world(infra):
        yield opened


@dataclass(frozen=True)
class Row:
    user_id: str
    status: str
    content: str
    ttl_at: datetime | None
    vector_status: str
    vector_id: str | None
    updated_at: datetime


async def rows(world: World) -> dict[int, Row]:
    table = memory_items
    async with world.container.engine().connect() as conn:
        result = await conn.execute(
            select(
                table.c.id,
                table.c.user_id,
                table.c.status,
                table.c.content,
                table.c.ttl_at,
                table.c.vector_status,
                table.c.vector_id,
                table.c.updated_at,
            ).where(table.c.user_id.in_(world.users))
        )
        return {row.id: Row(*row[1:]) for row in result}


def visible(row: Row, now: datetime) -> bool:
    return row.status == MemoryStatus.ACTIVE.value and (row.ttl_at is None or row.ttl_at > now)


def expected_chunks(items: dict[int, Row], now: datetime) -> dict[str, dict[str, str]]:
    """document id → {chunk id: chunk text} for every visible item's current content."""
    wanted: dict[str, dict[str, str]] = {}
    for item_id, row in items.items():
        if visible(row, now):
            pieces = chunk_text(row.content)
            doc = document_id(item_id)
            wanted[doc] = {chunk_id(doc, n, len(pieces)): p for n, p in enumerate(pieces)}
    return wanted


async def stored_chunks(world: World) -> dict[str, dict[str, str]]:
    """Every chunk in the store, read back through the port."""
    probe = await world.container.infra.embedder().embed_query("anything at all")
    found: dict[str, dict[str, str]] = {}
    for user in world.users:
        hits = await world.store.search(probe, limit=READ_ALL, filter=VectorFilter(user_id=user))
        assert len(hits) < READ_ALL
        for hit in hits:
            assert hit.user_id == user
            found.setdefault(hit.document_id, {})[hit.id] = hit.text
    assert set(found) == await world.store.document_ids(), "documents of unknown users"
    return found


async def assert_store_matches_database(world: World) -> dict[int, Row]:
    now = world.clock.now()
    items = await rows(world)
    assert await stored_chunks(world) == expected_chunks(items, now)
    for item_id, row in items.items():
        if visible(row, now):
            assert (row.vector_status, row.vector_id) == ("synced", document_id(item_id))
        else:
            assert (row.vector_status, row.vector_id) == ("deleted", None)
    await assert_updated_at_is_the_audited_one(world, items)
    return items


async def assert_updated_at_is_the_audited_one(world: World, items: dict[int, Row]) -> None:
    """The sync never moves ``updated_at``: it is the one the last business change
    (always audited) wrote, though the sync ran later by the ticking clock."""
    for item_id, row in items.items():
        history = await world.container.item_history()(row.user_id, item_id)
        last = history[-1].after
        assert last is not None
        assert row.updated_at == datetime.fromisoformat(last["updated_at"])


async def create(world: World, user: str, *contents: str, **fields: object) -> list[MemoryItem]:
    new = [NewItem(memory_type="fact", content=text, **fields) for text in contents]
    return await world.container.create_items()(
        CreateItems(user_id=user, items=new, batch=len(new) > 1)
    )


async def create_then_crash(world: World, user: str, content: str, **fields: object) -> int:
    """Create an item the way a process killed right after the commit leaves it."""
    use_case = CreateItemsUseCase(world.container.uow(), world.clock, CrashBeforeIndexing())
    new = NewItem(memory_type="fact", content=content, **fields)
    [item] = await use_case(CreateItems(user_id=user, items=[new]))
    assert item.id is not None
    return item.id


async def patch(world: World, user: str, item_id: int, content: str) -> None:
    changes = ItemChanges(content=content)
    await world.container.patch_item()(PatchItem(user_id=user, item_id=item_id, changes=changes))


def ids(items: list[MemoryItem]) -> list[int]:
    return [item.id for item in items if item.id is not None]


async def test_the_store_holds_exactly_the_chunks_of_the_visible_items_after_every_change(
    world: World,
) -> None:
    alice, bob = world.users
    [short] = ids(await create(world, alice, "prefers green tea in the morning"))
    await assert_store_matches_database(world)

    long_, twin_a, twin_b, other = ids(
        await create(world, alice, LONG, "parks on level 3", "parks on level 3", "owns a cat")
    )
    [bobs] = ids(await create(world, bob, LONG + " Bob's copy."))
    assert len(chunk_text(LONG)) == 4
    items = await assert_store_matches_database(world)
    assert items[long_].vector_id == f"memory:{long_}"

    await patch(world, alice, long_, MEDIUM)  # four chunks → two: the old #2 and #3 must go
    await patch(world, alice, short, LONG)  # one chunk (plain id) → four (#0..#3)
    await assert_store_matches_database(world)
    await patch(world, alice, long_, "now a short note")  # two chunks → one (plain id)
    await assert_store_matches_database(world)

    delete = world.container.delete_item()
    await delete(SetItemStatus(user_id=alice, item_id=other))
    await delete(SetItemStatus(user_id=bob, item_id=bobs))
    items = await assert_store_matches_database(world)
    assert items[bobs].status == "deleted"
    await world.container.restore_item()(SetItemStatus(user_id=bob, item_id=bobs))
    items = await assert_store_matches_database(world)
    assert items[bobs].vector_status == "synced"

    report = await world.container.dedup()(Dedup(user_id=alice, dry_run=False))
    assert report.archived_ids in ([twin_a], [twin_b])
    items = await assert_store_matches_database(world)
    assert items[report.archived_ids[0]].status == "archived"

    # A crash after the commit leaves the item pending; one of them expires meanwhile.
    expiring = await create_then_crash(
        world, bob, "trial membership", ttl_at=world.clock.now() + timedelta(hours=1)
    )
    survivor = await create_then_crash(world, bob, "speaks Portuguese")
    assert (await rows(world))[expiring].vector_status == "pending"
    resync = world.container.resync_vectors()
    assert await resync() == 0, "nothing is re-synced within the grace period"
    world.clock.advance(timedelta(hours=2))
    assert await resync() == 2
    items = await assert_store_matches_database(world)
    assert (items[expiring].vector_status, items[survivor].vector_status) == ("deleted", "synced")

    # An item that expires after it was synced loses its chunks at the next sweep.
    tomorrow = world.clock.now() + timedelta(days=1)
    [later] = ids(await create(world, alice, "on call", ttl_at=tomorrow))
    world.clock.advance(timedelta(days=2))
    assert document_id(later) in await world.store.document_ids()
    assert await resync() == 1
    items = await assert_store_matches_database(world)
    assert items[later].vector_status == "deleted"
    await world.container.reindex()()
    await assert_store_matches_database(world)


async def test_the_sweeper_syncs_items_a_failing_store_left_failed(broken_world: World) -> None:
    world = broken_world
    alice, _ = world.users
    kept, edited, dropped = ids(
        await create(world, alice, "likes jazz", "lives in Lyon", "drinks no coffee")
    )
    await patch(world, alice, edited, LONG)
    await world.container.delete_item()(SetItemStatus(user_id=alice, item_id=dropped))
    items = await rows(world)
    assert {row.vector_status for row in items.values()} == {"failed"}
    assert all(row.vector_id is None for row in items.values())

    resync = world.container.resync_vectors()
    world.clock.advance(timedelta(minutes=1))
    assert await resync() == 3
    assert {row.vector_status for row in (await rows(world)).values()} == {"failed"}

    store = world.store
    assert isinstance(store, SwitchableStore)
    store.down = False
    assert await resync() == 3
    items = await assert_store_matches_database(world)
    assert [items[i].vector_status for i in (kept, edited, dropped)] == [
        "synced",
        "synced",
        "deleted",
    ]
    assert await resync() == 0


async def test_a_late_sync_of_an_older_version_leaves_the_item_to_the_sweeper(
    memory_world: World,
) -> None:
    """Two changes in quick succession whose syncs finish in the wrong order: the older
    one writes its stale text (or brings back a deleted item's chunks) last. The item
    must not stay marked ``synced`` over those chunks; the sweeper repairs it."""
    world = memory_world
    alice, _ = world.users
    edited, deleted = await create(world, alice, LONG, "likes jazz")
    await patch(world, alice, edited.id or 0, "likes jazz a lot")
    await world.container.delete_item()(SetItemStatus(user_id=alice, item_id=deleted.id or 0))
    await world.container.indexer().items_changed([edited, deleted])  # the creation's sync

    items = await rows(world)
    assert [items[item.id or 0].vector_status for item in (edited, deleted)] == [
        "pending",
        "pending",
    ]
    world.clock.advance(timedelta(minutes=1))
    assert await world.container.resync_vectors()() == 2
    await assert_store_matches_database(world)


class WriteBeforeListing(SwitchableStore):
    """The real store; just before the reindex lists its documents, a user writes a new
    memory through the live service (created and indexed after the scan passed)."""

    def __init__(self, world: World) -> None:
        super().__init__(world.container.infra.vector_store())
        self.world = world
        self.created: list[int] = []

    async def document_ids(self, *, user_id: str | None = None) -> set[str]:
        if not self.created:
            alice, _ = self.world.users
            self.created = ids(await create(self.world, alice, "joined a choir"))
        return await super().document_ids(user_id=user_id)


async def test_a_reindex_keeps_the_vectors_of_items_written_while_it_ran(
    memory_world: World,
) -> None:
    world = memory_world
    alice, _ = world.users
    await create(world, alice, "likes jazz")
    container = world.container
    store = WriteBeforeListing(world)
    reindex = ReindexUseCase(
        container.uow(), world.clock, container.indexer(), store, container.infra.embedder()
    )
    await reindex()
    [fresh] = store.created
    assert document_id(fresh) in await store.inner.document_ids()
    await assert_store_matches_database(world)
