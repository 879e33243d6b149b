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

import structlog

from memvault.application.config import OutboxPolicy
from memvault.application.events import PoisonEvent, envelope
from memvault.application.ports.clock import Clock
from memvault.application.ports.event_bus import EventBusError, EventPublisher, OutgoingEvent
from memvault.application.ports.failures import FailureKind, failure_kind
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import UnitOfWorkFactory
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
        """One batch; returns how many rows were published."""
        now = self._clock.now()
        async with self._uow() as uow:
            rows = await uow.outbox.claim_due(
                now=now, limit=self._policy.batch, lease=self._policy.claim_lease
            )
            await uow.commit()
        ready = await self._publishable(rows)
        if not ready:
            return 0
        try:
            await self._publisher.publish([event for _, event in ready])
        except EventBusError as error:
            log.warning("outbox_publish_failed", rows=len(ready), error=str(error))
            await self._retry_later(
                [row for row, _ in ready],
                f"publish failed: {error}",
                counted=failure_kind(error) is FailureKind.PERMANENT,
            )
            self._metrics.count(Metric.OUTBOX_FAILED_TOTAL, len(ready))
            return 0
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.outbox.mark_published(
                [row.id for row, _ in ready if row.id is not None],
                now=now,
                republish_at=now + self._policy.republish_after,
            )
            await uow.commit()
        self._metrics.count(Metric.OUTBOX_PUBLISHED_TOTAL, len(ready))
        return len(ready)

    async def _publishable(
        self, rows: list[OutboxMessage]
    ) -> list[tuple[OutboxMessage, OutgoingEvent]]:
        """Each row with its event; a row whose event cannot be built is buried."""
        ready: list[tuple[OutboxMessage, OutgoingEvent]] = []
        for row in rows:
            try:
                ready.append((row, OutgoingEvent(key=row.message_key, value=envelope(row))))
            except PoisonEvent as error:
                await self._bury(row, str(error))
        return ready

    async def _retry_later(self, rows: list[OutboxMessage], reason: str, *, counted: bool) -> None:
        """A bus that is down is waited for (``defer``, the retry horizon); a publish the
        bus refuses for good is counted toward ``max_retry``."""
        now = self._clock.now()
        async with self._uow() as uow:
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
            await uow.commit()

    async def _bury(self, row: OutboxMessage, reason: str) -> None:
        log.error("outbox_row_dead", outbox_id=row.id, reason=reason)
        async with self._uow() as uow:
            current = await uow.outbox.get(row.id or 0, for_update=True)
            if current is not None and current.status is OutboxStatus.PENDING:
                current.bury(reason, now=self._clock.now())
                await uow.outbox.save(current)
            await uow.commit()
