"""The event bus port's contract, run over every adapter.

Each test uses its own topic (stream) and groups, so tests are isolated without
truncation. Redis and the Kafka broker are real servers; when one is unreachable the
tests that need it fail.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from memvault.adapters.event_bus.in_process import InProcessBus
from memvault.adapters.event_bus.kafka import KafkaConsumer, KafkaPublisher, KafkaSettings
from memvault.adapters.event_bus.redis_streams import RedisStreamsConsumer, RedisStreamsPublisher
from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from memvault.adapters.system_clock import SystemClock
from memvault.application.config import JobPolicy, OutboxPolicy
from memvault.application.events import wrapper
from memvault.application.ingest.ingest_messages import (
    IncomingMessage,
    IngestMessages,
    IngestMessagesUseCase,
)
from memvault.application.outbox.consume import ConsumeEventsUseCase, Handled, HandleEventUseCase
from memvault.application.outbox.relay import RelayOutboxUseCase
from memvault.application.ports.event_bus import (
    EventBusError,
    EventConsumer,
    EventPublisher,
    OutgoingEvent,
    ReceivedEvent,
)
from memvault.application.ports.repositories import DeadEvent, JobQuery, UnitOfWorkFactory
from memvault.domain.outbox import EventType, OutboxMessage, OutboxStatus
from tests.databases import fresh_database
from tests.doubles import RecordingQueue
from tests.fixtures.kafka import free_port
from tests.fixtures.redis import checked_redis_client

_Resource = TypeVar("_Resource", EventPublisher, EventConsumer)

REDELIVERY_S = 0.5
"""In-process and Kafka ``redelivery_after`` and Redis ``min_idle`` in these tests."""
PATIENCE_S = 20.0
"""How long a test waits for events it expects (a Kafka member first has to join)."""


def unique(prefix: str) -> str:
    return f"memvault.test.{prefix}.{uuid.uuid4().hex[:12]}"


class Harness:
    """Makes publishers and consumers of one adapter on a fresh topic; closes them all."""

    kind = "abstract"
    redelivers_acked_events_after_a_gap = False
    """Kafka commits contiguous offsets only (see the adapter's docstring)."""

    def __init__(self) -> None:
        self.topic = unique(self.kind)
        self._opened: list[EventPublisher | EventConsumer] = []

    def publisher(self) -> EventPublisher:
        return self._track(self._publisher())

    def consumer(self, group: str) -> EventConsumer:
        return self._track(self._consumer(group))

    def unreachable_publisher(self) -> EventPublisher:
        raise NotImplementedError

    def unreachable_consumer(self) -> EventConsumer:
        raise NotImplementedError

    async def settle(self, consumers: Sequence[EventConsumer]) -> None:
        """Wait until the members of one group share the work steadily."""

    async def aclose(self) -> None:
        for resource in reversed(self._opened):
            await resource.close()

    def _track(self, resource: _Resource) -> _Resource:
        self._opened.append(resource)
        return resource

    def _publisher(self) -> EventPublisher:
        raise NotImplementedError

    def _consumer(self, group: str) -> EventConsumer:
        raise NotImplementedError


class InProcessHarness(Harness):
    kind = "in_process"

    def __init__(self) -> None:
        super().__init__()
        self.bus = InProcessBus(redelivery_after=REDELIVERY_S)

    def _publisher(self) -> EventPublisher:
        return self.bus.publisher(self.topic)

    def _consumer(self, group: str) -> EventConsumer:
        return self.bus.consumer(self.topic, group=group)


class RedisHarness(Harness):
    kind = "redis"

    def __init__(self, client: Redis) -> None:
        super().__init__()
        self.client = client

    def _publisher(self) -> EventPublisher:
        return RedisStreamsPublisher(self.client, stream=self.topic, maxlen=10_000)

    def _consumer(self, group: str) -> EventConsumer:
        return RedisStreamsConsumer(
            self.client, stream=self.topic, group=group, min_idle=REDELIVERY_S, max_block=0.25
        )

    def unreachable_publisher(self) -> EventPublisher:
        client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
        return self._track(
            RedisStreamsPublisher(client, stream=self.topic, timeout=1.0, owns_client=True)
        )

    def unreachable_consumer(self) -> EventConsumer:
        client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
        return self._track(
            RedisStreamsConsumer(
                client, stream=self.topic, group="g", timeout=1.0, owns_client=True
            )
        )

    async def aclose(self) -> None:
        await super().aclose()
        await self.client.delete(self.topic)
        await self.client.aclose()


class KafkaHarness(Harness):
    kind = "kafka"
    redelivers_acked_events_after_a_gap = True

    def __init__(self, bootstrap: str) -> None:
        super().__init__()
        self.settings = self._settings(bootstrap)

    def _settings(self, bootstrap: str) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=bootstrap,
            topic=self.topic,
            partitions=3,
            session_timeout=2.0,
            heartbeat_interval=0.3,
            redelivery_after=REDELIVERY_S,
        )

    def _publisher(self) -> EventPublisher:
        return KafkaPublisher(self.settings)

    def _consumer(self, group: str) -> EventConsumer:
        return KafkaConsumer(self.settings, group=group)

    def unreachable_publisher(self) -> EventPublisher:
        return self._track(KafkaPublisher(self._settings(f"127.0.0.1:{free_port()}")))

    def unreachable_consumer(self) -> EventConsumer:
        return self._track(KafkaConsumer(self._settings(f"127.0.0.1:{free_port()}"), group="g"))

    async def settle(self, consumers: Sequence[EventConsumer]) -> None:
        members = [c for c in consumers if isinstance(c, KafkaConsumer)]
        for member in members:
            await member.start()
        give_up = time.monotonic() + PATIENCE_S
        while time.monotonic() < give_up:
            owned = [member.assigned_partitions for member in members]
            if all(owned) and sum(map(len, owned)) == self.settings.partitions:
                return
            await asyncio.sleep(0.1)
        pytest.fail(f"Kafka group did not settle: {[m.assigned_partitions for m in members]}")


