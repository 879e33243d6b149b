"""The event consumer (docs/behaviour.md, "The consumer"; docs/adr/0002).

For each event from the bus, in one transaction: record its id in the inbox (a second
delivery creates nothing), create the job (idempotent on its key) or upsert the snapshot,
and mark the local outbox row consumed. Only after commit are job ids handed to the queue
and the delivery acknowledged. Events that can never be handled (unparseable,
invalid) are kept as dead events with their raw payload and reason, and acknowledged;
so is an event that failed otherwise on its ``max_deliveries``-th delivery, with its
last error. A dead event of memvault's own outbox marks that outbox row dead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from memvault.application.config import JobPolicy
from memvault.application.events import Envelope, PoisonEvent, parse_envelope
from memvault.application.ports.clock import Clock
from memvault.application.ports.event_bus import EventConsumer, ReceivedEvent
from memvault.application.ports.failures import FailureKind, failure_kind
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import DeadEvent, UnitOfWork, UnitOfWorkFactory
from memvault.domain.conversation import AgentSnapshot
from memvault.domain.errors import InvalidValue
from memvault.domain.jobs import ExtractionJob, ExtractPayload
from memvault.domain.outbox import EventType, OutboxMessage, OutboxStatus

log = structlog.get_logger(__name__)
MAX_PHASE = 32
DEFAULT_MAX_DELIVERIES = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Handled:
    job_ids: tuple[int, ...] = ()
    dead: bool = False
    ignored: bool = False
    duplicate: bool = False


def snapshot_of(payload: dict[str, object], now: datetime) -> AgentSnapshot:
    def text(name: str, limit: int) -> str:
        """Not blank; returned byte for byte (ids are never trimmed: "bob " is not "bob")."""
        value = payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise InvalidValue(f"payload field {name} must be a string of 1-{limit} characters")
        return value

    snapshot = payload.get("snapshot_json")
    if not isinstance(snapshot, str):
        snapshot = json.dumps(snapshot, ensure_ascii=False)
    return AgentSnapshot(
        user_id=text("user_id", 128),
        conversation_id=text("conversation_id", 128),
        phase=text("phase", MAX_PHASE).strip(),
        snapshot_json=snapshot,
        created_at=now,
        updated_at=now,
    )


async def _local_row(
    uow: UnitOfWork, outbox_id: object, event_id: str | None
) -> OutboxMessage | None:
    """Our outbox row that sent ``event_id`` (locked), or ``None``: an external producer
    may reuse an outbox id, so the row counts only when its own event id matches."""
    if not isinstance(outbox_id, int) or isinstance(outbox_id, bool) or not 0 < outbox_id < 2**63:
        return None
    row = await uow.outbox.get(outbox_id, for_update=True)
    if row is None:
        return None
    try:
        local_id = json.loads(row.payload).get("event_id") or str(row.id)
    except (ValueError, AttributeError):
        return None
    return row if local_id == event_id else None


class HandleEventUseCase:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        policy: JobPolicy,
        topic: str,
        *,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._topic = topic

    async def __call__(self, raw: bytes) -> Handled:
        now = self._clock.now()
        try:
            event = parse_envelope(raw)
            if event is None:
                return Handled(ignored=True)
            return await self._apply(event, now)
        except (PoisonEvent, InvalidValue) as error:
            await self.bury(raw, str(error))
            return Handled(dead=True)

    async def _apply(self, event: Envelope, now: datetime) -> Handled:
        trace = None
        if event.event_type is EventType.MEMORY_EXTRACT_REQUESTED:
            payload = ExtractPayload.from_mapping(event.payload)
            trace = payload.trace_id
            job = ExtractionJob(
                user_id=payload.user_id,
                conversation_id=payload.conversation_id,
                source_message_id=payload.source_message_id,
                source_event_id=event.event_id,
                idempotency_key=payload.idempotency_key,
                payload_json=payload.to_json(),
                max_retry=self._policy.max_retry,
                next_retry_at=now,
                enqueued_at=now,  # enqueued right after this transaction commits
                created_at=now,
                updated_at=now,
            )
        else:
            snapshot = snapshot_of(event.payload, now)
        async with self._uow() as uow:
            fresh = await uow.events.record_consumed(event.event_id, event.event_type, now=now)
            job_ids: tuple[int, ...] = ()
            if fresh and event.event_type is EventType.MEMORY_EXTRACT_REQUESTED:
                job_id = await uow.jobs.add_unless_exists(job)
                job_ids = () if job_id is None else (job_id,)
            elif fresh:
                await uow.snapshots.upsert(snapshot)
            # A repeat still marks our row: it may have been sent again after its event
            # was handled (an operator retried it), and must not stay ``published``.
            await self._mark_local_row(uow, event, now)
            await uow.commit()
        if job_ids:
            # request_id: the HTTP request whose message this job extracts from
            log.info("job_created", job_id=job_ids[0], event_id=event.event_id, request_id=trace)
        return Handled(job_ids=job_ids, duplicate=not fresh)

    @staticmethod
    async def _mark_local_row(uow: UnitOfWork, event: Envelope, now: datetime) -> None:
        """Mark our own outbox row consumed; an external producer's outbox id is not ours."""
        row = await _local_row(uow, event.outbox_id, event.event_id)
        if row is not None and row.status is not OutboxStatus.CONSUMED:
            await uow.outbox.mark_consumed(row.id or 0, now=now)

    async def bury(self, raw: bytes, reason: str) -> None:
        """Keep ``raw`` as a dead event with ``reason``; mark our own outbox row dead."""
        now = self._clock.now()
        log.warning("dead_event", reason=reason, size=len(raw))
        event_id = event_type = None
        outbox_id: object = None
        try:
            body = json.loads(raw)
            if isinstance(body, dict):
                event_id = str(body.get("event_id") or body.get("outbox_id") or "") or None
                event_type = str(body.get("event_type") or "") or None
                outbox_id = body.get("outbox_id")
        except (ValueError, UnicodeDecodeError):
            pass
        async with self._uow() as uow:
            # Our own row would otherwise stay ``published`` and be sent again forever.
            own = await _local_row(uow, outbox_id, event_id)
            if own is not None and own.status is OutboxStatus.DEAD:
                # Another copy of the event (the relay sent it again before it learnt
                # the first was taken) was buried already: one dead event per row.
                log.info("dead_event_already_kept", outbox_id=own.id)
                return
            if own is not None:
                own.bury(f"refused by the consumer: {reason}", now=now)
                await uow.outbox.save(own)
            await uow.events.add_dead(
                DeadEvent(
                    topic=self._topic,
                    event_id=event_id,
                    event_type=event_type,
                    raw_payload=raw.decode("utf-8", errors="replace"),
                    reason=reason,
                    created_at=now,
                )
            )
            await uow.commit()
        self._metrics.count(Metric.DEAD_EVENT_TOTAL)


