"""Event bus on Redis Streams (``redis.asyncio``).

One stream carries the topic. Each event is one entry with the fields ``key`` and
``value``; entries published by other producers without a ``key`` field arrive with
``key=None``.

Contract (the :mod:`application.ports.event_bus` contract, made concrete):

- ``publish`` pipelines one ``XADD`` per event, in order, with ``MAXLEN ~ maxlen``
  trimming (``maxlen=None`` keeps everything). It returns once Redis has stored every
  entry; any Redis error or a stall longer than ``timeout`` raises
  :class:`EventBusError` (some entries may then be stored: retrying duplicates them,
  which the contract allows).
- A consumer group is created on first use (``XGROUP CREATE ... 0 MKSTREAM``, an
  existing group is kept), so a group starts at the oldest entry still in the stream;
  a group deleted under a running member is created again the same way.
- ``fetch`` first reclaims, with ``XAUTOCLAIM``, entries another member (or this one)
  left unacknowledged for ``min_idle`` seconds, then reads new entries with
  ``XREADGROUP ... BLOCK``. The receipt of an event is its stream entry id; ``ack`` is
  ``XACK``. A reclaimed event's ``deliveries`` is the delivery count Redis keeps in
  the group's pending entries list (read with ``XPENDING``); a new one's is 1.
- ``close`` hands this member's unacknowledged entries back to the group at once (it
  marks them idle, so the next ``XAUTOCLAIM`` of any member takes them) and removes
  the member from the group when it holds nothing.
- Entries come out in stream order, so events with the same key are delivered in
  publish order. Streams have no partitions: two members of a group may work on
  events with the same key at the same time.

The Redis client is passed in and stays open unless ``owns_client`` is set; it must
be made with ``decode_responses=False``. Blocking reads last at most ``max_block``
seconds each, which must stay below the client's ``socket_timeout``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT, FieldT, StreamIdT

from memvault.application.ports.event_bus import (
    EventBusError,
    EventConsumer,
    EventPublisher,
    OutgoingEvent,
    ReceivedEvent,
)

_log = structlog.get_logger(__name__)

_KEY = b"key"
_VALUE = b"value"
_RELEASED_IDLE_MS = 365 * 24 * 3600 * 1000
"""Idle time given to the entries of a closing member, beyond any member's ``min_idle``."""
_PAGE = 1000

_T = TypeVar("_T")


