"""Offline dedup cleanup (docs/behaviour.md, "Dedup"): archive active items that repeat another one
of the same user, type and content hash. Dry run by default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from memvault.application.ports.clock import Clock
from memvault.application.ports.indexer import ItemIndexer, sync_deadline
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.application.shared.audit import audit_item
from memvault.domain.audit import AuditOperation, OperatorType
from memvault.domain.memory import MemoryItem

NEWER_WINS_AFTER = timedelta(hours=24)
DEFAULT_REASON = "离线 dedup 治理归档重复记忆"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dedup:
    user_id: str | None = None
    """``None``: every user (operators only)."""
    limit: int | None = None
    dry_run: bool = True
    reason: str | None = None
    operator: OperatorType = OperatorType.SYSTEM
    operator_id: str | None = None


@dataclass(slots=True, kw_only=True)
class DedupReport:
    scanned_group_count: int = 0
    deduped_group_count: int = 0
    kept_count: int = 0
    archived_count: int = 0
    archived_ids: list[int] = field(default_factory=list)
    dry_run: bool = True


def keeper_order(items: Sequence[MemoryItem]) -> list[MemoryItem]:
    """The first is kept: a copy more than 24 h newer wins;
    otherwise higher confidence, then importance, then newer, then higher id."""

    def moment(item: MemoryItem) -> datetime:
        stamp = item.updated_at or item.created_at
        if stamp is None:
            raise ValueError("stored items have timestamps")
        return stamp

    newest = max(moment(item) for item in items)
    recent = [i for i in items if newest - moment(i) <= NEWER_WINS_AFTER]
    older = [i for i in items if newest - moment(i) > NEWER_WINS_AFTER]

    def rank(item: MemoryItem) -> tuple[float, float, datetime, int]:
        return (item.confidence, item.importance, moment(item), item.id or 0)

    return sorted(recent, key=rank, reverse=True) + sorted(older, key=moment, reverse=True)


class DedupUseCase:
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

    async def __call__(self, command: Dedup) -> DedupReport:
        report = DedupReport(dry_run=command.dry_run)
        async with self._uow() as uow:
            rows = await uow.items.duplicated(user_id=command.user_id, limit=command.limit)
        groups = [
            list(group)
            for _, group in groupby(rows, key=lambda i: (i.user_id, i.memory_type, i.content_hash))
        ]
        report.scanned_group_count = len(groups)
        for group in (g for g in groups if len(g) > 1):
            extra = keeper_order(group)[1:]
            report.deduped_group_count += 1
            report.kept_count += 1
            archived = extra if command.dry_run else await self._archive(extra, command)
            report.archived_count += len(archived)
            report.archived_ids += [i.id for i in archived if i.id is not None]
        self._metrics.count(Metric.CLEANUP_RUN_TOTAL, operation="dedup", status="ok")
        self._metrics.count(
            Metric.CLEANUP_ARCHIVED_TOTAL,
            report.archived_count,
            dry_run=str(command.dry_run).lower(),
        )
        return report

    async def _archive(self, items: list[MemoryItem], command: Dedup) -> list[MemoryItem]:
        now = self._clock.now()
        archived: list[MemoryItem] = []
        until = sync_deadline(self._indexer, len(items), now)  # at most that many archived
        async with self._uow() as uow:
            for stale in items:
                item = await uow.items.get(stale.user_id, stale.id or 0, for_update=True)
                if item is None:
                    continue
                before = item.snapshot()
                if not item.archive(now=now):
                    continue
                await uow.items.update(item, sync_until=until)
                await audit_item(
                    uow,
                    item=item,
                    operation=AuditOperation.ARCHIVE,
                    operator=command.operator,
                    operator_id=command.operator_id,
                    reason=command.reason,
                    default_reason=DEFAULT_REASON,
                    before=before,
                    after=item.snapshot(),
                    now=now,
                )
                archived.append(item)
            await uow.commit()
        await self._indexer.items_changed(archived)
        return archived
