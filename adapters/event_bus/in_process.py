"""In-process event bus for the embedded single-process default.

One :class:`InProcessBus` holds, per topic, an append-only log of events and the state
of every consumer group; the publishers and consumers it makes share that state.

Contract (the :mod:`application.ports.event_bus` contract, made concrete):

- A new group starts at the oldest event still held (like Kafka's ``earliest``).
- Delivery is at-least-once. A fetched event is leased to the consumer that fetched it;
  if it is not acknowledged within ``redelivery_after`` seconds, or that consumer is
  closed first, it goes back to the group and is delivered again, its ``deliveries``
  counted per group until it is acknowledged.
- Same-key order: events are handed out in publish order, and an event is held back
  while an earlier event with the same key is leased to another member of the group.
- An event acknowledged by the group is never delivered to it again; events every
  existing group has acknowledged are dropped from memory (with no group yet, every
  event is kept, so a consumer that starts after the publisher misses nothing).
- Nothing is persisted: the events die with the process (the outbox re-sends them).

All state sits behind one :class:`threading.Lock` and no ``await`` happens while it is
held, so publishers and consumers may live on different event loops or threads. A
consumer waiting in ``fetch`` sleeps on a future that publishing, acknowledging,
closing or a lease expiry wakes; it never polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import structlog

from memvault.application.ports.event_bus import (
    EventBusError,
    EventConsumer,
    EventPublisher,
    OutgoingEvent,
    ReceivedEvent,
)

_log = structlog.get_logger(__name__)

_TRIM_THRESHOLD = 1024
"""Dropped events are compacted away only in chunks at least this large."""


@dataclass(frozen=True, slots=True)
class _Record:
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class _Lease:
    consumer_id: int
    key: str
    deadline: float


@dataclass(slots=True)
class _Group:
    cursor: int
    """Offset of the first event never handed to this group."""
    backlog: set[int] = field(default_factory=set)
    """Offsets below ``cursor`` waiting for (re)delivery."""
    leases: dict[int, _Lease] = field(default_factory=dict)
    """Offsets delivered and not yet acknowledged."""
    deliveries: dict[int, int] = field(default_factory=dict)
    """How often each unacknowledged offset has been handed out."""

    def low_watermark(self) -> int:
        return min((self.cursor, *self.backlog, *self.leases))


@dataclass(slots=True)
class _Topic:
    base: int = 0
    """Offset of ``records[0]``."""
    records: list[_Record] = field(default_factory=list)
    groups: dict[str, _Group] = field(default_factory=dict)
    waiters: set[asyncio.Future[None]] = field(default_factory=set)

    @property
    def end(self) -> int:
        return self.base + len(self.records)

    def record(self, offset: int) -> _Record:
        return self.records[offset - self.base]

    def trim(self) -> None:
        """Forget the events every group has acknowledged."""
        if not self.groups:
            return
        droppable = min(group.low_watermark() for group in self.groups.values()) - self.base
        if droppable >= _TRIM_THRESHOLD and droppable * 2 >= len(self.records):
            del self.records[:droppable]
            self.base += droppable


@dataclass(frozen=True, slots=True)
class _Take:
    events: list[ReceivedEvent]
    waiter: asyncio.Future[None] | None
    next_expiry: float | None


class InProcessBus:
    """The shared state behind in-process publishers and consumers (see module doc)."""

    def __init__(self, *, redelivery_after: float = 30.0) -> None:
        if redelivery_after <= 0:
            raise ValueError("redelivery_after must be positive")
        self._redelivery_after = redelivery_after
        self._lock = threading.Lock()
        self._topics: dict[str, _Topic] = {}
        self._consumer_ids = itertools.count(1)

    def publisher(self, topic: str) -> InProcessPublisher:
        return InProcessPublisher(self, topic)

    def consumer(self, topic: str, *, group: str) -> InProcessConsumer:
        """A new member of ``group``; the group is created at the oldest held event."""
        with self._lock:
            state = self._topic(topic)
            state.groups.setdefault(group, _Group(cursor=state.base))
        return InProcessConsumer(self, topic, group, next(self._consumer_ids))

    def _topic(self, name: str) -> _Topic:
        return self._topics.setdefault(name, _Topic())

    def _append(self, topic: str, events: Sequence[OutgoingEvent]) -> None:
        with self._lock:
            state = self._topic(topic)
            state.records.extend(_Record(event.key, event.value) for event in events)
            waiters = self._detach_waiters(state)
        _wake(waiters)

    def _take(self, topic: str, group: str, consumer_id: int, max_events: int) -> _Take:
        """Lease up to ``max_events`` events, or register a waiter when there are none."""
        now = time.monotonic()
        with self._lock:
            state = self._topic(topic)
            members = state.groups[group]
            _expire(members, now)
            events = _lease(state, members, consumer_id, max_events, now + self._redelivery_after)
            waiter = None if events else asyncio.get_running_loop().create_future()
            if waiter is not None:
                state.waiters.add(waiter)
            deadlines = [lease.deadline for lease in members.leases.values()]
        return _Take(events, waiter, min(deadlines, default=None))

    def _forget_waiter(self, topic: str, waiter: asyncio.Future[None]) -> None:
        with self._lock:
            self._topic(topic).waiters.discard(waiter)

    def _ack(self, topic: str, group: str, offsets: Iterable[int]) -> None:
        with self._lock:
            state = self._topic(topic)
            members = state.groups[group]
            for offset in offsets:
                members.leases.pop(offset, None)
                members.backlog.discard(offset)
                members.deliveries.pop(offset, None)
            state.trim()
            waiters = self._detach_waiters(state)
        _wake(waiters)

    def _release(self, topic: str, group: str, consumer_id: int) -> int:
        """Give the leases of a closing consumer back to its group; return how many."""
        with self._lock:
            state = self._topic(topic)
            members = state.groups[group]
            leases = members.leases
            released = [o for o, lease in leases.items() if lease.consumer_id == consumer_id]
            for offset in released:
                del members.leases[offset]
                members.backlog.add(offset)
            waiters = self._detach_waiters(state)
        _wake(waiters)
        return len(released)

    @staticmethod
    def _detach_waiters(state: _Topic) -> list[asyncio.Future[None]]:
        waiters = list(state.waiters)
        state.waiters.clear()
        return waiters


def _expire(group: _Group, now: float) -> None:
    expired = [offset for offset, lease in group.leases.items() if lease.deadline <= now]
    for offset in expired:
        del group.leases[offset]
        group.backlog.add(offset)


def _candidates(state: _Topic, group: _Group) -> Iterator[int]:
    """Offsets the group may receive next, oldest first."""
    yield from sorted(group.backlog)
    offset = group.cursor
    while offset < state.end:
        group.cursor = offset + 1
        group.backlog.add(offset)
        yield offset
        offset += 1


def _lease(
    state: _Topic, group: _Group, consumer_id: int, max_events: int, deadline: float
) -> list[ReceivedEvent]:
    held_by_others = {
        lease.key for lease in group.leases.values() if lease.consumer_id != consumer_id
    }
    events: list[ReceivedEvent] = []
    for offset in _candidates(state, group):
        record = state.record(offset)
        if record.key in held_by_others:
            continue
        group.backlog.discard(offset)
        group.leases[offset] = _Lease(consumer_id, record.key, deadline)
        deliveries = group.deliveries[offset] = group.deliveries.get(offset, 0) + 1
        events.append(
            ReceivedEvent(
                key=record.key, value=record.value, receipt=str(offset), deliveries=deliveries
            )
        )
        if len(events) >= max_events:
            break
    return events


def _wake(waiters: Iterable[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        # A waiter whose loop has already closed has nobody left to wake.
        with contextlib.suppress(RuntimeError):
            waiter.get_loop().call_soon_threadsafe(_resolve, waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class InProcessPublisher(EventPublisher):
    """Appends events to a topic of an :class:`InProcessBus`; accepted once returned."""

    def __init__(self, bus: InProcessBus, topic: str) -> None:
        self._bus = bus
        self._topic = topic
        self._closed = False

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if self._closed:
            raise EventBusError("in-process publisher is closed")
        if events:
            self._bus._append(self._topic, events)

    async def close(self) -> None:
        self._closed = True


class InProcessConsumer(EventConsumer):
    """One member of a consumer group of an :class:`InProcessBus` (see module doc).

    The receipt of an event is its offset in the topic. Closing the consumer hands its
    unacknowledged events back to the group at once.
    """

    def __init__(self, bus: InProcessBus, topic: str, group: str, consumer_id: int) -> None:
        self._bus = bus
        self._topic = topic
        self._group = group
        self._id = consumer_id
        self._closed = False

    async def fetch(self, *, max_events: int, timeout: float) -> list[ReceivedEvent]:
        self._ensure_open()
        give_up = time.monotonic() + max(timeout, 0.0)
        while True:
            take = self._bus._take(self._topic, self._group, self._id, max(max_events, 1))
            if take.waiter is None:
                return take.events
            try:
                now = time.monotonic()
                wake_at = give_up if take.next_expiry is None else min(give_up, take.next_expiry)
                if now >= give_up:
                    return []
                await asyncio.wait({take.waiter}, timeout=max(wake_at - now, 0.0))
            finally:
                self._bus._forget_waiter(self._topic, take.waiter)
            self._ensure_open()

    async def ack(self, events: Sequence[ReceivedEvent]) -> None:
        self._ensure_open()
        try:
            offsets = [int(event.receipt) for event in events]
        except ValueError as exc:
            raise EventBusError("receipt was not issued by the in-process bus") from exc
        if offsets:
            self._bus._ack(self._topic, self._group, offsets)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        released = self._bus._release(self._topic, self._group, self._id)
        if released:
            _log.info(
                "event_bus.consumer_closed_with_unacked_events",
                topic=self._topic,
                group=self._group,
                released=released,
            )

    def _ensure_open(self) -> None:
        if self._closed:
            raise EventBusError("in-process consumer is closed")
