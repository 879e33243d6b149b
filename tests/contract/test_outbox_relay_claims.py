"""How the relay holds what it claims, on every dialect (application/outbox/relay.py).

PostgreSQL and MariaDB hold a claim by row lock for the whole claim-publish-mark
transaction; SQLite commits a lease first. Each dialect gets a private database: the
relay claims every due row of the table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from memvault.adapters.system_clock import SystemClock
from memvault.application.config import OutboxPolicy
from memvault.application.outbox.relay import RelayOutboxUseCase
from memvault.application.ports.event_bus import EventBusError, EventPublisher, OutgoingEvent
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from tests.databases import private_database_per_dialect

POLICY = OutboxPolicy(topic="t", batch=10)


private_url = private_database_per_dialect("relay")


@pytest.fixture
async def uow(private_url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    engine: AsyncEngine = create_engine(private_url, pool_size=4)
    factory = SqlUnitOfWorkFactory(engine)
    yield factory
    async with factory() as work:  # the next test starts from an empty outbox
        for row in await work.outbox.list(status=None, limit=1000):
            row.status, row.next_retry_at = OutboxStatus.CONSUMED, None
            await work.outbox.save(row)
        await work.commit()
    await engine.dispose()


class Publisher(EventPublisher):
    """Records what it publishes; ``gate`` holds a publish until set; ``error`` fails it."""

    def __init__(self) -> None:
        self.published: list[bytes] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.error: Exception | None = None

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        self.published.extend(event.value for event in events)

    async def close(self) -> None:
        pass


async def add_rows(
    uow: SqlUnitOfWorkFactory, count: int, *, payload: str | None = None
) -> list[int]:
    """Due rows; ``payload`` for each instead of a valid event wrapper."""
    now = datetime.now(UTC)
    ids: list[int] = []
    async with uow() as work:
        for n in range(count):
            event = json.dumps({"event_type": "chat.message", "payload": {"n": n}})
            message = OutboxMessage(
                event_type="chat.message",
                topic="t",
                message_key=f"conv-{n}",
                payload=event if payload is None else payload,
                next_retry_at=now - timedelta(seconds=1),
                created_at=now,
                updated_at=now,
            )
            ids.append((await work.outbox.add(message)).id or 0)
        await work.commit()
    return ids


async def rows(uow: SqlUnitOfWorkFactory, ids: list[int]) -> list[OutboxMessage]:
    async with uow(read_only=True) as work:
        found = [await work.outbox.get(i) for i in ids]
    return [row for row in found if row is not None]


def relay(uow: SqlUnitOfWorkFactory, publisher: EventPublisher) -> RelayOutboxUseCase:
    return RelayOutboxUseCase(uow, SystemClock(), publisher, POLICY)


async def test_a_second_relay_passes_over_rows_the_first_is_publishing(
    uow: SqlUnitOfWorkFactory,
) -> None:
    first_rows = await add_rows(uow, 3)
    slow, quick = Publisher(), Publisher()
    slow.gate = asyncio.Event()
    first = asyncio.create_task(relay(uow, slow)())
    await asyncio.wait_for(slow.entered.wait(), 10)
    later_rows = await add_rows(uow, 2)
    assert await relay(uow, quick)() == 2  # only the rows nobody holds
    slow.gate.set()
    assert await first == 3
    assert len(slow.published) == 3
    assert len(quick.published) == 2
    assert {r.status for r in await rows(uow, first_rows + later_rows)} == {OutboxStatus.PUBLISHED}


async def test_a_relay_that_dies_mid_publish_leaves_its_rows_to_the_next(
    uow: SqlUnitOfWorkFactory,
) -> None:
    ids = await add_rows(uow, 2)
    crashing = Publisher()
    crashing.error = RuntimeError("the relay process dies")
    with pytest.raises(RuntimeError):
        await relay(uow, crashing)()
    again = Publisher()
    published = await relay(uow, again)()
    async with uow() as work:
        held = work.outbox.holds_claims
    if held:  # rolled back with the claim: due at once
        assert published == 2
        assert {r.status for r in await rows(uow, ids)} == {OutboxStatus.PUBLISHED}
    else:  # the lease was committed first: offered again once it runs out
        assert published == 0
        assert {r.status for r in await rows(uow, ids)} == {OutboxStatus.PENDING}


async def test_a_bus_that_is_down_defers_the_rows_without_counting(
    uow: SqlUnitOfWorkFactory,
) -> None:
    ids = await add_rows(uow, 2)
    down = Publisher()
    down.error = EventBusError("the bus is down")
    before = datetime.now(UTC)
    assert await relay(uow, down)() == 0
    for row in await rows(uow, ids):
        assert row.status is OutboxStatus.PENDING
        assert row.retry_count == 0
        assert row.next_retry_at is not None
        assert row.next_retry_at > before
        assert row.last_error == "publish failed: the bus is down"
    assert await relay(uow, Publisher())() == 0  # not due yet


async def test_a_row_without_an_event_is_buried_and_the_others_published(
    uow: SqlUnitOfWorkFactory,
) -> None:
    good = await add_rows(uow, 1)
    bad = await add_rows(uow, 1, payload="not json")
    publisher = Publisher()
    assert await relay(uow, publisher)() == 1
    statuses = {r.id: r.status for r in await rows(uow, good + bad)}
    assert statuses == {good[0]: OutboxStatus.PUBLISHED, bad[0]: OutboxStatus.DEAD}
