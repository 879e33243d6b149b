"""The outbox relay (docs/behaviour.md, "Ingestion and the outbox"): claim due rows,
publish, mark published.

A failed publish (the bus is down) sends the rows back to ``pending`` after a capped,
jittered wait, for the retry horizon, never counted; one the bus refuses for good
(a ``PermanentFailure``) backs off n² and is ``dead`` after ``max_retry``.
A published row that no consumer has marked consumed after ``republish_after`` is
published again (its event may have died with an in-process bus).
A row is published at least once; the consumer's inbox makes a second delivery harmless.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import structlog

from memvault.application.config import OutboxPolicy
from memvault.application.events import PoisonEvent, envelope
from memvault.application.ports.clock import Clock
from memvault.application.ports.event_bus import EventBusError, EventPublisher, OutgoingEvent
from memvault.application.ports.failures import FailureKind, failure_kind
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import UnitOfWork, UnitOfWorkFactory
from memvault.domain.outbox import OutboxMessage, OutboxStatus

log = structlog.get_logger(__name__)


class RelayOutboxUseCase:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        publisher: EventPublisher,
        policy: OutboxPolicy,
        *,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._publisher = publisher
        self._policy = policy
        self._metrics = metrics

    async def __call__(self) -> int:
        """One batch; returns how many rows were published.

        Where the database holds claims by row lock (``holds_claims``: PostgreSQL,
        MariaDB) the claim, the publish and the marks are one transaction, so each row
        is written once; a relay that dies mid-publish rolls back and leaves its rows due
        at once. On SQLite the claim commits a lease first and the marks are a second
        transaction, so that the bus is never called with the database's write lock held.
        """
        now = self._clock.now()
        async with self._uow() as uow:
            if uow.outbox.holds_claims:
                rows = await uow.outbox.claim_due(now=now, limit=self._policy.batch, lease=None)
                published = await self._relay(rows, held=uow)
                await uow.commit()
                return self._counted(published)
            rows = await uow.outbox.claim_due(
                now=now, limit=self._policy.batch, lease=self._policy.claim_lease
            )
            await uow.commit()
        return self._counted(await self._relay(rows, held=None))

    async def _relay(self, rows: list[OutboxMessage], *, held: UnitOfWork | None) -> int:
        """Publish ``rows`` and record the outcome, in ``held`` (the claim's transaction)
        or, without one, in a transaction of its own."""
        ready: list[tuple[OutboxMessage, OutgoingEvent]] = []
        poisoned: list[tuple[OutboxMessage, str]] = []
        for row in rows:
            try:
                ready.append((row, OutgoingEvent(key=row.message_key, value=envelope(row))))
            except PoisonEvent as error:
                poisoned.append((row, str(error)))
        if poisoned:
            await self._within(held, lambda uow: self._bury(uow, poisoned))
        if not ready:
            return 0
        try:
            await self._publisher.publish([event for _, event in ready])
        except EventBusError as error:
            log.warning("outbox_publish_failed", rows=len(ready), error=str(error))
            counted = failure_kind(error) is FailureKind.PERMANENT
            failed = [row for row, _ in ready]
            reason = f"publish failed: {error}"
            await self._within(held, lambda uow: self._retry_later(uow, failed, reason, counted))
            self._metrics.count(Metric.OUTBOX_FAILED_TOTAL, len(ready))
            return 0
        now = self._clock.now()
        ids = [row.id for row, _ in ready if row.id is not None]
        republish_at = now + self._policy.republish_after
        await self._within(
            held, lambda uow: uow.outbox.mark_published(ids, now=now, republish_at=republish_at)
        )
        return len(ready)

    def _counted(self, published: int) -> int:
        if published:
            self._metrics.count(Metric.OUTBOX_PUBLISHED_TOTAL, published)
        return published

    async def _within(
        self, held: UnitOfWork | None, work: Callable[[UnitOfWork], Awaitable[None]]
    ) -> None:
        if held is not None:
            await work(held)
            return
        async with self._uow() as uow:
            await work(uow)
            await uow.commit()

    async def _retry_later(
        self, uow: UnitOfWork, rows: list[OutboxMessage], reason: str, counted: bool
    ) -> None:
        """A bus that is down is waited for (``defer``, the retry horizon); a publish the
        bus refuses for good is counted toward ``max_retry``."""
        now = self._clock.now()
        for row in rows:
            current = await uow.outbox.get(row.id or 0, for_update=True)
            if current is None:
                continue
            if counted:
                current.fail(reason, now=now, backoff=self._policy.backoff)
            else:
                jitter = random.random()
                current.defer(reason, now=now, backoff=self._policy.transient, jitter=jitter)
            await uow.outbox.save(current)

    async def _bury(self, uow: UnitOfWork, rows: list[tuple[OutboxMessage, str]]) -> None:
        for row, reason in rows:
            log.error("outbox_row_dead", outbox_id=row.id, reason=reason)
            current = await uow.outbox.get(row.id or 0, for_update=True)
            if current is not None and current.status is OutboxStatus.PENDING:
                current.bury(reason, now=self._clock.now())
                await uow.outbox.save(current)