def _is_transient(error: BaseException) -> bool:
    return failure_kind(error) is FailureKind.TRANSIENT


class ConsumeEventsUseCase:
    """One fetch from the bus: handle each event, enqueue new jobs, then acknowledge.

    An event whose handling fails is left unacknowledged, so the bus delivers it again
    after its redelivery delay, and the rest of the batch goes on. On its
    ``max_deliveries``-th delivery it is dead-lettered with its last error and
    acknowledged. A transient failure (``is_transient``: the database or another
    dependency is down) never dead-letters: the batch stops there, and what is left
    comes again once the dependency is back.
    """

    def __init__(
        self,
        consumer: EventConsumer,
        handle: HandleEventUseCase,
        queue: JobQueue,
        *,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        is_transient: Callable[[BaseException], bool] = _is_transient,
    ) -> None:
        self._consumer = consumer
        self._handle = handle
        self._queue = queue
        self._max_deliveries = max(max_deliveries, 1)
        self._is_transient = is_transient

    async def __call__(self, *, max_events: int = 100, timeout: float = 1.0) -> int:
        """How many events were acknowledged."""
        events = await self._consumer.fetch(max_events=max_events, timeout=timeout)
        if not events:
            return 0
        handled: list[ReceivedEvent] = []
        job_ids: list[int] = []
        try:
            for event in events:
                try:
                    job_ids.extend((await self._handle(event.value)).job_ids)
                except Exception as error:
                    if self._is_transient(error):
                        log.warning("event_deferred", error=_describe(error))
                        break
                    if not await self._failed(event, error):
                        continue
                handled.append(event)
        finally:
            if job_ids:
                await self._queue.enqueue(job_ids)
            if handled:
                await self._consumer.ack(handled)
        return len(handled)

    async def _failed(self, event: ReceivedEvent, error: Exception) -> bool:
        """Dead-letter ``event`` on its last delivery; whether it may be acknowledged."""
        reason = _describe(error)
        if event.deliveries < self._max_deliveries:
            log.warning("event_failed", deliveries=event.deliveries, error=reason)
            return False
        try:
            await self._handle.bury(
                event.value, f"failed {event.deliveries} deliveries, last: {reason}"
            )
        except Exception as burial:  # the next delivery tries again
            log.warning("dead_event_not_stored", error=_describe(burial))
            return False
        return True


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
