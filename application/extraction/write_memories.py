"""Decide and apply, per fact, inside the job's transaction (reference §6.6, product §5).

Each fact runs in its own SAVEPOINT so one bad fact never spoils the others. The job's
success is the last statement of the same transaction, compare-and-set on the lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import structlog

from application.memory_items.common import audit_item
from application.ports.repositories import UnitOfWork
from domain.audit import AuditOperation, OperatorType
from domain.facts import Fact
from domain.jobs import ExtractPayload
from domain.memory import MemoryItem, MemoryStatus, Scope

log = structlog.get_logger(__name__)


class Action(StrEnum):
    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NONE = "NONE"


@dataclass(slots=True, kw_only=True)
class WriteResult:
    """What the transaction changed: items to re-index after commit."""

    changed: list[MemoryItem] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    @property
    def memory_ids(self) -> tuple[int, ...]:
        return tuple(i.id for i in self.changed if i.id is not None)


def new_item(
    fact: Fact, payload: ExtractPayload, *, source_event_id: str | None, now: datetime
) -> MemoryItem:
    """The row for an extracted fact (reference §6.2 step 8)."""
    return MemoryItem(
        user_id=payload.user_id,
        scope=Scope(
            conversation_id=payload.conversation_id or None,
            assistant_id=payload.assistant_id,
            run_id=payload.run_id,
        ),
        memory_type=fact.memory_type,
        title=fact.title,
        content=fact.content,
        confidence=fact.confidence,
        importance=fact.importance,
        sensitivity_level=fact.sensitivity_level,
        source_message_id=payload.source_message_id,
        source_event_id=source_event_id,
        is_explicit=fact.is_explicit,
        status=MemoryStatus.ACTIVE,
        ttl_at=fact.ttl_from(payload.occurred_at),
        created_at=now,
        updated_at=now,
    )


class MemoryWriter:
    """Applies facts: an exact duplicate (same user, type and content hash) is NONE;
    anything else is ADDed with its ``create`` audit entry."""

    async def write(
        self,
        uow: UnitOfWork,
        facts: Sequence[Fact],
        payload: ExtractPayload,
        *,
        source_event_id: str | None,
        now: datetime,
    ) -> WriteResult:
        result = WriteResult()
        for fact in facts:
            try:
                async with uow.savepoint():
                    action = await self._apply(uow, fact, payload, source_event_id, now, result)
            except Exception as error:  # one fact's failure never spoils the others
                log.warning("fact_skipped", fact_type=fact.memory_type, error=str(error))
                continue
            result.actions.append(action)
        return result

    async def _apply(
        self,
        uow: UnitOfWork,
        fact: Fact,
        payload: ExtractPayload,
        source_event_id: str | None,
        now: datetime,
        result: WriteResult,
    ) -> Action:
        if await uow.items.find_by_hash(payload.user_id, fact.memory_type, fact.content_hash):
            return Action.NONE
        item = new_item(fact, payload, source_event_id=source_event_id, now=now)
        await uow.items.add(item)
        await audit_item(
            uow,
            item=item,
            operation=AuditOperation.CREATE,
            operator=OperatorType.SYSTEM,
            reason=None,
            default_reason="决策层新增: 无相关旧记忆，直接新增",
            before=None,
            after=item.snapshot(),
            now=now,
        )
        result.changed.append(item)
        return Action.ADD
