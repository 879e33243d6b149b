"""Outbox rows (docs/behaviour.md, "Ingestion and the outbox"): events written in the
business transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from memvault.domain.errors import InvalidTransition
from memvault.domain.retry import QuadraticBackoff, TransientBackoff
from memvault.domain.text import truncate_utf8

DEFAULT_OUTBOX_MAX_RETRY = 20
MAX_ERROR_BYTES = 2000


class OutboxStatus(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    CONSUMED = "consumed"
    DEAD = "dead"


class EventType(StrEnum):
    MEMORY_EXTRACT_REQUESTED = "memory.extract.requested"
    AGENT_STATE_SNAPSHOT_PERSIST = "agent.state.snapshot.persist"


@dataclass(slots=True, kw_only=True)
class OutboxMessage:
    """One event waiting to be published. ``payload`` is the JSON event wrapper."""

    id: int | None = None
    event_type: str
    service_name: str = "memory"
    topic: str
    message_key: str
    payload: str
    user_id: str | None = None
    status: OutboxStatus = OutboxStatus.PENDING
    retry_count: int = 0
    max_retry: int = DEFAULT_OUTBOX_MAX_RETRY
    next_retry_at: datetime | None = None
    last_error: str | None = None
    published_at: datetime | None = None
    consumed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def fail(self, reason: str, *, now: datetime, backoff: QuadraticBackoff) -> None:
        """Back to ``pending`` with n² backoff, or ``dead`` once ``max_retry`` is reached."""
        if self.status in (OutboxStatus.CONSUMED, OutboxStatus.DEAD):
            return
        attempt = self.retry_count + 1
        self.retry_count = attempt
        self.last_error = truncate_utf8(reason, MAX_ERROR_BYTES)
        self.updated_at = now
        if attempt >= (self.max_retry if self.max_retry > 0 else DEFAULT_OUTBOX_MAX_RETRY):
            self.status = OutboxStatus.DEAD
            self.next_retry_at = None
        else:
            self.status = OutboxStatus.PENDING
            self.next_retry_at = now + backoff.delay(attempt)

    def defer(
        self, reason: str, *, now: datetime, backoff: TransientBackoff, jitter: float
    ) -> None:
        """The bus was down: ``pending`` again after a capped, jittered wait, without
        counting toward ``max_retry``; ``dead`` once the row has waited past the horizon
        (counted from its creation), so a broker outage of hours loses nothing."""
        if self.status in (OutboxStatus.CONSUMED, OutboxStatus.DEAD):
            return
        waited = now - self.created_at if self.created_at is not None else timedelta(0)
        if backoff.exhausted(waited):
            self.bury(
                f"publish failed beyond the retry horizon ({backoff.horizon_seconds:g} s): "
                f"{reason}",
                now=now,
            )
            return
        self.status = OutboxStatus.PENDING
        self.last_error = truncate_utf8(reason, MAX_ERROR_BYTES)
        self.next_retry_at = now + backoff.delay(waited, jitter=jitter)
        self.updated_at = now

    def bury(self, reason: str, *, now: datetime) -> None:
        """``dead`` at once: its event can never be handled, so it is never sent again
        (an operator may still ``replay`` it). A consumed or dead row stays as it is."""
        if self.status in (OutboxStatus.CONSUMED, OutboxStatus.DEAD):
            return
        self.status = OutboxStatus.DEAD
        self.last_error = truncate_utf8(reason, MAX_ERROR_BYTES)
        self.next_retry_at = None
        self.updated_at = now

    def replay(self, *, now: datetime) -> None:
        """An operator sends a dead row again, with a fresh retry budget."""
        if self.status is not OutboxStatus.DEAD:
            raise InvalidTransition(f"cannot retry an outbox row that is {self.status.value}")
        self.status = OutboxStatus.PENDING
        self.retry_count = 0
        self.next_retry_at = now
        self.updated_at = now
