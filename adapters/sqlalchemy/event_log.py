from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from memvault.adapters.sqlalchemy.tables import memory_consumed_events as inbox
from memvault.adapters.sqlalchemy.tables import memory_dead_events as dead
from memvault.adapters.sqlalchemy.upsert import insert_unless_exists
from memvault.application.ports.repositories import DeadEvent, EventLogRepository
from memvault.domain.text import truncate_utf8

MAX_REASON_BYTES = 2000


class SqlEventLogRepository(EventLogRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record_consumed(self, event_id: str, event_type: str, *, now: datetime) -> bool:
        return await insert_unless_exists(
            self._conn, inbox, {"event_id": event_id, "event_type": event_type, "consumed_at": now}
        )

    async def add_dead(self, event: DeadEvent) -> None:
        await self._conn.execute(
            insert(dead).values(
                topic=event.topic[:128],
                event_id=(event.event_id or None) and event.event_id[:128],
                event_type=(event.event_type or None) and event.event_type[:64],
                raw_payload=event.raw_payload,
                reason=truncate_utf8(event.reason, MAX_REASON_BYTES),
                created_at=event.created_at,
            )
        )

    async def list_dead(self, *, limit: int, before_id: int | None = None) -> list[DeadEvent]:
        stmt = select(dead).order_by(dead.c.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(dead.c.id < before_id)
        return [
            DeadEvent(
                id=m["id"],
                topic=m["topic"],
                event_id=m["event_id"],
                event_type=m["event_type"],
                raw_payload=m["raw_payload"],
                reason=m["reason"],
                created_at=m["created_at"],
            )
            for m in (row._mapping for row in await self._conn.execute(stmt))
        ]
