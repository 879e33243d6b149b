"""A vector sync's deadline, in the database, on every dialect: the sweeper's query leaves
an item alone while some process's sync of it may still run, and takes it once the
deadline passed (that sync crashed or hangs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from memvault.application.ports.repositories import VectorState
from memvault.domain.memory import MemoryItem, MemoryType, VectorStatus

OLD = datetime(1999, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
"""Older than any other test's item: these come first in the sweeper's order."""


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


def pending(user_id: str, content: str) -> MemoryItem:
    return MemoryItem(
        user_id=user_id,
        memory_type=MemoryType.FACT,
        title=content,
        content=content,
        created_at=OLD,
        updated_at=OLD,
    )


async def unsynced_ids(uow: SqlUnitOfWorkFactory, now: datetime) -> set[int]:
    async with uow() as tx:
        found = await tx.items.unsynced(changed_before=now, now=now, limit=1000)
    return {item.id or 0 for item in found}


async def test_an_item_is_left_out_until_its_sync_deadline_passes(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    deadline = OLD + timedelta(minutes=5)
    written, free = pending(user_id, "plays the cello"), pending(user_id, "likes tea")
    async with uow() as tx:
        await tx.items.add(written, sync_until=deadline)
        await tx.items.add(free)
        await tx.commit()
    ids = {written.id, free.id}

    before = await unsynced_ids(uow, deadline - timedelta(microseconds=1))
    assert ids & before == {free.id}, "the running sync's item is left out"
    assert ids <= await unsynced_ids(uow, deadline), "taken again once the deadline passed"


async def test_a_hold_claims_once_and_an_update_sets_or_clears_the_deadline(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    item = pending(user_id, "likes green tea")
    async with uow() as tx:
        await tx.items.add(item)
        await tx.commit()
    until = OLD + timedelta(minutes=1)
    assert item.id in await unsynced_ids(uow, OLD)

    async with uow() as tx:
        assert await tx.items.hold_vector_syncs([item.id or 0], now=OLD, until=until) == {item.id}
        await tx.commit()
    assert item.id not in await unsynced_ids(uow, OLD)
    async with uow() as tx:
        later = until + timedelta(minutes=1)
        assert await tx.items.hold_vector_syncs([item.id or 0], now=OLD, until=later) == set()
        await tx.commit()
    assert item.id in await unsynced_ids(uow, until), "the second claim did not take it"
    assert item.id in await unsynced_ids(uow, until)

    async with uow() as tx:
        await tx.items.update(item, sync_until=until + timedelta(minutes=1))
        await tx.commit()
    assert item.id not in await unsynced_ids(uow, until)

    async with uow() as tx:
        await tx.items.update(item)
        await tx.commit()
    assert item.id in await unsynced_ids(uow, OLD), "a write that starts no sync holds none"


async def test_a_recorded_outcome_ends_the_hold_and_a_return_to_pending_keeps_it(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    """A failed sync's item is retried at the next sweep, not at its deadline; an item
    sent back to ``pending`` (changed again meanwhile) keeps the newer write's hold."""
    until = OLD + timedelta(minutes=1)
    failed, overtaken = pending(user_id, "likes tea"), pending(user_id, "likes coffee")
    async with uow() as tx:
        for item in (failed, overtaken):
            await tx.items.add(item, sync_until=until)
        await tx.commit()

    def outcome(item: MemoryItem, status: VectorStatus) -> VectorState:
        return VectorState(
            item_id=item.id or 0, status=status, vector_id=None, expected_updated_at=OLD
        )

    async with uow() as tx:
        await tx.items.set_vector_states(
            [outcome(failed, VectorStatus.FAILED), outcome(overtaken, VectorStatus.PENDING)]
        )
        await tx.commit()
    found = await unsynced_ids(uow, OLD)
    assert failed.id in found
    assert overtaken.id not in found
