"""Outbox rows in SQL. Relays claim rows with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL,
MySQL/MariaDB); SQLite's single writer (``BEGIN IMMEDIATE``) serialises the same claim.
On PostgreSQL a new row also sends ``NOTIFY`` (``outbox_notify``), delivered at commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from memvault.adapters.sqlalchemy.outbox_notify import NOTIFY_OUTBOX
from memvault.adapters.sqlalchemy.tables import memory_outbox_messages as t
from memvault.application.ports.repositories import OutboxRepository
from memvault.domain.outbox import OutboxMessage, OutboxStatus

UNCONSUMED = [OutboxStatus.PENDING.value, OutboxStatus.PUBLISHED.value]
"""Rows the relay may (re)publish once their ``next_retry_at`` is due."""


def to_row(message: OutboxMessage) -> dict[str, Any]:
    return {
        "biz_type": message.event_type,
        "service_name": message.service_name,
        "topic": message.topic,
        "message_key": message.message_key,
        "payload": message.payload,
        "user_id": message.user_id,
        "status": message.status.value,
        "retry_count": message.retry_count,
        "max_retry": message.max_retry,
        "next_retry_at": message.next_retry_at,
        "last_error": message.last_error,
        "published_at": message.published_at,
        "consumed_at": message.consumed_at,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
    }


def from_row(row: Row[Any]) -> OutboxMessage:
    m = row._mapping
    return OutboxMessage(
        id=m["id"],
        event_type=m["biz_type"],
        service_name=m["service_name"],
        topic=m["topic"],
        message_key=m["message_key"],
        payload=m["payload"],
        user_id=m["user_id"],
        status=OutboxStatus(m["status"]),
        retry_count=m["retry_count"],
        max_retry=m["max_retry"],
        next_retry_at=m["next_retry_at"],
        last_error=m["last_error"],
        published_at=m["published_at"],
        consumed_at=m["consumed_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class SqlOutboxRepository(OutboxRepository):
    skip_locked = True
    """Claims pass over rows another relay holds (``bench.throughput`` measures the
    plain ``FOR UPDATE`` baseline by turning it off)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, message: OutboxMessage) -> OutboxMessage:
        result = await self._conn.execute(insert(t).values(**to_row(message)))
        message.id = int(result.inserted_primary_key[0])  # type: ignore[index]
        if self._conn.dialect.name == "postgresql":
            # Delivered to listening relays when this transaction commits, not before.
            await self._conn.execute(NOTIFY_OUTBOX)
        return message

    @property
    def holds_claims(self) -> bool:
        return self._conn.dialect.name != "sqlite"

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta | None
    ) -> list[OutboxMessage]:
        if lease is None and not self.holds_claims:
            raise ValueError("SQLite holds no row locks: a claim there needs a lease")
        stmt = (
            select(t)
            .where(t.c.status.in_(UNCONSUMED), t.c.next_retry_at <= now)
            .order_by(t.c.next_retry_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=self.skip_locked)
        )
        rows = [from_row(row) for row in await self._conn.execute(stmt)]
        if rows and lease is not None:
            await self._conn.execute(
                update(t)
                .where(t.c.id.in_([r.id for r in rows]))
                .values(next_retry_at=now + lease, updated_at=now)
            )
        return rows

    async def get(self, outbox_id: int, *, for_update: bool = False) -> OutboxMessage | None:
        stmt = select(t).where(t.c.id == outbox_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else from_row(row)

    async def save(self, message: OutboxMessage) -> None:
        await self._conn.execute(update(t).where(t.c.id == message.id).values(**to_row(message)))

    async def mark_published(
        self, ids: Sequence[int], *, now: datetime, republish_at: datetime
    ) -> None:
        if not ids:
            return
        await self._conn.execute(
            update(t)
            .where(t.c.id.in_(list(ids)), t.c.status.in_(UNCONSUMED))
            .values(
                status=OutboxStatus.PUBLISHED.value,
                published_at=now,
                next_retry_at=republish_at,
                last_error=None,
                updated_at=now,
            )
        )

    async def mark_consumed(self, outbox_id: int, *, now: datetime) -> None:
        await self._conn.execute(
            update(t)
            .where(t.c.id == outbox_id, t.c.status != OutboxStatus.DEAD.value)
            .values(
                status=OutboxStatus.CONSUMED.value,
                consumed_at=now,
                next_retry_at=None,
                last_error=None,
                updated_at=now,
            )
        )

    async def list(
        self,
        *,
        status: OutboxStatus | None,
        limit: int,
        before_id: int | None = None,
        user_id: str | None = None,
        updated_since: datetime | None = None,
    ) -> list[OutboxMessage]:
        stmt = select(t).order_by(t.c.id.desc()).limit(limit)
        if user_id is not None:
            stmt = stmt.where(t.c.user_id == user_id)
        if updated_since is not None:
            stmt = stmt.where(t.c.updated_at >= updated_since)
        if status is not None:
            stmt = stmt.where(t.c.status == status.value)
        if before_id is not None:
            stmt = stmt.where(t.c.id < before_id)
        return [from_row(row) for row in await self._conn.execute(stmt)]
