"""Audit entries of memory items, written in the change's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from memvault.application.ports.repositories import UnitOfWork
from memvault.domain.audit import AuditEntry, AuditOperation, AuditTarget, OperatorType
from memvault.domain.memory import MemoryItem


async def audit_item(
    uow: UnitOfWork,
    *,
    item: MemoryItem,
    operation: AuditOperation,
    operator: OperatorType,
    reason: str | None,
    default_reason: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
    operator_id: str | None = None,
) -> None:
    if item.id is None:
        raise ValueError("only a stored item can be audited")
    await uow.audit.add(
        AuditEntry.record(
            target_type=AuditTarget.MEMORY_ITEM,
            target_id=item.id,
            user_id=item.user_id,
            operation=operation,
            operator_type=operator,
            operator_id=operator_id,
            reason=reason,
            default_reason=default_reason,
            before=before,
            after=after,
            now=now,
        )
    )
