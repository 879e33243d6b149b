"""Patch, delete and restore (reference §7.4, §7.5): lock, change, audit, commit, index."""

from __future__ import annotations

from dataclasses import dataclass

from application.memory_items.common import audit_item, load_item
from application.ports.clock import Clock
from application.ports.indexer import ItemIndexer
from application.ports.metrics import Metric, Metrics
from application.ports.repositories import UnitOfWorkFactory
from domain.audit import AuditOperation, OperatorType
from domain.memory import ItemChanges, MemoryItem


@dataclass(frozen=True, slots=True, kw_only=True)
class PatchItem:
    user_id: str
    item_id: int
    changes: ItemChanges
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetItemStatus:
    user_id: str
    item_id: int
    reason: str | None = None


class _ItemChange:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        indexer: ItemIndexer,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._indexer = indexer
        self._metrics = metrics

    async def _changed(self, item: MemoryItem, operation: str) -> MemoryItem:
        """After commit: re-index the item and count the operation."""
        await self._indexer.items_changed([item])
        if self._metrics is not None:
            self._metrics.count(Metric.MANAGE_TOTAL, operation=operation, status="ok")
        return item


class PatchItemUseCase(_ItemChange):
    """Edits a user's item. A deleted item is a conflict (restore it first)."""

    async def __call__(self, command: PatchItem) -> MemoryItem:
        now = self._clock.now()
        async with self._uow() as uow:
            item = await load_item(uow, command.user_id, command.item_id)
            before = item.snapshot()
            item.edit(command.changes, now=now)
            await uow.items.update(item)
            await audit_item(
                uow,
                item=item,
                operation=AuditOperation.UPDATE,
                operator=OperatorType.USER,
                operator_id=command.user_id,
                reason=command.reason,
                default_reason="用户手动修改记忆",
                before=before,
                after=item.snapshot(),
                now=now,
            )
            await uow.commit()
        return await self._changed(item, "update")


class DeleteItemUseCase(_ItemChange):
    """Soft delete; deleting a deleted item changes nothing and writes no audit."""

    async def __call__(self, command: SetItemStatus) -> MemoryItem:
        now = self._clock.now()
        async with self._uow() as uow:
            item = await load_item(uow, command.user_id, command.item_id)
            before = item.snapshot()
            if not item.delete(now=now):
                return item
            await uow.items.update(item)
            await audit_item(
                uow,
                item=item,
                operation=AuditOperation.DELETE,
                operator=OperatorType.USER,
                operator_id=command.user_id,
                reason=command.reason,
                default_reason="用户删除记忆",
                before=before,
                after=item.snapshot(),
                now=now,
            )
            await uow.commit()
        return await self._changed(item, "delete")


class RestoreItemUseCase(_ItemChange):
    """Back to active; restoring an active item changes nothing but re-indexes it."""

    async def __call__(self, command: SetItemStatus) -> MemoryItem:
        now = self._clock.now()
        async with self._uow() as uow:
            item = await load_item(uow, command.user_id, command.item_id)
            before = item.snapshot()
            if item.restore(now=now):
                await uow.items.update(item)
                await audit_item(
                    uow,
                    item=item,
                    operation=AuditOperation.RESTORE,
                    operator=OperatorType.USER,
                    operator_id=command.user_id,
                    reason=command.reason,
                    default_reason="用户恢复记忆",
                    before=before,
                    after=item.snapshot(),
                    now=now,
                )
                await uow.commit()
        return await self._changed(item, "restore")