def default_consumer_name() -> str:
    """A member name unique to this process and object: ``host-pid-random``."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def _guard(operation: Awaitable[_T], *, what: str, stream: str, limit: float) -> _T:
    """Await a Redis call, turning its failures and stalls into :class:`EventBusError`."""
    try:
        async with asyncio.timeout(limit):
            return await operation
    except TimeoutError as exc:
        raise EventBusError(f"Redis did not answer {what} on {stream!r} in {limit}s") from exc
    except RedisError as exc:
        raise EventBusError(f"Redis failed {what} on {stream!r}: {exc}") from exc


class RedisStreamsPublisher(EventPublisher):
    """Appends events to a Redis stream (see module doc)."""

    def __init__(
        self,
        client: Redis,
        *,
        stream: str,
        maxlen: int | None = 1_000_000,
        timeout: float = 10.0,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._stream = stream
        self._maxlen = maxlen
        self._timeout = timeout
        self._owns_client = owns_client

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if not events:
            return
        await _guard(self._xadd(events), what="XADD", stream=self._stream, limit=self._timeout)

    async def _xadd(self, events: Sequence[OutgoingEvent]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for event in events:
                fields: dict[FieldT, EncodableT] = {_KEY: event.key.encode(), _VALUE: event.value}
                pipe.xadd(self._stream, fields, maxlen=self._maxlen, approximate=True)
            await pipe.execute()

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class RedisStreamsConsumer(EventConsumer):
    """One member of a Redis Streams consumer group (see module doc)."""

    def __init__(
        self,
        client: Redis,
        *,
        stream: str,
        group: str,
        consumer_name: str | None = None,
        min_idle: float = 60.0,
        max_block: float = 1.0,
        timeout: float = 10.0,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._stream = stream
        self._group = group
        self._name = consumer_name or default_consumer_name()
        self._min_idle_ms = max(int(min_idle * 1000), 1)
        self._max_block = max_block
        self._timeout = timeout
        self._owns_client = owns_client
        self._claim_cursor = "0-0"
        self._started = False
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        """Create the stream and the group when missing; idempotent."""
        try:
            await self._call(
                self._client.xgroup_create(self._stream, self._group, id="0", mkstream=True),
                "XGROUP CREATE",
            )
        except EventBusError as exc:
            if not _is_reply(exc, "BUSYGROUP"):
                raise
        self._started = True

    async def fetch(self, *, max_events: int, timeout: float) -> list[ReceivedEvent]:
        if self._closed:
            raise EventBusError("Redis Streams consumer is closed")
        if not self._started:
            await self.start()
        count = max(max_events, 1)
        give_up = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                events = await self._reclaim(count)
                if not events:
                    block = min(give_up - time.monotonic(), self._max_block)
                    events = await self._read_new(count, block)
            except EventBusError as exc:
                if not _is_reply(exc, "NOGROUP"):
                    raise
                _log.warning(
                    "event_bus.redis_group_recreated", stream=self._stream, group=self._group
                )
                await self.start()
                continue
            if events or time.monotonic() >= give_up:
                return events

    async def ack(self, events: Sequence[ReceivedEvent]) -> None:
        if events:
            ids = [event.receipt for event in events]
            await self._call(self._client.xack(self._stream, self._group, *ids), "XACK")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._started:
                await self._leave_group()
        finally:
            if self._owns_client:
                await self._client.aclose()

    async def _reclaim(self, count: int) -> list[ReceivedEvent]:
        reply = await self._call(
            self._client.xautoclaim(
                self._stream,
                self._group,
                self._name,
                self._min_idle_ms,
                start_id=self._claim_cursor,
                count=count,
            ),
            "XAUTOCLAIM",
        )
        self._claim_cursor = _text(reply[0])
        events = await self._with_delivery_counts(_events(reply[1]))
        if events:
            _log.info(
                "event_bus.redis_reclaimed",
                stream=self._stream,
                group=self._group,
                consumer=self._name,
                count=len(events),
            )
        return events

    async def _with_delivery_counts(self, events: list[ReceivedEvent]) -> list[ReceivedEvent]:
        """The events with the delivery counts of the pending entries list (XAUTOCLAIM
        has just counted this delivery there)."""
        if not events:
            return events
        pending: Any = await self._call(
            self._client.xpending_range(
                self._stream,
                self._group,
                events[0].receipt,
                events[-1].receipt,
                _PAGE,
                consumername=self._name,
            ),
            "XPENDING",
        )
        counts = {_text(entry["message_id"]): int(entry["times_delivered"]) for entry in pending}
        # An entry missing from the list was acknowledged meanwhile: it was delivered
        # at least twice, since it is being reclaimed.
        return [replace(event, deliveries=counts.get(event.receipt, 2)) for event in events]

    async def _read_new(self, count: int, block: float) -> list[ReceivedEvent]:
        # BLOCK 0 would mean "forever": below a millisecond, do not block at all.
        block_ms = int(block * 1000)
        reply: Any = await self._call(
            self._client.xreadgroup(
                self._group,
                self._name,
                {self._stream: ">"},
                count=count,
                block=block_ms if block_ms > 0 else None,
            ),
            "XREADGROUP",
            extra=max(block, 0.0),
        )
        if not reply:
            return []
        entries = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]
        return _events(entries)

    async def _leave_group(self) -> None:
        released = 0
        after = "-"
        while ids := await self._pending_ids(after):
            claimed: list[StreamIdT] = list(ids)
            await self._call(
                self._client.xclaim(
                    self._stream,
                    self._group,
                    self._name,
                    0,
                    claimed,
                    idle=_RELEASED_IDLE_MS,
                    justid=True,
                ),
                "XCLAIM",
            )
            released += len(ids)
            after = f"({ids[-1]}"
        if released:
            _log.info(
                "event_bus.consumer_closed_with_unacked_events",
                stream=self._stream,
                group=self._group,
                consumer=self._name,
                released=released,
            )
            return
        await self._call(
            self._client.xgroup_delconsumer(self._stream, self._group, self._name),
            "XGROUP DELCONSUMER",
        )

    async def _pending_ids(self, after: str) -> list[str]:
        pending: Any = await self._call(
            self._client.xpending_range(
                self._stream, self._group, after, "+", _PAGE, consumername=self._name
            ),
            "XPENDING",
        )
        return [_text(entry["message_id"]) for entry in pending]

    async def _call(self, operation: Awaitable[_T], what: str, *, extra: float = 0.0) -> _T:
        limit = self._timeout + extra
        return await _guard(operation, what=what, stream=self._stream, limit=limit)


def _events(entries: Sequence[Any]) -> list[ReceivedEvent]:
    """Decode ``[(id, fields), ...]``; entries deleted by trimming come as ``None``."""
    events = []
    for entry_id, fields in entries:
        if fields is None:
            continue
        key = _field(fields, _KEY)
        events.append(
            ReceivedEvent(
                key=None if key is None else key.decode("utf-8", errors="replace"),
                value=_field(fields, _VALUE) or b"",
                receipt=_text(entry_id),
            )
        )
    return events


def _field(fields: Mapping[Any, Any], name: bytes) -> bytes | None:
    value = fields.get(name, fields.get(name.decode()))
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _is_reply(exc: EventBusError, code: str) -> bool:
    """Whether Redis refused the call with the error reply ``code`` (``BUSYGROUP``...)."""
    cause = exc.__cause__
    return isinstance(cause, ResponseError) and str(cause).startswith(code)
