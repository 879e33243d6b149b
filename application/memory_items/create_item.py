"""Manual create: insert, audit, commit; index after commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from memvault.application.ports.clock import Clock
from memvault.application.ports.indexer import ItemIndexer, sync_deadline
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import UnitOfWork, UnitOfWorkFactory
from memvault.application.shared.audit import audit_item
from memvault.domain.audit import AuditOperation, Operator
from memvault.domain.errors import DomainError, InvalidValue
from memvault.domain.memory import MemoryItem, Scope
from memvault.domain.metadata import Metadata

MAX_BATCH = 500
DEFAULT_REASON = "用户手动新增记忆"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewItem:
    memory_type: str
    content: str
    title: str | None = None
    conversation_id: str | None = None
    assistant_id: str | None = None
    run_id: str | None = None
    confidence: float | None = None
    importance: float | None = None
    sensitivity_level: int | None = None
    is_explicit: bool | None = None
    ttl_at: datetime | None = None
    occurred_at: datetime | None = None
    metadata: Metadata | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateItems:
    user_id: str
    items: Sequence[NewItem]
    batch: bool = False
    """Errors then name the offending element (``items[3].content``)."""
    operator: Operator | None = None
    """Who is audited as making the change; ``None``: the user themselves."""


class CreateItemsUseCase:
    """Creates one or many items, all-or-nothing, each with its ``create`` audit entry."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        indexer: ItemIndexer,
        *,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._uow = uow
        self._clock = clock
        self._indexer = indexer

    async def __call__(self, command: CreateItems) -> list[MemoryItem]:
        if not 1 <= len(command.items) <= MAX_BATCH:
            raise InvalidValue(f"a batch holds 1 to {MAX_BATCH} items", field="items")
        now = self._clock.now()
        items = [self._checked(command, index, now) for index in range(len(command.items))]
        operator = command.operator or Operator.user(command.user_id)
        until = sync_deadline(self._indexer, len(items), now)
        async with self._uow() as uow:
            for item, new in zip(items, command.items, strict=True):
                await self._store(uow, item, new.reason, now, operator, until)
            await uow.commit()
        await self._indexer.items_changed(items)
        self._metrics.count(Metric.MANAGE_TOTAL, len(items), operation="create", status="ok")
        return items

    def _checked(self, command: CreateItems, index: int, now: datetime) -> MemoryItem:
        try:
            return self._build(command.user_id, command.items[index], now)
        except DomainError as error:
            if command.batch:
                error.field = f"items[{index}].{error.field or 'item'}"
                error.detail = f"items[{index}]: {error.detail}"
            raise

    @staticmethod
    def _build(user_id: str, new: NewItem, now: datetime) -> MemoryItem:
        return MemoryItem.create_manual(
            user_id=user_id,
            memory_type=new.memory_type,
            content=new.content,
            title=new.title,
            scope=Scope(
                conversation_id=new.conversation_id,
                assistant_id=new.assistant_id,
                run_id=new.run_id,
            ),
            confidence=new.confidence,
            importance=new.importance,
            sensitivity_level=new.sensitivity_level,
            is_explicit=new.is_explicit,
            ttl_at=new.ttl_at,
            metadata=new.metadata,
            occurred_at=new.occurred_at,
            now=now,
        )

    @staticmethod
    async def _store(
        uow: UnitOfWork,
        item: MemoryItem,
        reason: str | None,
        now: datetime,
        operator: Operator,
        until: datetime | None,
    ) -> None:
        await uow.items.add(item, sync_until=until)
        await audit_item(
            uow,
            item=item,
            operation=AuditOperation.CREATE,
            operator=operator.type,
            operator_id=operator.id,
            reason=reason,
            default_reason=DEFAULT_REASON,
            before=None,
            after=item.snapshot(),
            now=now,
        )
