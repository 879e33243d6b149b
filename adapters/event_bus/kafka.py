"""Event bus on Kafka (or a Kafka-compatible broker such as Tansu), with aiokafka.

Contract (the :mod:`application.ports.event_bus` contract, made concrete):

- The topic is created on first use when missing, with ``partitions`` partitions.
- ``publish`` sends every event with the event key as the Kafka key (so one key goes to
  one partition, in order) and ``acks=all``, and returns once the broker has
  acknowledged all of them. A broker that refuses, or does not answer within
  ``request_timeout`` seconds, makes it raise :class:`EventBusError`; some events may
  then have been written, and retrying duplicates them (the contract allows it).
  Idempotent production is off by default because Tansu 0.6 rejects
  ``InitProducerId``; turn it on with ``enable_idempotence`` on a real Kafka cluster.
- Consumers join a group with manual commits and ``auto_offset_reset=earliest``.
  ``ack`` commits, per partition, the offset after the longest run of acknowledged
  events that starts at the group's committed position. An unacknowledged event
  therefore holds the commit back: it, and the acknowledged events after it in its
  partition, are delivered again after a restart or a rebalance.
- Redelivery: Kafka does not take an event back from a live member, so the member
  keeps each event it handed out until it is acknowledged and hands it out again
  after ``redelivery_after`` seconds, counting its ``deliveries`` (in memory: the
  broker keeps no such count). The consumer acknowledges an event that keeps failing
  once it is dead-lettered, so one poison offset holds the commits back for at most
  that many redeliveries, never for the life of the process. Unacknowledged events
  are also delivered again, counted from 1, when their partition moves to another
  member (or back to this one): when this consumer is closed (it leaves the group)
  and a member joins or is still there, or when it stops heartbeating for
  ``session_timeout`` seconds, or stops fetching for ``max_poll_interval`` seconds.
- Members of a group share the partitions, so each event goes to one member at a time;
  during a rebalance, events fetched but not yet committed may reach the next owner
  of their partition as well.
- Tansu 0.6 numbers a new group's first generation 0, and aiokafka sends no
  LeaveGroup from generation 0: there, a closing member of a brand-new group is only
  dropped after ``session_timeout``, so its partitions wait that long for a new owner.

The receipt of an event is ``"<partition>:<offset>"``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    RebalanceInProgressError,
    TopicAlreadyExistsError,
)

from memvault.application.ports.event_bus import (
    EventBusError,
    EventConsumer,
    EventPublisher,
    OutgoingEvent,
    ReceivedEvent,
)

_log = structlog.get_logger(__name__)

_TOPIC_ALREADY_EXISTS = 36
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSettings:
    """Where the broker is and how patient to be with it (durations in seconds)."""

    bootstrap_servers: str
    topic: str
    partitions: int = 3
    replication_factor: int = 1
    client_id: str = "memvault"
    request_timeout: float = 10.0
    enable_idempotence: bool = False
    session_timeout: float = 10.0
    heartbeat_interval: float = 3.0
    max_poll_interval: float = 300.0
    redelivery_after: float = 30.0


async def _guard(operation: Awaitable[_T], *, what: str, settings: KafkaSettings) -> _T:
    """Await a Kafka call within ``request_timeout``; failures become EventBusError."""
    limit = settings.request_timeout
    try:
        async with asyncio.timeout(limit):
            return await operation
    except TimeoutError as exc:
        raise EventBusError(
            f"Kafka at {settings.bootstrap_servers} did not answer {what} "
            f"on topic {settings.topic!r} within {limit}s"
        ) from exc
    except KafkaError as exc:
        raise EventBusError(
            f"Kafka at {settings.bootstrap_servers} failed {what} "
            f"on topic {settings.topic!r}: {exc!r}"
        ) from exc


async def ensure_topic(settings: KafkaSettings) -> None:
    """Create the topic when it does not exist; an existing topic is left as it is."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=settings.client_id,
        request_timeout_ms=_ms(settings.request_timeout),
    )
    try:
        await _guard(admin.start(), what="connect (admin)", settings=settings)
        new_topic = NewTopic(settings.topic, settings.partitions, settings.replication_factor)
        errors = await _guard(
            _create_topic(admin, new_topic), what="CreateTopics", settings=settings
        )
    finally:
        await admin.close()
    for topic_error in errors:
        if topic_error[1] not in (0, _TOPIC_ALREADY_EXISTS):
            raise EventBusError(
                f"Kafka refused to create topic {settings.topic!r}: {topic_error!r}"
            )


async def _create_topic(admin: Any, new_topic: Any) -> list[tuple[Any, ...]]:
    """``(topic, error_code, ...)`` per topic; older brokers raise when it exists."""
    try:
        response = await admin.create_topics([new_topic])
    except TopicAlreadyExistsError:
        return []
    return [tuple(topic_error) for topic_error in response.topic_errors]


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


