"""Retention (docs/behaviour.md, "Retention"): delete the rows memvault no longer needs,
idempotency keys, inbox entries, consumed outbox rows, dead events and chat turns, once
they are older than their configured age. Run by the sweeper and by ``memvault purge``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from memvault.application.config import RetentionPolicy
from memvault.application.ports.clock import Clock
from memvault.application.ports.retention import Purgeable, RetentionStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeReport:
    """Rows deleted per kind, or, on a dry run, the rows that would be."""

    dry_run: bool
    rows: dict[Purgeable, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class PurgeUseCase:
    """Deletes every kind's old rows in batches of ``policy.batch`` rows, one short
    transaction each, yielding between batches so that other writers get the lock."""

    def __init__(self, store: RetentionStore, clock: Clock, policy: RetentionPolicy) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy

    async def __call__(self, *, dry_run: bool = False) -> PurgeReport:
        now = self._clock.now()
        rows: dict[Purgeable, int] = {}
        for kind, age in self._policy.ages.items():
            before = now - age
            if dry_run:
                rows[kind] = await self._store.count(kind, before=before)
            else:
                rows[kind] = await self._purge(kind, before)
        report = PurgeReport(dry_run=dry_run, rows=rows)
        if report.total and not dry_run:
            log.info("purged", **{kind.value: count for kind, count in rows.items()})
        return report

    async def _purge(self, kind: Purgeable, before: datetime) -> int:
        deleted = 0
        limit = max(self._policy.batch, 1)
        while True:
            batch = await self._store.purge(kind, before=before, limit=limit)
            deleted += batch
            if batch < limit:
                return deleted
            await asyncio.sleep(0)
