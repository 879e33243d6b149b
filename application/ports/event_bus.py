"""The event bus port: keyed messages between memvault processes (and other producers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class EventBusError(Exception):
    """The broker is unreachable or refused the operation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingEvent:
    key: str
    """Partition / ordering key (the conversation id for memory events)."""
    value: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedEvent:
    key: str | None
    value: bytes
    receipt: str
    """Opaque handle the consumer needs to acknowledge this delivery."""
    deliveries: int = 1
    """How many times the group has been handed this event, this delivery included
    (at least 1). The consumer dead-letters an event that keeps failing once this
    reaches its limit (docs/behaviour.md, "The consumer")."""


class EventPublisher(Protocol):
    """Publishes events to the configured topic.

    Contract: ``publish`` returns only after the broker has accepted every event, and
    raises :class:`EventBusError` otherwise (the caller retries; duplicates are allowed,
    losses are not). Events with the same key are delivered in publish order.
    """

    async def publish(self, events: Sequence[OutgoingEvent]) -> None: ...

    async def close(self) -> None: ...


class EventConsumer(Protocol):
    """Receives events as a member of a consumer group (at-least-once).

    Contract:
    - ``fetch`` waits up to ``timeout`` seconds and returns at most ``max_events``.
    - An acknowledged event is not delivered to the group again, except that a log-based
      broker (Kafka) may repeat acknowledged events that follow an unacknowledged one
      in the same partition after a restart or rebalance. Handlers deduplicate by event
      id (the consumer's inbox), so a repeat is harmless; a loss never happens.
    - An event fetched but never acknowledged (its handling failed, or the consumer
      died) is delivered again to a member of the same group, after the adapter's
      redelivery delay, with ``deliveries`` one higher. Redis Streams reads the count
      from the group's pending entries list; the in-process bus and Kafka, whose broker
      keeps none, count in memory (on Kafka the count starts again when a partition
      moves to another member or the process restarts).
    - Members of one group share the events; each event goes to one member at a time.
    """

    async def fetch(self, *, max_events: int, timeout: float) -> list[ReceivedEvent]: ...

    async def ack(self, events: Sequence[ReceivedEvent]) -> None: ...

    async def close(self) -> None: ...
