from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from memvault.adapters.sqlalchemy.tables import agent_state_snapshots as t
from memvault.adapters.sqlalchemy.upsert import upsert
from memvault.application.ports.repositories import SnapshotRepository
from memvault.domain.conversation import AgentSnapshot


class SqlSnapshotRepository(SnapshotRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def upsert(self, snapshot: AgentSnapshot) -> None:
        values = {
            "user_id": snapshot.user_id,
            "conversation_id": snapshot.conversation_id,
            "phase": snapshot.phase,
            "snapshot_json": snapshot.snapshot_json,
            "created_at": snapshot.created_at or snapshot.updated_at,
            "updated_at": snapshot.updated_at,
        }
        await self._conn.execute(
            upsert(
                self._conn.dialect.name,
                t,
                values,
                keys=["user_id", "conversation_id"],
                update=["phase", "snapshot_json", "updated_at"],
            )
        )

    async def get(self, user_id: str, conversation_id: str) -> AgentSnapshot | None:
        row = (
            await self._conn.execute(
                select(t).where(t.c.user_id == user_id, t.c.conversation_id == conversation_id)
            )
        ).first()
        if row is None:
            return None
        m = row._mapping
        return AgentSnapshot(
            user_id=m["user_id"],
            conversation_id=m["conversation_id"],
            phase=m["phase"],
            snapshot_json=m["snapshot_json"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )
