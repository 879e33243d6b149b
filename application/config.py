"""Tunables of the pipeline, chosen in configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from memvault.application.ports.retention import Purgeable
from memvault.domain.facts import DEFAULT_MIN_CONFIDENCE
from memvault.domain.jobs import DEFAULT_MAX_RETRY
from memvault.domain.outbox import DEFAULT_OUTBOX_MAX_RETRY
from memvault.domain.retry import ExponentialBackoff, QuadraticBackoff, TransientBackoff


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPolicy:
    max_retry: int = DEFAULT_MAX_RETRY
    backoff: ExponentialBackoff = field(default_factory=ExponentialBackoff)
    transient: TransientBackoff = field(default_factory=TransientBackoff)
    """Waits after a dependency failure (LLM or embedder down): never counted as attempts."""
    lease: timedelta = timedelta(seconds=60)
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    sweep_batch: int = 200
    requeue_grace: timedelta = timedelta(seconds=10)
    """A due job whose message was sent this long ago and that is still waiting counts
    as lost: the sweeper wakes its user again (counted from the last enqueue)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxPolicy:
    topic: str = "memvault.memory.events"
    max_retry: int = DEFAULT_OUTBOX_MAX_RETRY
    backoff: QuadraticBackoff = field(default_factory=QuadraticBackoff)
    transient: TransientBackoff = field(default_factory=lambda: TransientBackoff(cap_seconds=100.0))
    """Waits after a failed publish (the bus is down): never counted as attempts."""
    batch: int = 100
    claim_lease: timedelta = timedelta(seconds=30)
    """A row a relay claimed but never marked is offered again after this long."""
    republish_after: timedelta = timedelta(minutes=5)
    """A published row no consumer has marked consumed by then is published again: its
    event may have died with an in-process bus or been trimmed from a stream."""


DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPolicy:
    """How old each kind of row must be before the purge deletes it (docs/behaviour.md,
    "Retention"), and how many rows one delete takes."""

    ages: dict[Purgeable, timedelta] = field(
        default_factory=lambda: {
            Purgeable.IDEMPOTENCY_KEYS: timedelta(hours=1),
            Purgeable.INBOX: 7 * DAY,
            Purgeable.CONSUMED_OUTBOX: 7 * DAY,
            Purgeable.DEAD_EVENTS: 30 * DAY,
            Purgeable.CHAT_MESSAGES: 30 * DAY,
        }
    )
    batch: int = 500
    """Rows per delete: each batch is its own short transaction (SQLite's write lock
    is held for one batch at a time)."""
