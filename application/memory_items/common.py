"""Pieces every item use case shares: loading a user's item and auditing a change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from application.ports.repositories import UnitOfWork
from domain.audit import AuditEntry, AuditOperation, AuditTarget, OperatorType
from domain.errors import MemoryItemNotFound
from domain.memory import MemoryItem


async def load_item(uow: UnitOfWork, user_id: str, item_id: int) -> MemoryItem:
    """The user's item, locked for update. Another user's id is simply not found."""
    item = await uow.items.get(user_id, item_id, for_update=True)
    if item is None:
        raise MemoryItemNotFound(f"memory item {item_id} not found")
    return item


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
