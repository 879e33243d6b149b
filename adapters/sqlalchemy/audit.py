"""Audit entries in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from memvault.adapters.sqlalchemy.json import dumps, loads
from memvault.adapters.sqlalchemy.tables import memory_audit_logs as t
from memvault.application.ports.repositories import AuditRepository
from memvault.domain.audit import AuditEntry, AuditOperation, AuditTarget, OperatorType


def from_row(row: Row[Any]) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        id=m["id"],
        target_type=AuditTarget(m["target_type"]),
        target_id=m["target_id"],
        user_id=m["user_id"],
        operation=AuditOperation(m["operation"]),
        operator_type=OperatorType(m["operator_type"]),
        operator_id=m["operator_id"],
        reason=m["reason"],
        before=loads(m["before_json"]),
        after=loads(m["after_json"]),
        created_at=m["created_at"],
    )


class SqlAuditRepository(AuditRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, entry: AuditEntry) -> None:
        await self._conn.execute(
            insert(t).values(
                target_type=entry.target_type.value,
                target_id=entry.target_id,
                user_id=entry.user_id,
                operation=entry.operation.value,
                operator_type=entry.operator_type.value,
                operator_id=entry.operator_id,
                reason=entry.reason,
                before_json=dumps(entry.before),
                after_json=dumps(entry.after),
                created_at=entry.created_at,
            )
        )

    async def history(
        self, user_id: str, target_type: AuditTarget, target_id: str
    ) -> list[AuditEntry]:
        stmt = (
            select(t)
            .where(
                t.c.user_id == user_id,
                t.c.target_type == target_type.value,
                t.c.target_id == target_id,
            )
            .order_by(t.c.id)
        )
        return [from_row(row) for row in await self._conn.execute(stmt)]