@pytest.fixture(params=["in_process", "redis", "kafka"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    harness: Harness
    if request.param == "in_process":
        harness = InProcessHarness()
    elif request.param == "redis":
        harness = RedisHarness(await checked_redis_client())
    else:
        harness = KafkaHarness(request.getfixturevalue("kafka_bootstrap"))
    yield harness
    await harness.aclose()


async def collect(
    consumer: EventConsumer, count: int, *, ack: bool = True, within: float = PATIENCE_S
) -> list[ReceivedEvent]:
    """Fetch until ``count`` events arrived (acknowledging them) or ``within`` passed."""
    received: list[ReceivedEvent] = []
    give_up = time.monotonic() + within
    while len(received) < count and time.monotonic() < give_up:
        batch = await consumer.fetch(max_events=count - len(received), timeout=0.5)
        if ack:
            await consumer.ack(batch)
        received.extend(batch)
    return received


def values(events: Iterable[ReceivedEvent]) -> list[bytes]:
    return [event.value for event in events]


def outgoing(key: str, *payloads: bytes) -> list[OutgoingEvent]:
    return [OutgoingEvent(key=key, value=payload) for payload in payloads]


async def test_published_events_arrive_with_key_and_value_intact(bus: Harness) -> None:
    sent = [
        OutgoingEvent(key="conversation-1", value=b'{"event_type": "memory.extract.requested"}'),
        OutgoingEvent(key="会话-2", value=bytes(range(256))),
        OutgoingEvent(key="conversation-3", value=b""),
    ]
    await bus.publisher().publish(sent)

    received = await collect(bus.consumer(unique("group")), len(sent))

    assert sorted((e.key or "", e.value) for e in received) == sorted(
        (e.key, e.value) for e in sent
    )
    assert len({e.receipt for e in received}) == len(sent)


async def test_events_with_the_same_key_arrive_in_publish_order(bus: Harness) -> None:
    publisher = bus.publisher()
    keys = ["a", "b", "c"]
    for batch in range(3):
        await publisher.publish(
            [
                OutgoingEvent(key=k, value=f"{k}-{batch}-{i}".encode())
                for i in range(5)
                for k in keys
            ]
        )

    received = await collect(bus.consumer(unique("group")), 45)

    assert len(received) == 45
    for key in keys:
        expected = [f"{key}-{b}-{i}".encode() for b in range(3) for i in range(5)]
        assert [e.value for e in received if e.key == key] == expected


async def test_acknowledged_events_are_not_delivered_again_to_the_group(bus: Harness) -> None:
    group = unique("group")
    publisher = bus.publisher()
    await publisher.publish(outgoing("conversation", b"first", b"second", b"third"))
    first_member = bus.consumer(group)
    assert len(await collect(first_member, 3)) == 3
    await first_member.close()

    await publisher.publish(outgoing("conversation", b"marker"))
    received = await collect(bus.consumer(group), 1)

    assert values(received) == [b"marker"]


async def test_unacknowledged_events_go_to_another_member_after_the_first_closes(
    bus: Harness,
) -> None:
    group = unique("group")
    await bus.publisher().publish(outgoing("conversation", b"acked", b"unacked", b"acked-later"))
    first_member = bus.consumer(group)
    fetched = await collect(first_member, 3, ack=False)
    assert values(fetched) == [b"acked", b"unacked", b"acked-later"]
    await first_member.ack([fetched[0], fetched[2]])
    await first_member.close()

    second_member = bus.consumer(group)
    redelivered = await collect(second_member, 1)
    redelivered += await collect(second_member, 2, within=1.0)

    assert values(redelivered)[0] == b"unacked"
    if bus.redelivers_acked_events_after_a_gap:
        assert values(redelivered) == [b"unacked", b"acked-later"]
    else:
        assert values(redelivered) == [b"unacked"]


@pytest.mark.parametrize("bus", ["in_process", "redis"], indirect=True)
async def test_events_a_silent_member_holds_are_delivered_again_after_the_delay(
    bus: Harness,
) -> None:
    group = unique("group")
    await bus.publisher().publish(outgoing("conversation", b"held"))
    silent_member = bus.consumer(group)
    assert values(await collect(silent_member, 1, ack=False)) == [b"held"]
    other_member = bus.consumer(group)

    assert await other_member.fetch(max_events=10, timeout=0.0) == []
    started = time.monotonic()
    redelivered = await collect(other_member, 1, within=5 * REDELIVERY_S)

    assert values(redelivered) == [b"held"]
    assert time.monotonic() - started >= 0.5 * REDELIVERY_S


async def test_an_unacknowledged_event_comes_again_with_its_delivery_count_raised(
    bus: Harness,
) -> None:
    member = bus.consumer(unique("group"))
    await bus.settle([member])
    await bus.publisher().publish(outgoing("conversation", b"failing", b"fine"))

    first = await collect(member, 2, ack=False)
    await member.ack([event for event in first if event.value == b"fine"])
    again = await collect(member, 1, ack=False)
    third = await collect(member, 1)

    assert [(e.value, e.deliveries) for e in first] == [(b"failing", 1), (b"fine", 1)]
    assert [(e.value, e.deliveries) for e in again + third] == [(b"failing", 2), (b"failing", 3)]
    assert await collect(member, 1, within=3 * REDELIVERY_S) == [], "acknowledged at last"


async def test_members_of_one_group_each_receive_a_different_share(bus: Harness) -> None:
    group = unique("group")
    members = [bus.consumer(group), bus.consumer(group)]
    await bus.settle(members)
    sent = [OutgoingEvent(key=f"conversation-{i}", value=b"%d" % i) for i in range(30)]
    await bus.publisher().publish(sent)

    received: list[ReceivedEvent] = []
    give_up = time.monotonic() + PATIENCE_S
    while len(received) < len(sent) and time.monotonic() < give_up:
        for batch in await asyncio.gather(*(collect(m, 10, within=0.3) for m in members)):
            received.extend(batch)
    for batch in await asyncio.gather(*(collect(m, 1, within=0.5) for m in members)):
        received.extend(batch)

    assert sorted(values(received)) == sorted(e.value for e in sent)


async def test_every_group_receives_every_event(bus: Harness) -> None:
    sent = [OutgoingEvent(key=f"conversation-{i % 3}", value=b"%d" % i) for i in range(9)]
    await bus.publisher().publish(sent)
    groups = [bus.consumer(unique("group")), bus.consumer(unique("group"))]

    received = await asyncio.gather(*(collect(member, len(sent)) for member in groups))

    for events in received:
        assert sorted(values(events)) == sorted(e.value for e in sent)


async def test_fetch_waits_about_the_timeout_when_nothing_comes(bus: Harness) -> None:
    consumer = bus.consumer(unique("group"))
    await consumer.fetch(max_events=1, timeout=0.1)

    started = time.monotonic()
    received = await consumer.fetch(max_events=10, timeout=1.0)
    waited = time.monotonic() - started

    assert received == []
    assert 0.9 <= waited < 2.0


@pytest.mark.parametrize("bus", ["redis", "kafka"], indirect=True)
async def test_publishing_to_an_unreachable_broker_fails_fast(bus: Harness) -> None:
    publisher = bus.unreachable_publisher()
    started = time.monotonic()

    with pytest.raises(EventBusError):
        await publisher.publish(outgoing("conversation", b"lost?"))

    assert time.monotonic() - started < 5.0


@pytest.mark.parametrize("bus", ["redis", "kafka"], indirect=True)
async def test_fetching_from_an_unreachable_broker_fails_fast(bus: Harness) -> None:
    consumer = bus.unreachable_consumer()
    started = time.monotonic()

    with pytest.raises(EventBusError):
        await consumer.fetch(max_events=1, timeout=0.5)

    assert time.monotonic() - started < 5.0


async def test_a_closed_consumer_refuses_to_fetch(bus: Harness) -> None:
    consumer = bus.consumer(unique("group"))
    await consumer.close()

    with pytest.raises(EventBusError):
        await consumer.fetch(max_events=1, timeout=0.1)


# Poison events: the consumer use case over each bus, on a real SQLite database.

MAX_DELIVERIES = 3
UNPARSEABLE = b"\xff{ not json"
REFUSED_USERS = """
CREATE TRIGGER refuse_poison_users BEFORE UPDATE ON memory_outbox_messages
WHEN NEW.status = 'consumed' AND NEW.user_id LIKE 'poison-%'
BEGIN SELECT RAISE(ABORT, 'poison user refused'); END
"""
"""A real constraint failure that no parsing or validation can foresee."""


@pytest.fixture
def refusing_database(tmp_path: Path) -> Iterator[str]:
    """A migrated SQLite database that refuses to mark consumed the outbox rows of users
    named ``poison-*``."""
    with fresh_database("sqlite", tmp_path) as url:
        with sqlite3.connect(str(make_url(url).database)) as conn:
            conn.execute(REFUSED_USERS)
        yield url


class CountingHandler(HandleEventUseCase):
    """The real handler, remembering every event that reached it, in order."""

    def __init__(self, uow: UnitOfWorkFactory, topic: str) -> None:
        super().__init__(uow, SystemClock(), JobPolicy(), topic)
        self.seen: list[bytes] = []

    async def __call__(self, raw: bytes) -> Handled:
        self.seen.append(raw)
        return await super().__call__(raw)

    def times(self, marker: str | bytes) -> int:
        needle = marker.encode() if isinstance(marker, str) else marker
        return sum(needle in raw for raw in self.seen)


class Pipeline:
    """Ingest → relay → bus → consumer, as memvault wires them, on one harness."""

    def __init__(self, bus: Harness, uow: UnitOfWorkFactory) -> None:
        self.uow = uow
        self.topic = bus.topic
        self.publisher = bus.publisher()
        self.group = unique("group")
        self.consumer = bus.consumer(self.group)
        self.handler = CountingHandler(uow, bus.topic)
        self.consume = ConsumeEventsUseCase(
            self.consumer, self.handler, RecordingQueue(), max_deliveries=MAX_DELIVERIES
        )

    async def ingest(self, user_id: str, conversation: str, text: str) -> int:
        """The outbox row of one user turn."""
        ingest = IngestMessagesUseCase(self.uow, SystemClock(), OutboxPolicy(topic=self.topic))
        await ingest(
            IngestMessages(
                user_id=user_id,
                conversation_id=conversation,
                messages=[IncomingMessage(role="user", content=text)],
            )
        )
        async with self.uow(read_only=True) as uow:
            (row,) = await uow.outbox.list(status=None, limit=2, user_id=user_id)
        return row.id or 0

    async def add_invalid_row(self, conversation: str) -> int:
        """An outbox row whose event parses but whose payload is invalid (no user)."""
        now = SystemClock().now()
        payload = wrapper(
            event_type=EventType.MEMORY_EXTRACT_REQUESTED,
            payload={"conversation_id": conversation, "source_text": "I love tea"},
            aggregate_id=conversation,
            event_id=uuid.uuid4().hex,
        )
        row = OutboxMessage(
            event_type=EventType.MEMORY_EXTRACT_REQUESTED.value,
            topic=self.topic,
            message_key=conversation,
            payload=payload,
            next_retry_at=now,
            created_at=now,
            updated_at=now,
        )
        async with self.uow() as uow:
            added = await uow.outbox.add(row)
            await uow.commit()
        return added.id or 0

    async def relay(self) -> int:
        policy = OutboxPolicy(topic=self.topic)
        return await RelayOutboxUseCase(self.uow, SystemClock(), self.publisher, policy)()

    async def consume_until_dead(self, count: int) -> list[DeadEvent]:
        give_up = time.monotonic() + PATIENCE_S
        while time.monotonic() < give_up:
            await self.consume(max_events=10, timeout=0.25)
            if len(dead := await self.dead_events()) >= count:
                return dead
        return await self.dead_events()

    async def dead_events(self) -> list[DeadEvent]:
        async with self.uow(read_only=True) as uow:
            dead = await uow.events.list_dead(limit=100)
        return [event for event in dead if event.topic == self.topic]

    async def outbox_row(self, outbox_id: int) -> OutboxMessage:
        async with self.uow(read_only=True) as uow:
            row = await uow.outbox.get(outbox_id)
        assert row is not None
        return row

    async def jobs_of(self, user_id: str) -> int:
        async with self.uow(read_only=True) as uow:
            return len(await uow.jobs.list(JobQuery(user_id=user_id)))


async def test_a_poison_event_of_each_kind_ends_dead_and_marks_its_outbox_row(
    bus: Harness, refusing_database: str
) -> None:
    engine = create_engine(refusing_database, pool_size=2)
    try:
        await _poison_journey(bus, SqlUnitOfWorkFactory(engine))
    finally:
        await engine.dispose()


async def _poison_journey(bus: Harness, uow: UnitOfWorkFactory) -> None:
    pipeline = Pipeline(bus, uow)
    conversation = unique("conversation")
    poison_user, good_user = f"poison-{uuid.uuid4().hex}", f"user-{uuid.uuid4().hex}"
    refused = await pipeline.ingest(poison_user, conversation, "I love green tea")
    good = await pipeline.ingest(good_user, conversation, "I love black coffee")
    invalid = await pipeline.add_invalid_row(conversation)
    assert await pipeline.relay() == 3
    await pipeline.publisher.publish(outgoing(conversation, UNPARSEABLE))
    await bus.settle([pipeline.consumer])

    dead = await pipeline.consume_until_dead(3)

    handler = pipeline.handler
    assert handler.times(poison_user) == MAX_DELIVERIES, "a failing event: K deliveries"
    assert handler.times(UNPARSEABLE) == 1, "an unparseable event is dead at once"
    assert handler.times(f'"outbox_id": {invalid}') == 1, "so is an invalid one"
    reasons = sorted(event.reason for event in dead)
    assert len(dead) == 3, reasons
    (refusal,) = [r for r in reasons if "poison user refused" in r]
    assert refusal.startswith(f"failed {MAX_DELIVERIES} deliveries, last: IntegrityError")
    assert [r for r in reasons if r.startswith("not JSON")]
    assert (await pipeline.outbox_row(refused)).status is OutboxStatus.DEAD
    assert "poison user refused" in ((await pipeline.outbox_row(refused)).last_error or "")
    assert (await pipeline.outbox_row(invalid)).status is OutboxStatus.DEAD
    assert (await pipeline.outbox_row(good)).status is OutboxStatus.CONSUMED
    assert (await pipeline.jobs_of(good_user), await pipeline.jobs_of(poison_user)) == (1, 0)
    poison_seen = [i for i, raw in enumerate(handler.seen) if poison_user.encode() in raw]
    good_seen = [i for i, raw in enumerate(handler.seen) if good_user.encode() in raw]
    assert len(good_seen) == 1
    assert good_seen[0] < poison_seen[1], "the batch does not wait behind a failing event"
    await _nothing_left_unacknowledged(bus, pipeline, conversation)


async def _nothing_left_unacknowledged(bus: Harness, pipeline: Pipeline, conversation: str) -> None:
    """A new member of the group starts after every event: on Kafka the commits moved
    past the poison offset instead of freezing there."""
    await pipeline.consumer.close()
    await pipeline.publisher.publish(outgoing(conversation, b"marker"))

    received = await collect(bus.consumer(pipeline.group), 1)

    assert values(received) == [b"marker"]
