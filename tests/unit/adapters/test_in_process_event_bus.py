"""Behaviour of the in-process bus beyond the shared event bus contract."""

from __future__ import annotations

import asyncio

from memvault.adapters.event_bus.in_process import InProcessBus
from memvault.application.ports.event_bus import OutgoingEvent


async def test_an_event_waits_while_an_earlier_one_with_its_key_is_with_another_member() -> None:
    bus = InProcessBus(redelivery_after=30.0)
    await bus.publisher("t").publish(
        [
            OutgoingEvent(key="a", value=b"a1"),
            OutgoingEvent(key="a", value=b"a2"),
            OutgoingEvent(key="b", value=b"b1"),
        ]
    )
    first, second = bus.consumer("t", group="g"), bus.consumer("t", group="g")

    held = await first.fetch(max_events=1, timeout=0.0)
    others = await second.fetch(max_events=10, timeout=0.0)
    await first.ack(held)
    after_ack = await second.fetch(max_events=10, timeout=0.0)

    assert [e.value for e in held] == [b"a1"]
    assert [e.value for e in others] == [b"b1"]
    assert [e.value for e in after_ack] == [b"a2"]


async def test_a_waiting_fetch_wakes_as_soon_as_an_event_is_published() -> None:
    bus = InProcessBus()
    consumer = bus.consumer("t", group="g")
    waiting = asyncio.create_task(consumer.fetch(max_events=1, timeout=5.0))
    await asyncio.sleep(0.05)

    await bus.publisher("t").publish([OutgoingEvent(key="k", value=b"v")])

    received = await asyncio.wait_for(waiting, timeout=0.5)
    assert [e.value for e in received] == [b"v"]


async def test_events_every_group_acknowledged_are_forgotten_and_offsets_stay_right() -> None:
    bus = InProcessBus()
    publisher = bus.publisher("t")
    consumer = bus.consumer("t", group="g")
    await publisher.publish([OutgoingEvent(key="k", value=b"%d" % i) for i in range(3000)])
    await consumer.ack(await consumer.fetch(max_events=3000, timeout=0.0))

    await publisher.publish([OutgoingEvent(key="k", value=b"next")])
    late_group = bus.consumer("t", group="late")

    assert [e.value for e in await consumer.fetch(max_events=10, timeout=0.0)] == [b"next"]
    assert [e.value for e in await late_group.fetch(max_events=5000, timeout=0.0)] == [b"next"]
