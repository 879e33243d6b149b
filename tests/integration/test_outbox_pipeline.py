"""Chat ingestion through the transactional outbox, on real databases and event buses.

Each distinct user message (distinct by its idempotency key) yields exactly
one job, whatever the relay or the consumers repeat; a broker outage loses nothing;
events that can never be handled are kept as dead events. The in-process bus runs on
SQLite, Redis Streams and Kafka on PostgreSQL. Every test has its own topic, consumer
group and user, so tests share brokers and this module's databases without truncating.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from sqlalchemy import select, update

from memvault.adapters.sqlalchemy.tables import memory_audit_logs as audit
from memvault.adapters.sqlalchemy.tables import memory_jobs as jobs
from memvault.adapters.sqlalchemy.tables import memory_outbox_messages as outbox
from memvault.application.events import envelope
from memvault.application.ports.event_bus import OutgoingEvent
from memvault.container import Container
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from tests.fixtures.kafka import free_port
from tests.fixtures.redis import REDIS_URL, checked_redis_client
from tests.integration.outbox_pipeline import (
    MESSAGES,
    REDELIVERY_S,
    LaterClock,
    OwnDatabases,
    Pipeline,
    api,
    base_settings,
    consume_until,
    dead_events_of,
    drain,
    event_id_of,
    eventually,
    execute,
    forget_published,
    headers,
    inbox_count,
    ingest,
    job_ids,
    jobs_per_key,
    make_due,
    open_pipeline,
    outbox_rows,
    rows,
    statuses,
    unique,
)

ALL_BUSES = ["in_process", "redis", "kafka"]
BROKERS = ["redis", "kafka"]
"""The buses that can be unreachable (the in-process bus lives in the process)."""


class Pipelines:
    """Opens pipelines on one bus, topic, consumer group and database; closes them all."""

    def __init__(self, bus: str, settings: dict[str, Any]) -> None:
        self.bus = bus
        self._settings = settings
        self._opened: list[Pipeline] = []

    @property
    def topic(self) -> str:
        return str(self._settings["event_topic"])

    def open(self, **changes: Any) -> Pipeline:
        pipeline = open_pipeline(base_settings(**{**self._settings, **changes}))
        self._opened.append(pipeline)
        return pipeline

    def unreachable(self) -> dict[str, str]:
        """Settings that point the bus at a port nothing listens on."""
        if self.bus == "redis":
            return {"redis_url": f"redis://127.0.0.1:{free_port()}/0"}
        return {"kafka_bootstrap": f"127.0.0.1:{free_port()}"}

    async def aclose(self) -> None:
        for pipeline in reversed(self._opened):
            await pipeline.close()


@pytest.fixture(scope="module")
def own_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnDatabases]:
    databases = OwnDatabases(tmp_path_factory.mktemp("outbox-db"))
    yield databases
    databases.drop_all()


@pytest.fixture
async def pipelines(
    request: pytest.FixtureRequest, tmp_path: Path, own_databases: OwnDatabases
) -> AsyncIterator[Pipelines]:
    bus = str(request.param)
    settings: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "event_topic": unique("memvault.test.outbox"),
        "consumer_group": unique("memvault-test-consumers"),
    }
    if bus == "in_process":
        settings.update(event_bus="memory", database_url=own_databases["sqlite"])
    elif bus == "redis":
        await (await checked_redis_client()).aclose()  # fails the test at once when down
        settings.update(
            event_bus="redis", redis_url=REDIS_URL, database_url=own_databases["postgresql"]
        )
    else:
        settings.update(
            event_bus="kafka",
            kafka_bootstrap=request.getfixturevalue("kafka_bootstrap"),
            database_url=own_databases["postgresql"],
        )
    made = Pipelines(bus, settings)
    yield made
    await made.aclose()
    if bus == "redis":
        client = await checked_redis_client()
        await client.delete(made.topic)
        await client.aclose()


def extract_event(*, event_id: str | None = None, service: str = "memory", **payload: Any) -> bytes:
    """A ``memory.extract.requested`` envelope as another producer would publish it."""
    body: dict[str, Any] = {
        "event_type": "memory.extract.requested",
        "service_name": service,
        "payload": {
            "user_id": "external-user",
            "conversation_id": "ext-conv",
            "source_role": "user",
            "source_text": "I prefer green tea",
            "occurred_at": "2025-01-01T00:00:00Z",
            "idempotency_key": unique("memory_extract_ext"),
            **payload,
        },
    }
    if event_id is not None:
        body["event_id"] = event_id
    return json.dumps(body).encode()


@pytest.mark.parametrize("pipelines", ALL_BUSES, indirect=True)
async def test_each_distinct_message_yields_one_job_even_when_the_relay_publishes_rows_twice(
    pipelines: Pipelines, user_id: str
) -> None:
    pipeline = pipelines.open()
    node = pipeline.container
    keys = await ingest(node, user_id, ["I like tea", "I live in Oslo", "I work at night"])
    keys += await ingest(node, user_id, ["I like tea"], with_ids=False)
    keys += await ingest(node, user_id, ["I like tea"], with_ids=False)  # same key: no new job
    assert len(keys) == 5
    assert len(set(keys)) == 4

    assert await node.relay_outbox()() == 5
    await forget_published(node, user_id)
    assert await node.relay_outbox()() == 5  # every row is on the bus twice now
    assert await drain(node, events=10) >= 10

    assert await jobs_per_key(node, user_id) == dict.fromkeys(keys, 1)
    assert await statuses(node, user_id) == [OutboxStatus.CONSUMED] * 5
    published = await outbox_rows(node, user_id)
    assert await inbox_count(node, [event_id_of(row) for row in published]) == 5
    assert sorted(pipeline.queue.job_ids) == await job_ids(node, user_id)

    await node.publisher().publish(
        [OutgoingEvent(key=row.message_key, value=envelope(row)) for row in published]
    )
    assert await drain(node, events=5) >= 5
    assert await jobs_per_key(node, user_id) == dict.fromkeys(keys, 1)
    assert sorted(pipeline.queue.job_ids) == await job_ids(node, user_id)


@pytest.mark.parametrize("pipelines", ["in_process", "redis"], indirect=True)
async def test_a_consumer_that_dies_between_its_commit_and_its_ack_leaves_one_job_per_message(
    pipelines: Pipelines, user_id: str
) -> None:
    pipeline = pipelines.open()
    keys = await ingest(pipeline.container, user_id, ["I like tea", "I hate noise", "I run"])
    assert await pipeline.container.relay_outbox()() == 3

    doomed = pipeline.member()
    delivered = await doomed.consumer().fetch(max_events=10, timeout=2.0)
    assert len(delivered) == 3
    for event in delivered:
        await doomed.handle_event()(event.value)  # committed, then the process dies: no ack
    assert await jobs_per_key(pipeline.container, user_id) == dict.fromkeys(keys, 1)

    survivor = pipeline.member()
    assert await drain(survivor, events=3) >= 3  # the same group gets them again

    assert await jobs_per_key(survivor, user_id) == dict.fromkeys(keys, 1)
    assert await statuses(survivor, user_id) == [OutboxStatus.CONSUMED] * 3
    assert pipeline.queue.job_ids == []  # the dead consumer never handed its jobs over...
    await survivor.enqueue_due_jobs()(immediately=True)
    # The sweeper did: it wakes the user with her oldest job; each job's end wakes the next.
    ids = await job_ids(survivor, user_id)
    assert set(ids) & set(pipeline.queue.job_ids) == {ids[0]}


@pytest.mark.parametrize("pipelines", ["in_process", "redis"], indirect=True)
async def test_two_relays_and_two_consumers_at_once_make_exactly_one_job_per_message(
    pipelines: Pipelines, user_id: str
) -> None:
    pipeline = pipelines.open(outbox_batch=20)
    members = [pipeline.member(), pipeline.member()]
    node = pipeline.container
    keys: list[str] = []
    done = asyncio.Event()

    async def settled() -> bool:
        rows_ = await statuses(node, user_id)
        return len(rows_) == 200 and all(s is OutboxStatus.CONSUMED for s in rows_)

    async def produce() -> None:
        for batch in range(8):
            texts = [f"I like tea number {batch * 25 + i}" for i in range(25)]
            keys.extend(await ingest(node, user_id, texts, conversation_id=f"conv-{batch}"))
            await asyncio.sleep(0.01)
        await eventually(settled, within=30)
        done.set()

    async def relay(member: Container) -> None:
        while not done.is_set():
            if await member.relay_outbox()() == 0:
                await asyncio.sleep(0.02)

    async def consume(member: Container) -> None:
        while not done.is_set():
            await member.consume_events()(max_events=25, timeout=0.1)

    await asyncio.wait_for(
        asyncio.gather(produce(), *map(relay, members), *map(consume, members)), timeout=40
    )

    assert len(set(keys)) == 200
    assert await jobs_per_key(node, user_id) == dict.fromkeys(keys, 1)
    assert await statuses(node, user_id) == [OutboxStatus.CONSUMED] * 200
    assert sorted(pipeline.queue.job_ids) == await job_ids(node, user_id)


@pytest.mark.parametrize("pipelines", BROKERS, indirect=True)
async def test_messages_are_accepted_while_the_broker_is_down_and_delivered_when_it_returns(
    pipelines: Pipelines, user_id: str
) -> None:
    down = pipelines.open(**pipelines.unreachable())
    body = {
        "conversation_id": "conv-1",
        "messages": [
            {"role": "user", "content": "I like tea", "message_id": "m1"},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "I live in Oslo", "message_id": "m2"},
        ],
    }
    async with api(down) as client:
        response = await client.post(MESSAGES, json=body, headers=headers(user_id))
    assert response.status_code == 202, response.text
    keys = [m["job_key"] for m in response.json()["messages"] if m["extraction"] == "queued"]
    assert len(keys) == 2

    relay = down.container.relay_outbox()
    for _ in (1, 2):
        assert await relay() == 0
        for row in await outbox_rows(down.container, user_id):
            # A bus that is down is waited for, never counted toward dead: the wait is
            # the time waited so far (under a second here), at least half the 1 s base.
            assert (row.status, row.retry_count) == (OutboxStatus.PENDING, 0)
            assert row.next_retry_at is not None
            assert row.updated_at is not None
            wait = row.next_retry_at - row.updated_at
            assert timedelta(seconds=0.5) <= wait <= timedelta(seconds=1), wait
            assert "publish failed" in (row.last_error or "")
        assert await relay() == 0  # not due yet: the rows wait out their backoff
        assert {r.retry_count for r in await outbox_rows(down.container, user_id)} == {0}
        await make_due(down.container, user_id)

    up = pipelines.open()
    assert await up.container.relay_outbox()() == 2
    await consume_until(up.container, lambda: _all_consumed(up, user_id, 2))
    assert await jobs_per_key(up.container, user_id) == dict.fromkeys(keys, 1)
    assert sorted(up.queue.job_ids) == await job_ids(up.container, user_id)


async def _all_consumed(pipeline: Pipeline, user_id: str, count: int) -> bool:
    return await statuses(pipeline.container, user_id) == [OutboxStatus.CONSUMED] * count


@pytest.mark.parametrize("pipelines", ALL_BUSES, indirect=True)
async def test_poison_events_are_kept_as_dead_events_while_the_others_flow(
    pipelines: Pipelines, user_id: str
) -> None:
    pipeline = pipelines.open()
    node = pipeline.container
    keys = await ingest(node, user_id, ["I like tea", "I live in Oslo"])
    external_id = unique("ext")
    external_key = unique("memory_extract_ext")
    external = extract_event(event_id=external_id, user_id=user_id, idempotency_key=external_key)
    poison = {
        "not JSON": b"{not json",
        "event_type": json.dumps({"event_id": unique("e"), "payload": {}}).encode(),
        "user_id": extract_event(event_id=unique("e"), user_id=""),
        "source_text": extract_event(event_id=unique("e"), source_text="   "),
        "unknown event type 'memory.vanished'": json.dumps(
            {"event_id": unique("e"), "event_type": "memory.vanished", "payload": {}}
        ).encode(),
    }
    billing = extract_event(event_id=unique("bill"), service="billing", user_id=user_id)
    on_the_wire = [*poison.values(), billing, external, external]

    await node.publisher().publish([OutgoingEvent(key="k", value=v) for v in on_the_wire])
    assert await node.relay_outbox()() == 2
    assert await drain(node, events=len(on_the_wire) + 2) >= len(on_the_wire) + 2

    dead = await dead_events_of(node, pipelines.topic)
    assert [row["raw_payload"].encode() for row in dead] == list(poison.values())
    for problem, row in zip(poison, dead, strict=True):
        assert problem in row["reason"], row["reason"]
    assert await jobs_per_key(node, user_id) == dict.fromkeys([*keys, external_key], 1)
    stmt = select(jobs.c.source_event_id).where(jobs.c.idempotency_key == external_key)
    assert [row["source_event_id"] for row in await rows(node, stmt)] == [external_id]
    assert await statuses(node, user_id) == [OutboxStatus.CONSUMED] * 2

    await asyncio.sleep(REDELIVERY_S + 0.1)  # nothing comes back: every event was acked
    assert await node.consume_events()(max_events=100, timeout=0.3) == 0
    assert len(await dead_events_of(node, pipelines.topic)) == len(poison)


@pytest.mark.parametrize("pipelines", ["in_process"], indirect=True)
async def test_an_external_event_reusing_one_of_our_outbox_ids_leaves_our_row_alone(
    pipelines: Pipelines, user_id: str
) -> None:
    pipeline = pipelines.open()
    node = pipeline.container
    await ingest(node, user_id, ["I like tea"])
    ours = (await outbox_rows(node, user_id))[0]
    stranger = json.loads(extract_event(event_id=unique("ext"), user_id=unique("someone")))
    stranger["outbox_id"] = ours.id

    await node.publisher().publish([OutgoingEvent(key="k", value=json.dumps(stranger).encode())])
    assert await drain(node, events=1) == 1

    assert await statuses(node, user_id) == [OutboxStatus.PENDING]
    assert await node.relay_outbox()() == 1
    await consume_until(node, lambda: _all_consumed(pipeline, user_id, 1))


@pytest.mark.parametrize("pipelines", ["redis"], indirect=True)
async def test_an_outbox_row_down_past_the_retry_horizon_ends_dead_and_an_admin_retry_delivers_it(
    pipelines: Pipelines, user_id: str
) -> None:
    # The horizon is compressed to 1 ms: the first failed publish is already past it.
    down = pipelines.open(outbox_retry_horizon_s=0.001, **pipelines.unreachable())
    keys = await ingest(down.container, user_id, ["I like tea"])
    assert await down.container.relay_outbox()() == 0
    [row] = await outbox_rows(down.container, user_id)
    assert (row.status, row.retry_count, row.next_retry_at) == (OutboxStatus.DEAD, 0, None)
    assert "retry horizon" in (row.last_error or "")
    assert "publish failed" in (row.last_error or "")

    operator = unique("operator")
    retry = f"/api/v1/admin/outbox/{row.id}/retry"
    async with api(down) as client:
        listed = await client.get(
            "/api/v1/admin/outbox?status=dead&limit=100", headers=headers(operator, admin=True)
        )
        refused = await client.post(retry, headers=headers(user_id))
        response = await client.post(
            retry, json={"reason": "broker is back"}, headers=headers(operator, admin=True)
        )
    assert row.id in [item["id"] for item in listed.json()["items"]]
    assert refused.status_code == 403
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["retry_count"]) == ("pending", 0)
    stmt = select(audit).where(audit.c.target_type == "outbox", audit.c.target_id == str(row.id))
    [entry] = await rows(down.container, stmt)
    assert (entry["operation"], entry["operator_id"], entry["reason"]) == (
        "retry",
        operator,
        "broker is back",
    )

    up = pipelines.open()
    assert await up.container.relay_outbox()() == 1
    await consume_until(up.container, lambda: _all_consumed(up, user_id, 1))
    assert await jobs_per_key(up.container, user_id) == dict.fromkeys(keys, 1)


@pytest.mark.parametrize("pipelines", ["redis"], indirect=True)
async def test_dead_events_are_shown_to_admins_and_refused_to_other_users(
    pipelines: Pipelines, user_id: str
) -> None:
    pipeline = pipelines.open()
    marker = uuid.uuid4().hex
    await pipeline.container.publisher().publish(
        [OutgoingEvent(key="k", value=f"poison {marker}".encode())]
    )
    assert await drain(pipeline.container, events=1) == 1

    async with api(pipeline) as client:
        shown = await client.get(
            "/api/v1/admin/dead-events?limit=100", headers=headers(unique("op"), admin=True)
        )
        refused = await client.get("/api/v1/admin/dead-events", headers=headers(user_id))
    assert shown.status_code == 200, shown.text
    [event] = [e for e in shown.json()["items"] if marker in e["raw_payload"]]
    assert event["topic"] == pipelines.topic
    assert "not JSON" in event["reason"]
    assert refused.status_code == 403


@pytest.mark.parametrize("pipelines", ["in_process"], indirect=True)
async def test_events_that_died_with_the_in_process_bus_are_published_again_after_a_restart(
    pipelines: Pipelines, user_id: str
) -> None:
    before = pipelines.open()
    keys = await ingest(before.container, user_id, ["I like tea", "I live in Oslo"])
    assert await before.container.relay_outbox()() == 2
    await before.close()  # the process stops before its consumer took the events

    after = pipelines.open()  # a new process, with a new and empty bus
    assert await after.container.relay_outbox()() == 0  # a published row is given time...
    after.infra.clock.override(providers.Object(LaterClock(timedelta(hours=1))))
    assert await after.container.relay_outbox()() == 2  # ...but not forever
    await consume_until(after.container, lambda: _all_consumed(after, user_id, 2))
    assert await jobs_per_key(after.container, user_id) == dict.fromkeys(keys, 1)


@pytest.mark.parametrize("pipelines", ["in_process"], indirect=True)
async def test_a_row_sent_again_after_its_event_was_handled_ends_consumed(
    pipelines: Pipelines, user_id: str
) -> None:
    pipeline = pipelines.open()
    node = pipeline.container
    keys = await ingest(node, user_id, ["I like tea"])
    assert await node.relay_outbox()() == 1
    [row] = await outbox_rows(node, user_id)
    # The broker took the event, but the relay saw only errors until its last retry.
    await execute(node, update(outbox).where(outbox.c.id == row.id).values(status="dead"))
    assert await drain(node, events=1) == 1
    assert await jobs_per_key(node, user_id) == dict.fromkeys(keys, 1)

    await node.retry_outbox()(row.id or 0, operator=unique("op"), reason=None)
    assert await node.relay_outbox()() == 1
    assert await drain(node, events=1) == 1

    assert await statuses(node, user_id) == [OutboxStatus.CONSUMED]
    assert await jobs_per_key(node, user_id) == dict.fromkeys(keys, 1)


async def refused_row(node: Container, user_id: str) -> OutboxMessage:
    """The user's one outbox row, rewritten with a blank conversation id (which the
    consumer refuses)."""
    [row] = await outbox_rows(node, user_id)
    wrapped = json.loads(row.payload)
    wrapped["payload"]["conversation_id"] = " "
    await execute(
        node, update(outbox).where(outbox.c.id == row.id).values(payload=json.dumps(wrapped))
    )
    return row


@pytest.mark.parametrize("pipelines", ["in_process"], indirect=True)
async def test_our_own_event_refused_by_the_consumer_ends_its_outbox_row_dead(
    pipelines: Pipelines, user_id: str
) -> None:
    pipeline = pipelines.open()
    node = pipeline.container
    await ingest(node, user_id, ["I like tea"])
    # A row our own code wrote but the consumer cannot handle (older code let a blank
    # conversation id through): it must not be published again and again.
    row = await refused_row(node, user_id)
    assert await node.relay_outbox()() == 1
    assert await drain(node, events=1) == 1

    [dead_row] = await outbox_rows(node, user_id)
    assert dead_row.status is OutboxStatus.DEAD
    assert "conversation_id" in str(dead_row.last_error)
    [dead] = await dead_events_of(node, pipelines.topic)
    assert dead["event_id"] == event_id_of(row)
    await forget_published(node, user_id)
    assert await node.relay_outbox()() == 0


@pytest.mark.parametrize("pipelines", ["in_process"], indirect=True)
async def test_two_copies_of_one_refused_event_leave_one_dead_event(
    pipelines: Pipelines, user_id: str
) -> None:
    """The relay sent the row twice (it died before marking it published the first time):
    the consumer refuses both copies, and the row is dead-lettered once, not twice."""
    pipeline = pipelines.open()
    node = pipeline.container
    await ingest(node, user_id, ["I like tea"])
    row = await refused_row(node, user_id)
    assert await node.relay_outbox()() == 1
    await forget_published(node, user_id)
    assert await node.relay_outbox()() == 1
    assert await drain(node, events=2) == 2

    [dead_row] = await outbox_rows(node, user_id)
    assert dead_row.status is OutboxStatus.DEAD
    [dead] = await dead_events_of(node, pipelines.topic)
    assert dead["event_id"] == event_id_of(row)
