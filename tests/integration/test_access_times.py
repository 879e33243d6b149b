"""Access times are kept in memory by searches and written in one batch by ``flush``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from memvault.application.ports.repositories import UnitOfWork
from memvault.application.search.access_times import AccessTimes
from tests.contract.test_repositories import NOW, add, make_item


async def last_access(uow: SqlUnitOfWorkFactory, user_id: str, item_id: int | None) -> object:
    async with uow(read_only=True) as tx:
        item = await tx.items.get(user_id, item_id or 0)
    assert item is not None
    return item.last_access_at


async def test_a_flush_writes_the_newest_access_of_each_item_once(
    engine: AsyncEngine, user_id: str
):
    uow = SqlUnitOfWorkFactory(engine)
    first, second = await add(uow, make_item(user_id, "tea"), make_item(user_id, "coffee"))
    access = AccessTimes(uow)
    later = NOW + timedelta(minutes=5)
    access.record([first.id or 0, second.id or 0], at=later)
    access.record([first.id or 0], at=NOW)

    assert await last_access(uow, user_id, first.id) is None
    assert await access.flush() == 2
    assert await access.flush() == 0

    assert await last_access(uow, user_id, first.id) == later
    assert await last_access(uow, user_id, second.id) == later
    async with uow(read_only=True) as tx:
        stored = await tx.items.get(user_id, first.id or 0)
    assert stored is not None
    assert stored.updated_at == NOW


async def test_an_older_access_never_replaces_a_newer_one(engine: AsyncEngine, user_id: str):
    uow = SqlUnitOfWorkFactory(engine)
    (item,) = await add(uow, make_item(user_id))
    access = AccessTimes(uow)
    access.record([item.id or 0], at=NOW + timedelta(hours=1))
    await access.flush()
    access.record([item.id or 0], at=NOW)
    await access.flush()
    assert await last_access(uow, user_id, item.id) == NOW + timedelta(hours=1)


def no_database(*, read_only: bool = False) -> UnitOfWork:
    raise AssertionError("recording never touches the database")


def test_pending_access_times_are_bounded():
    access = AccessTimes(no_database, max_pending=2)
    access.record([1, 2, 3], at=NOW)
    access.record([1], at=NOW + timedelta(seconds=1))
    assert access.pending == 2