class KafkaPublisher(EventPublisher):
    """Publishes to the settings' topic (see module doc); connects on first use."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._producer: Any = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def start(self) -> None:
        """Ensure the topic and connect; idempotent, and retried by the next call."""
        async with self._lock:
            if self._closed:
                raise EventBusError("Kafka publisher is closed")
            if self._producer is not None:
                return
            settings = self._settings
            await ensure_topic(settings)
            producer = AIOKafkaProducer(
                bootstrap_servers=settings.bootstrap_servers,
                client_id=settings.client_id,
                acks="all",
                enable_idempotence=settings.enable_idempotence,
                request_timeout_ms=_ms(settings.request_timeout),
            )
            try:
                await _guard(producer.start(), what="connect (producer)", settings=settings)
            except EventBusError:
                await producer.stop()
                raise
            self._producer = producer

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if not events:
            return
        await self.start()
        await _guard(self._send_all(events), what="produce", settings=self._settings)

    async def _send_all(self, events: Sequence[OutgoingEvent]) -> None:
        topic = self._settings.topic
        deliveries = [
            await self._producer.send(topic, key=event.key.encode(), value=event.value)
            for event in events
        ]
        results = await asyncio.gather(*deliveries, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


@dataclass(slots=True)
class _Held:
    """An event handed out and not acknowledged, and when to hand it out again."""

    event: ReceivedEvent
    due: float


@dataclass(slots=True)
class _PartitionProgress:
    """Offsets delivered from one partition since it was assigned, and which are acked."""

    delivered: deque[int] = field(default_factory=deque)
    acked: set[int] = field(default_factory=set)
    uncommitted: int | None = None
    """Offset to commit that has not been committed yet."""
    held: dict[int, _Held] = field(default_factory=dict)
    """Unacknowledged events by offset, handed out again when due."""

    def deliver(self, offset: int, event: ReceivedEvent, due: float) -> ReceivedEvent:
        """Record a fetched event; one fetched before (after a seek) counts a delivery."""
        if not self.delivered or offset > self.delivered[-1]:
            self.delivered.append(offset)
            self.held[offset] = _Held(event, due)
            return event
        held = self.held.get(offset)
        if held is None:
            return event
        return self._again(held, due)

    def redeliver(self, now: float, due: float, limit: int) -> list[ReceivedEvent]:
        """Up to ``limit`` held events whose redelivery time has come, counted again."""
        ready = [held for held in self.held.values() if held.due <= now][:limit]
        return [self._again(held, due) for held in ready]

    def next_due(self) -> float | None:
        return min((held.due for held in self.held.values()), default=None)

    @staticmethod
    def _again(held: _Held, due: float) -> ReceivedEvent:
        held.event = replace(held.event, deliveries=held.event.deliveries + 1)
        held.due = due
        return held.event

    def ack(self, offset: int) -> None:
        """Record an ack and move ``uncommitted`` past the acknowledged run."""
        if not self.delivered or not self.delivered[0] <= offset <= self.delivered[-1]:
            return
        self.held.pop(offset, None)
        self.acked.add(offset)
        while self.delivered and self.delivered[0] in self.acked:
            done = self.delivered.popleft()
            self.acked.discard(done)
            self.uncommitted = done + 1


class KafkaConsumer(EventConsumer):
    """A member of a Kafka consumer group on the settings' topic (see module doc).

    It connects on the first ``fetch`` (or ``start``) and then joins the group in the
    background: fetches come back empty until the group has assigned it partitions
    (a few seconds for a new group).
    """

    def __init__(self, settings: KafkaSettings, *, group: str) -> None:
        self._settings = settings
        self._group = group
        self._consumer: Any = None
        self._progress: dict[int, _PartitionProgress] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def assigned_partitions(self) -> frozenset[int]:
        """The partitions this member owns now (empty before it has joined)."""
        if self._consumer is None:
            return frozenset()
        return frozenset(tp.partition for tp in self._consumer.assignment())

    async def start(self) -> None:
        """Ensure the topic, connect and subscribe; idempotent."""
        async with self._lock:
            if self._closed:
                raise EventBusError("Kafka consumer is closed")
            if self._consumer is not None:
                return
            settings = self._settings
            await ensure_topic(settings)
            consumer = AIOKafkaConsumer(
                bootstrap_servers=settings.bootstrap_servers,
                client_id=settings.client_id,
                group_id=self._group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                request_timeout_ms=_ms(settings.request_timeout),
                session_timeout_ms=_ms(settings.session_timeout),
                heartbeat_interval_ms=_ms(settings.heartbeat_interval),
                max_poll_interval_ms=_ms(settings.max_poll_interval),
            )
            try:
                await _guard(consumer.start(), what="connect (consumer)", settings=settings)
            except EventBusError:
                await consumer.stop()
                raise
            # Subscribing after start lets the group join in the background, so a fetch
            # waits for it no longer than its own timeout.
            consumer.subscribe([settings.topic], listener=_Revocations(self))
            self._consumer = consumer

    async def fetch(self, *, max_events: int, timeout: float) -> list[ReceivedEvent]:
        """Held events that are due first, else new records, waiting at most ``timeout``
        (and no longer than the next held event's redelivery time)."""
        await self.start()
        limit = max(max_events, 1)
        give_up = time.monotonic() + max(timeout, 0.0)
        while True:
            now = time.monotonic()
            if events := self._redeliveries(now, limit):
                return events
            wait = give_up - now
            next_due = min(
                (due for p in self._progress.values() if (due := p.next_due()) is not None),
                default=None,
            )
            if next_due is not None:
                wait = min(wait, next_due - now)
            events = await self._poll(max(wait, 0.0), limit)
            if events or time.monotonic() >= give_up:
                return events

    def _redeliveries(self, now: float, limit: int) -> list[ReceivedEvent]:
        due = now + self._settings.redelivery_after
        events: list[ReceivedEvent] = []
        for progress in self._progress.values():
            events.extend(progress.redeliver(now, due, limit - len(events)))
        return events

    async def _poll(self, wait: float, limit: int) -> list[ReceivedEvent]:
        try:
            batches = await self._consumer.getmany(timeout_ms=int(wait * 1000), max_records=limit)
        except KafkaError as exc:
            raise EventBusError(f"Kafka fetch failed on {self._settings.topic!r}: {exc!r}") from exc
        due = time.monotonic() + self._settings.redelivery_after
        events: list[ReceivedEvent] = []
        for tp, records in batches.items():
            progress = self._progress.setdefault(tp.partition, _PartitionProgress())
            for record in records:
                events.append(progress.deliver(record.offset, _received(tp.partition, record), due))
        return events

    async def ack(self, events: Sequence[ReceivedEvent]) -> None:
        """Commit what the acks make committable, and anything a failed commit left."""
        if self._consumer is None:
            raise EventBusError("Kafka consumer is closed or has fetched nothing")
        for partition, offset in (_parse_receipt(event.receipt) for event in events):
            progress = self._progress.get(partition)
            if progress is not None:
                progress.ack(offset)
        await self._commit(list(self._progress))

    async def _commit(self, partitions: Iterable[int]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for partition in partitions:
            progress = self._progress.get(partition)
            if progress is not None and progress.uncommitted is not None:
                offsets[TopicPartition(self._settings.topic, partition)] = progress.uncommitted
        if not offsets:
            return
        try:
            await _guard(self._consumer.commit(offsets), what="commit", settings=self._settings)
        except EventBusError as exc:
            if not isinstance(
                exc.__cause__, CommitFailedError | IllegalStateError | RebalanceInProgressError
            ):
                raise
            # The partition moved to another member, which starts from the last commit:
            # these events come again there, which at-least-once allows.
            _log.warning(
                "event_bus.kafka_commit_lost_to_rebalance",
                topic=self._settings.topic,
                group=self._group,
                error=repr(exc.__cause__),
            )
            return
        for tp, offset in offsets.items():
            progress = self._progress.get(tp.partition)
            if progress is not None and progress.uncommitted == offset:
                progress.uncommitted = None

    async def _on_revoked(self, partitions: Iterable[int]) -> None:
        revoked = list(partitions)
        await self._commit(revoked)
        for partition in revoked:
            progress = self._progress.pop(partition, None)
            if progress is not None and progress.delivered:
                _log.info(
                    "event_bus.kafka_partition_revoked_with_unacked_events",
                    topic=self._settings.topic,
                    group=self._group,
                    partition=partition,
                    unacked=len(progress.delivered),
                )

    async def close(self) -> None:
        """Commit what is committable, then leave the group; idempotent."""
        async with self._lock:
            self._closed = True
            if self._consumer is not None:
                try:
                    await self._commit(list(self._progress))
                except EventBusError as exc:
                    _log.warning("event_bus.kafka_commit_on_close_failed", error=str(exc))
            consumer, self._consumer = self._consumer, None
        self._progress.clear()
        if consumer is not None:
            await consumer.stop()


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what is committable before partitions leave, then forgets them."""

    def __init__(self, owner: KafkaConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        try:
            await self._owner._on_revoked(tp.partition for tp in revoked)
        except EventBusError as exc:
            _log.warning("event_bus.kafka_commit_on_revoke_failed", error=str(exc))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        _log.debug(
            "event_bus.kafka_partitions_assigned", partitions=sorted(a.partition for a in assigned)
        )


def _received(partition: int, record: Any) -> ReceivedEvent:
    key = record.key
    return ReceivedEvent(
        key=None if key is None else key.decode("utf-8", errors="replace"),
        value=record.value or b"",
        receipt=f"{partition}:{record.offset}",
    )


def _parse_receipt(receipt: str) -> tuple[int, int]:
    try:
        partition, offset = receipt.split(":")
        return int(partition), int(offset)
    except ValueError as exc:
        raise EventBusError(f"receipt {receipt!r} was not issued by the Kafka bus") from exc
