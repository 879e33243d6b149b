"""Extraction jobs: the retryable state machine (docs/behaviour.md, "Extraction jobs").

```
pending --claim--> processing --succeed--> success            (terminal)
   ^  ^               |--fail (n < max)--> failed --due--> claim again
   |  |               |--fail (n >= max)-> dead                (terminal until replayed)
   |  |               |--transient failure--> failed (n unchanged; dead past the horizon)
   |  |               |--permanent failure--> dead at once
   |  |               |--lease expired---> failed / dead       (counted as an attempt)
   |  +---release-----+                                        (the worker stops; not counted)
   +--operator retry-- failed / dead
```

A claim holds a :class:`Lease`: the worker's name and a token of that one claim. Every
later write of the job names the lease it expects, so a worker whose lease was taken
over (rescued, then claimed again, perhaps by the same process) can never write.
``enqueued_at`` is when the job's queue message is (or was) due for delivery; ``None``
means no message is on its way (a new job not yet sent, or one parked because its user
was busy), docs/behaviour.md "Extraction jobs".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from memvault.domain.audit import Operator, OperatorType
from memvault.domain.errors import InvalidTransition, InvalidValue
from memvault.domain.metadata import Metadata, require_metadata
from memvault.domain.retry import ExponentialBackoff, TransientBackoff
from memvault.domain.text import sha256_hex, truncate_utf8

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """Who holds a claimed job: the worker (``locked_by``) and the token of this claim."""

    owner: str
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FactOutcome:
    """What a job did with one candidate fact, and why (docs/behaviour.md, "Outcomes").

    ``outcome`` is ``added``, ``updated``, ``deleted+added``, ``duplicate``, ``failed``
    or ``skipped: <why>``; ``memory_id`` the memory it wrote, if any. ``title`` is
    ``None`` for a secret, whose words are kept nowhere.
    """

    memory_type: str
    title: str | None
    outcome: str
    memory_id: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "memory_type": self.memory_type,
            "title": self.title,
            "outcome": self.outcome,
            "memory_id": self.memory_id,
        }

    @classmethod
    def from_json(cls, value: dict[str, object]) -> FactOutcome:
        memory_id = value.get("memory_id")
        title = value.get("title")
        return cls(
            memory_type=str(value.get("memory_type", "")),
            title=title if isinstance(title, str) else None,
            outcome=str(value.get("outcome", "")),
            memory_id=memory_id if isinstance(memory_id, int) else None,
        )


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
    lease_token: str | None = None
    enqueued_at: datetime | None = None
    memory_ids: tuple[int, ...] = field(default_factory=tuple)
    outcomes: tuple[FactOutcome, ...] = field(default_factory=tuple)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def _require(self, *allowed: JobStatus, action: str) -> None:
        if self.status not in allowed:
            raise InvalidTransition(f"cannot {action} a job that is {self.status.value}")

    def is_due(self, now: datetime) -> bool:
        return self.status.claimable and (self.next_retry_at is None or self.next_retry_at <= now)

    @property
    def lease(self) -> Lease | None:
        """The lease of the claim that holds the job, if it is ``processing``."""
        if self.status is not JobStatus.PROCESSING or self.locked_by is None:
            return None
        return Lease(owner=self.locked_by, token=self.lease_token or "")

    def claim(self, *, worker: str, now: datetime, lease: timedelta, token: str) -> None:
        self._require(JobStatus.PENDING, JobStatus.FAILED, action="claim")
        if not self.is_due(now):
            raise InvalidTransition("cannot claim a job before its next retry time")
        self.status = JobStatus.PROCESSING
        self.locked_by = worker
        self.lease_token = token
        self.locked_until = now + lease
        self.updated_at = now

    def renew_lease(self, held: Lease, *, now: datetime, lease: timedelta) -> None:
        self._require(JobStatus.PROCESSING, action="renew the lease of")
        if self.lease != held:
            raise InvalidTransition("the lease is held by another claim")
        self.locked_until = now + lease

    def enqueued(self, *, at: datetime) -> None:
        """A message for the job is sent, due for delivery ``at``."""
        self.enqueued_at = at

    def park(self) -> None:
        """Its user is busy: the message that brought it is dropped, and the job waits
        to be woken when the user's current job ends."""
        self._require(JobStatus.PENDING, JobStatus.FAILED, action="park")
        self.enqueued_at = None

    def succeed(
        self,
        *,
        memory_ids: tuple[int, ...],
        now: datetime,
        outcomes: tuple[FactOutcome, ...] = (),
    ) -> None:
        self._require(JobStatus.PROCESSING, action="complete")
        self.status = JobStatus.SUCCESS
        self.memory_ids = memory_ids
        self.outcomes = outcomes
        self.next_retry_at = None
        self.last_error = None
        self._release(now)

    def fail(self, reason: str, *, now: datetime, backoff: ExponentialBackoff) -> None:
        """A failed attempt: ``failed`` with backoff (its retry's message due then), or
        ``dead`` at ``max_retry``."""
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
            self.enqueued_at = self.next_retry_at
        self._release(now)

    def defer(
        self, reason: str, *, now: datetime, backoff: TransientBackoff, jitter: float
    ) -> None:
        """A dependency was down: ``failed`` again after a capped, jittered wait, without
        counting toward ``max_retry``; ``dead`` once the job has waited past the horizon
        (counted from its creation)."""
        self._require(JobStatus.PROCESSING, action="fail")
        waited = now - self.created_at if self.created_at is not None else timedelta(0)
        if backoff.exhausted(waited):
            self.kill(
                f"transient failures beyond the retry horizon "
                f"({backoff.horizon_seconds:g} s): {reason}",
                now=now,
            )
            return
        self.status = JobStatus.FAILED
        self.last_error = truncate_utf8(reason, MAX_ERROR_BYTES)
        self.next_retry_at = now + backoff.delay(waited, jitter=jitter)
        self.enqueued_at = self.next_retry_at
        self._release(now)

    def kill(self, reason: str, *, now: datetime) -> None:
        """Dead at once: the job can never succeed (an unparseable payload, a permanent
        failure such as a wrong API key)."""
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

    def release(self, *, now: datetime) -> None:
        """Its worker stops before finishing: ``pending`` again at once, the attempt not
        counted, with no message on its way (whoever releases it wakes its user)."""
        self._require(JobStatus.PROCESSING, action="release")
        self.status = JobStatus.PENDING
        self.next_retry_at = now
        self.enqueued_at = None
        self._release(now)

    def replay(self, *, now: datetime) -> None:
        """An operator sends a failed or dead job again, with a fresh retry budget (and
        a message sent at once)."""
        self._require(JobStatus.FAILED, JobStatus.DEAD, action="retry")
        self.status = JobStatus.PENDING
        self.retry_count = 0
        self.next_retry_at = now
        self.enqueued_at = now
        self._release(now)

    def _release(self, now: datetime) -> None:
        self.locked_by = None
        self.lease_token = None
        self.locked_until = None
        self.updated_at = now


