"""The retention store and the purge on SQLite, PostgreSQL and MariaDB.

The purge deletes old rows of every user, so this module works on private databases
(one per dialect, made for it), never on the session's shared ones.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.retention import SqlRetentionStore
from memvault.adapters.sqlalchemy.tables import (
    chat_messages,
    idempotency_keys,
    memory_consumed_events,
    memory_dead_events,
    memory_jobs,
    memory_outbox_messages,
)
from memvault.application.config import RetentionPolicy
from memvault.application.maintenance.purge import PurgeUseCase
from memvault.application.ports.retention import Purgeable
from tests.databases import private_database_per_dialect
from tests.fake_unit_of_work import FixedClock

NOW = datetime.now(UTC).replace(microsecond=0)
AGE = timedelta(days=2)
OLD = NOW - AGE - timedelta(hours=1)
YOUNG = NOW - AGE + timedelta(hours=1)
POLICY = RetentionPolicy(ages=dict.fromkeys(Purgeable, AGE), batch=2)


private_url = private_database_per_dialect("retention")


@pytest.fixture
async def db(private_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(private_url, pool_size=2)
    yield engine
    await engine.dispose()


def purge(db: AsyncEngine) -> PurgeUseCase:
    return PurgeUseCase(SqlRetentionStore(db), FixedClock(NOW), POLICY)


@dataclass
class Seed:
    """Rows of one test, written straight into the tables (ids unique to the test)."""

    db: AsyncEngine
    user: str

    async def add(self, table: Table, **values: Any) -> Any:
        async with self.db.begin() as conn:
            result = await conn.execute(insert(table).values(**values))
        return result.inserted_primary_key[0] if result.inserted_primary_key else None

    async def count(self, table: Table, *conditions: Any) -> int:
        async with self.db.connect() as conn:
            return int(
                await conn.scalar(select(func.count()).select_from(table).where(*conditions)) or 0
            )

    async def idempotency_key(
        self, key: str, *, status: str, created: datetime, expires: datetime
    ) -> None:
        await self.add(
            idempotency_keys,
            user_id=self.user,
            idem_key=key,
            request_hash="h" * 64,
            status=status,
            created_at=created,
            expires_at=expires,
        )

    async def outbox_row(self, conversation: str, *, status: str, changed: datetime) -> int:
        return int(
            await self.add(
                memory_outbox_messages,
                biz_type="memory.extract.requested",
                topic="t",
                message_key=conversation,
                payload="{}",
                user_id=self.user,
                status=status,
                created_at=changed,
                updated_at=changed,
            )
        )

    async def turn(
        self, message: str, *, conversation: str = "c", role: str = "user", stored: datetime = OLD
    ) -> None:
        await self.add(
            chat_messages,
            user_id=self.user,
            conversation_id=conversation,
            message_id=message,
            role=role,
            content="I love tea",
            occurred_at=stored,
            created_at=stored,
        )

    async def job(
        self, message: str, *, status: str, changed: datetime, conversation: str = "c"
    ) -> None:
        await self.add(
            memory_jobs,
            user_id=self.user,
            conversation_id=conversation,
            source_message_id=message,
            job_type="extract",
            idempotency_key=f"k-{uuid.uuid4().hex}",
            payload_json="{}",
            status=status,
            created_at=OLD,
            updated_at=changed,
        )

    async def turns_left(self) -> set[str]:
        async with self.db.connect() as conn:
            rows = await conn.execute(
                select(chat_messages.c.message_id).where(chat_messages.c.user_id == self.user)
            )
        return {row[0] for row in rows}


@pytest.fixture
def seed(db: AsyncEngine) -> Seed:
    return Seed(db, f"user-{uuid.uuid4().hex[:12]}")


async def test_expired_idempotency_keys_go_and_a_live_lease_stays(seed: Seed) -> None:
    await seed.idempotency_key("gone", status="done", created=OLD, expires=OLD)
    await seed.idempotency_key("recent", status="done", created=OLD, expires=YOUNG)
    await seed.idempotency_key(
        "live", status="in_progress", created=OLD, expires=NOW + timedelta(minutes=1)
    )

    await purge(seed.db)()

    async with seed.db.connect() as conn:
        rows = await conn.execute(
            select(idempotency_keys.c.idem_key).where(idempotency_keys.c.user_id == seed.user)
        )
        assert {row[0] for row in rows} == {"recent", "live"}


async def test_old_inbox_entries_and_dead_events_go_and_young_ones_stay(seed: Seed) -> None:
    old_id, young_id = f"old-{uuid.uuid4().hex}", f"young-{uuid.uuid4().hex}"
    await seed.add(memory_consumed_events, event_id=old_id, event_type="x", consumed_at=OLD)
    await seed.add(memory_consumed_events, event_id=young_id, event_type="x", consumed_at=YOUNG)
    topic = f"topic-{uuid.uuid4().hex}"
    for created in (OLD, OLD, OLD, YOUNG):
        await seed.add(
            memory_dead_events, topic=topic, raw_payload="x", reason="r", created_at=created
        )

    await purge(seed.db)()

    inbox = memory_consumed_events.c
    assert await seed.count(memory_consumed_events, inbox.event_id.in_([old_id, young_id])) == 1
    assert await seed.count(memory_consumed_events, inbox.event_id == young_id) == 1
    assert await seed.count(memory_dead_events, memory_dead_events.c.topic == topic) == 1


async def test_only_consumed_outbox_rows_are_purged(seed: Seed) -> None:
    consumed_old = await seed.outbox_row("c", status="consumed", changed=OLD)
    kept = [
        await seed.outbox_row("c", status="consumed", changed=YOUNG),
        await seed.outbox_row("c", status="published", changed=OLD),
        await seed.outbox_row("c", status="pending", changed=OLD),
        await seed.outbox_row("c", status="dead", changed=OLD),
    ]

    await purge(seed.db)()

    outbox = memory_outbox_messages.c
    assert await seed.count(memory_outbox_messages, outbox.id == consumed_old) == 0
    assert await seed.count(memory_outbox_messages, outbox.id.in_(kept)) == len(kept)


async def test_chat_turns_go_once_their_job_ended_long_enough_ago(seed: Seed) -> None:
    for message, status, changed in [
        ("ended-long-ago", "success", OLD),
        ("dead-long-ago", "dead", OLD),
        ("ended-recently", "success", YOUNG),
        ("pending", "pending", OLD),
        ("processing", "processing", OLD),
        ("failed", "failed", OLD),
    ]:
        await seed.turn(message)
        await seed.job(message, status=status, changed=changed)
    await seed.turn("assistant-answer", role="assistant")
    await seed.turn("stored-recently", stored=YOUNG)

    await purge(seed.db)()

    assert await seed.turns_left() == {
        "ended-recently",
        "pending",
        "processing",
        "failed",
        "stored-recently",
    }


async def test_a_chat_turn_whose_event_is_still_on_its_way_stays(seed: Seed) -> None:
    await seed.turn("waiting", conversation="busy")
    await seed.outbox_row("busy", status="published", changed=OLD)
    await seed.turn("done", conversation="quiet")
    await seed.outbox_row("quiet", status="consumed", changed=YOUNG)

    await purge(seed.db)()

    assert await seed.turns_left() == {"waiting"}


async def test_a_dry_run_counts_what_a_purge_then_deletes(seed: Seed) -> None:
    for created in (OLD, OLD, OLD, OLD, OLD):
        await seed.add(
            memory_dead_events, topic="t", raw_payload="x", reason="r", created_at=created
        )
    await seed.turn("old-answer", role="assistant")

    counted = await purge(seed.db)(dry_run=True)
    assert await seed.turns_left() == {"old-answer"}, "a dry run deletes nothing"
    deleted = await purge(seed.db)()

    assert counted.dry_run
    assert not deleted.dry_run
    assert counted.rows == deleted.rows
    assert deleted.rows[Purgeable.DEAD_EVENTS] >= 5
    assert deleted.rows[Purgeable.CHAT_MESSAGES] >= 1
    assert (await purge(seed.db)(dry_run=True)).total == 0


async def test_each_delete_takes_at_most_one_batch(seed: Seed) -> None:
    topic = f"topic-{uuid.uuid4().hex}"
    for _ in range(5):
        await seed.add(memory_dead_events, topic=topic, raw_payload="x", reason="r", created_at=OLD)
    store = SqlRetentionStore(seed.db)
    batches = []
    while batch := await store.purge(Purgeable.DEAD_EVENTS, before=NOW - AGE, limit=2):
        batches.append(batch)

    assert len(batches) >= 3
    assert all(batch <= 2 for batch in batches)
    assert await seed.count(memory_dead_events, memory_dead_events.c.topic == topic) == 0
