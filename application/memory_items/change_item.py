"""Patch, delete and restore (docs/behaviour.md, "Memory items"): lock, change, audit,
commit, index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from memvault.application.memory_items.common import load_item
from memvault.application.ports.clock import Clock
from memvault.application.ports.indexer import ItemIndexer, sync_deadline
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.application.shared.audit import audit_item
from memvault.domain.audit import AuditOperation, Operator
from memvault.domain.memory import ItemChanges, MemoryItem


@dataclass(frozen=True, slots=True, kw_only=True)
class PatchItem:
    user_id: str
    item_id: int
    changes: ItemChanges
    reason: str | None = None
    operator: Operator | None = None
    """Who is audited as making the change; ``None``: the user themselves."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetItemStatus:
    user_id: str
    item_id: int
    reason: str | None = None
    operator: Operator | None = None
    """Who is audited as making the change; ``None``: the user themselves."""


class _ItemChange:
    """Lock the user's item, change it, audit the change, commit, then re-index it.

    Subclasses say how the item changes (``_mutate`` returns whether it did), which
    operation and default reason the audit entry gets, and whether an unchanged item
    is still re-indexed.
    """

    operation: ClassVar[AuditOperation]
    default_reason: ClassVar[str]
    reindex_unchanged: ClassVar[bool] = False

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        indexer: ItemIndexer,
        *,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._indexer = indexer
        self._metrics = metrics

    async def _change(
        self,
        user_id: str,
        item_id: int,
        reason: str | None,
        mutate: Callable[[MemoryItem, datetime], bool],
        operator: Operator | None,
    ) -> MemoryItem:
        now = self._clock.now()
        operator = operator or Operator.user(user_id)
        async with self._uow() as uow:
            item = await load_item(uow, user_id, item_id)
            before = item.snapshot()
            changed = mutate(item, now)
            if changed:
                await uow.items.update(item, sync_until=sync_deadline(self._indexer, 1, now))
                await audit_item(
                    uow,
                    item=item,
                    operation=self.operation,
                    operator=operator.type,
                    operator_id=operator.id,
                    reason=reason,
                    default_reason=self.default_reason,
                    before=before,
                    after=item.snapshot(),
                    now=now,
                )
                await uow.commit()
        if changed or self.reindex_unchanged:
            await self._indexer.items_changed([item])
        if changed:
            self._metrics.count(Metric.MANAGE_TOTAL, operation=self.operation.value, status="ok")
        return item


class PatchItemUseCase(_ItemChange):
    """Edits a user's item. A deleted item is a conflict (restore it first)."""

    operation = AuditOperation.UPDATE
    default_reason = "用户手动修改记忆"

    async def __call__(self, command: PatchItem) -> MemoryItem:
        def edit(item: MemoryItem, now: datetime) -> bool:
            item.edit(command.changes, now=now)
            return True

        return await self._change(
            command.user_id, command.item_id, command.reason, edit, command.operator
        )


class DeleteItemUseCase(_ItemChange):
    """Soft delete; deleting a deleted item changes nothing and writes no audit."""

    operation = AuditOperation.DELETE
    default_reason = "用户删除记忆"

    async def __call__(self, command: SetItemStatus) -> MemoryItem:
        return await self._change(
            command.user_id,
            command.item_id,
            command.reason,
            lambda item, now: item.delete(now=now),
            command.operator,
        )


class RestoreItemUseCase(_ItemChange):
    """Back to active; restoring an active item changes nothing but re-indexes it."""

    operation = AuditOperation.RESTORE
    default_reason = "用户恢复记忆"
    reindex_unchanged = True

    async def __call__(self, command: SetItemStatus) -> MemoryItem:
        return await self._change(
            command.user_id,
            command.item_id,
            command.reason,
            lambda item, now: item.restore(now=now),
            command.operator,
        )