MAX_SOURCE_TEXT = 1500
"""Characters of a message that extraction sees."""
JOB_KEY_PREFIX = "memory_extract_"


def extract_job_key(
    *, user_id: str, conversation_id: str, text: str, message_id: str | None = None
) -> str:
    """The job's idempotency key (docs/adr/0003): hex only, never the raw user id.

    With a message id the key covers (user, conversation, message id), so the same words
    said again in a later turn are extracted again; without one it covers the text, as
    the reference does.
    """
    subject = message_id if message_id else text.strip()
    kind = "m" if message_id else "t"
    # Ids go in byte for byte (never trimmed): "c1" and "c1 " are two conversations.
    raw = "\x1f".join([user_id, conversation_id, kind, subject])
    return JOB_KEY_PREFIX + sha256_hex(raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtractPayload:
    """What a ``memory.extract.requested`` event carries and a job keeps."""

    user_id: str
    conversation_id: str
    source_role: str
    source_text: str
    occurred_at: datetime
    idempotency_key: str
    assistant_id: str | None = None
    run_id: str | None = None
    source_message_id: str | None = None
    trace_id: str | None = None
    metadata: Metadata = field(default_factory=dict)
    """Copied to every memory extracted from the turn (docs/behaviour.md, "Metadata")."""
    operator: Operator | None = None
    """The API key that sent the turn (its kind and name); ``None``: the user's own token."""

    @property
    def auditor(self) -> Operator:
        """Who the memories the job writes are audited under: the key that sent the turn,
        else the system with the request id (``trace_id``) as the operator id."""
        return self.operator or Operator(type=OperatorType.SYSTEM, id=self.trace_id)

    def to_json(self) -> str:
        return json.dumps(self.to_mapping(), ensure_ascii=False)

    def to_mapping(self) -> dict[str, Any]:
        body = {
            "user_id": self.user_id,
            "conversation_id": self.conversation_id,
            "source_role": self.source_role,
            "source_text": self.source_text,
            "occurred_at": self.occurred_at.isoformat(),
            "idempotency_key": self.idempotency_key,
            "assistant_id": self.assistant_id,
            "run_id": self.run_id,
            "source_message_id": self.source_message_id,
            "trace_id": self.trace_id,
            "metadata": dict(self.metadata) or None,
            "operator_type": self.operator.type.value if self.operator else None,
            "operator_id": self.operator.id if self.operator else None,
        }
        return {k: v for k, v in body.items() if v is not None}

    @classmethod
    def from_json(cls, text: str | bytes) -> ExtractPayload:
        """Parse and validate; any problem raises :class:`InvalidValue` naming it."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as error:
            raise InvalidValue(f"payload is not JSON: {error}") from error
        if not isinstance(data, dict):
            raise InvalidValue("payload must be a JSON object")
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: dict[str, object]) -> ExtractPayload:
        def text_field(
            name: str, *, required: bool, limit: int = 128, exact: bool = True
        ) -> str | None:
            """``exact`` fields are ids, kept byte for byte: a blank one counts as
            missing, any other is never trimmed ("bob " is not "bob")."""
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if value is not None and not isinstance(value, str):
                raise InvalidValue(f"payload field {name} must be a string", field=name)
            if value is None or not value.strip():
                if required:
                    raise InvalidValue(f"payload field {name} is required", field=name)
                return None
            if not exact:
                value = value.strip()
            if len(value) > limit:
                raise InvalidValue(f"payload field {name} is too long", field=name)
            return value

        occurred = data.get("occurred_at")
        try:
            occurred_at = datetime.fromisoformat(str(occurred).replace("Z", "+00:00"))
        except ValueError as error:
            raise InvalidValue(
                "payload field occurred_at is not a time", field="occurred_at"
            ) from error
        if occurred_at.tzinfo is None:
            occurred_at = occurred_at.replace(tzinfo=UTC)
        text = text_field("source_text", required=True, limit=100_000, exact=False) or ""
        return cls(
            user_id=text_field("user_id", required=True) or "",
            conversation_id=text_field("conversation_id", required=True) or "",
            source_role=(text_field("source_role", required=True, exact=False) or "").lower(),
            source_text=text[:MAX_SOURCE_TEXT],
            occurred_at=occurred_at.astimezone(UTC),
            idempotency_key=text_field("idempotency_key", required=True) or "",
            assistant_id=text_field("assistant_id", required=False),
            run_id=text_field("run_id", required=False),
            source_message_id=text_field("source_message_id", required=False),
            trace_id=text_field("trace_id", required=False),
            metadata=require_metadata(data.get("metadata")),
            operator=_operator_of(
                data.get("operator_type"), text_field("operator_id", required=False)
            ),
        )


ACTING_KINDS = frozenset({OperatorType.USER, OperatorType.SERVICE, OperatorType.ADMIN})
"""The operator types a payload may name: the kinds of API key."""


def _operator_of(kind: object, name: str | None) -> Operator | None:
    """The key named by a payload's ``operator_type`` and ``operator_id`` (both or none)."""
    if kind is None and name is None:
        return None
    if kind not in ACTING_KINDS or name is None:
        raise InvalidValue(
            "payload fields operator_type (user, service or admin) and operator_id go together",
            field="operator_type",
        )
    return Operator(type=OperatorType(str(kind)), id=name)
