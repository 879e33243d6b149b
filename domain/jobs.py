"""Extraction jobs: the retryable state machine of reference §4.1, plus a lease.

```
pending --claim--> processing --succeed--> success            (terminal)
   ^                  |--fail (n < max)--> failed --due--> claim again
   |                  |--fail (n >= max)-> dead                (terminal until replayed)
   |                  |--lease expired---> failed / dead       (counted as an attempt)
   +--operator retry-- failed / dead
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import InvalidTransition
from domain.retry import ExponentialBackoff
from domain.text import truncate_utf8

MAX_ERROR_BYTES = 2000
DEFAULT_MAX_RETRY = 6


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"
    DEAD = "dead"

    @property
    def claimable(self) -> bool:
        return self in (JobStatus.PENDING, JobStatus.FAILED)


class JobType(StrEnum):
    EXTRACT = "extract"


@dataclass(slots=True, kw_only=True)
class ExtractionJob:
    """One message to extract memories from. ``retry_count`` counts failed attempts."""

    id: int | None = None
    user_id: str
    conversation_id: str | None = None
    source_message_id: str | None = None
    source_event_id: str | None = None
    job_type: JobType = JobType.EXTRACT
    idempotency_key: str
    payload_json: str
    status: JobStatus = JobStatus.PENDING
    retry_count: int = 0
    max_retry: int = DEFAULT_MAX_RETRY
    next_retry_at: datetime | None = None
    last_error: str | None = None
    locked_until: datetime | None = None
    locked_by: str | None = None
    memory_ids: tuple[int, ...] = field(default_factory=tuple)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def _require(self, *allowed: JobStatus, action: str) -> None:
        if self.status not in allowed:
            raise InvalidTransition(f"cannot {action} a job that is {self.status.value}")

    def is_due(self, now: datetime) -> bool:
        return self.status.claimable and (self.next_retry_at is None or self.next_retry_at <= now)

    def claim(self, *, worker: str, now: datetime, lease: timedelta) -> None:
        self._require(JobStatus.PENDING, JobStatus.FAILED, action="claim")
        if not self.is_due(now):
            raise InvalidTransition("cannot claim a job before its next retry time")
        self.status = JobStatus.PROCESSING
        self.locked_by = worker
        self.locked_until = now + lease
        self.updated_at = now

    def renew_lease(self, *, worker: str, now: datetime, lease: timedelta) -> None:
        self._require(JobStatus.PROCESSING, action="renew the lease of")
        if self.locked_by != worker:
            raise InvalidTransition("the lease is held by another worker")
        self.locked_until = now + lease

    def succeed(self, *, memory_ids: tuple[int, ...], now: datetime) -> None:
        self._require(JobStatus.PROCESSING, action="complete")
        self.status = JobStatus.SUCCESS
        self.memory_ids = memory_ids
        self.next_retry_at = None
        self.last_error = None
        self._release(now)

    def fail(self, reason: str, *, now: datetime, backoff: ExponentialBackoff) -> None:
        """A failed attempt: ``failed`` with backoff, or ``dead`` at ``max_retry``."""
        self._require(JobStatus.PROCESSING, action="fail")
        attempt = self.retry_count + 1
        self.retry_count = attempt
        self.last_error = truncate_utf8(reason, MAX_ERROR_BYTES)
        if attempt >= (self.max_retry if self.max_retry > 0 else DEFAULT_MAX_RETRY):
            self.status = JobStatus.DEAD
            self.next_retry_at = None
        else:
            self.status = JobStatus.FAILED
            self.next_retry_at = now + backoff.delay(attempt)
        self._release(now)

    def kill(self, reason: str, *, now: datetime) -> None:
        """Dead at once: the job can never succeed (an unparseable payload)."""
        self._require(JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.FAILED, action="kill")
        self.status = JobStatus.DEAD
        self.retry_count += 1
        self.last_error = truncate_utf8(reason, MAX_ERROR_BYTES)
        self.next_retry_at = None
        self._release(now)

    def lease_expired(self, now: datetime) -> bool:
        return (
            self.status is JobStatus.PROCESSING
            and self.locked_until is not None
            and self.locked_until <= now
        )

    def rescue(self, *, now: datetime, backoff: ExponentialBackoff) -> None:
        """The worker holding the lease vanished: count the attempt and let it retry."""
        if not self.lease_expired(now):
            raise InvalidTransition("the job's lease has not expired")
        self.fail(f"lease expired: worker {self.locked_by} stopped", now=now, backoff=backoff)

    def replay(self, *, now: datetime) -> None:
        """An operator sends a failed or dead job again, with a fresh retry budget."""
        self._require(JobStatus.FAILED, JobStatus.DEAD, action="retry")
        self.status = JobStatus.PENDING
        self.retry_count = 0
        self.next_retry_at = now
        self._release(now)

    def _release(self, now: datetime) -> None:
        self.locked_by = None
        self.locked_until = None
        self.updated_at = now
