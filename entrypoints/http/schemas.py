"""Request and response bodies (msgspec): validated at the edge, mapped to commands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from memvault.application.ingest.ingest_messages import Extraction
from memvault.application.ports.repositories import DeadEvent
from memvault.domain.audit import AuditEntry
from memvault.domain.conversation import AgentSnapshot, Role
from memvault.domain.instants import utc_instant
from memvault.domain.jobs import ExtractionJob, JobStatus
from memvault.domain.memory import MAX_CONTENT, MAX_TITLE, MemoryItem, MemoryStatus, MemoryType
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from memvault.domain.ranking import Scored
from memvault.domain.settings import MemorySettings
from memvault.domain.text import IDENTIFIER_PATTERN, TEXT_PATTERN

Score = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Sensitivity = Annotated[int, msgspec.Meta(ge=0, le=2)]
# Every string a client sends obeys the text rule of domain.text; identifiers are
# also not blank after trimming (docs/input-rules.md).
ScopeId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN)]
Reason = Annotated[str, msgspec.Meta(max_length=1000, pattern=TEXT_PATTERN)]
Content = Annotated[str, msgspec.Meta(max_length=MAX_CONTENT * 2, pattern=TEXT_PATTERN)]
Title = Annotated[str, msgspec.Meta(max_length=MAX_TITLE * 2, pattern=TEXT_PATTERN)]
Query = Annotated[str, msgspec.Meta(max_length=2000, pattern=TEXT_PATTERN)]
Phase = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=IDENTIFIER_PATTERN)]
Limit = Annotated[int, msgspec.Meta(ge=1)]
RenderMode = Literal["flat", "typed", "typed_v2"]


MetadataIn = dict[str, Any]
"""A flat object; its rules (keys, value types, size) are checked by domain.metadata."""


def as_utc(value: datetime | None, *, field: str) -> datetime | None:
    """Times without a zone are taken as UTC; out of the stored range is a 400 on ``field``."""
    return None if value is None else utc_instant(value, field=field)


class ItemIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    memory_type: MemoryType
    content: Content
    title: Title | None = None
    conversation_id: ScopeId | None = None
    assistant_id: ScopeId | None = None
    run_id: ScopeId | None = None
    confidence: Score | None = None
    importance: Score | None = None
    sensitivity_level: Sensitivity | None = None
    is_explicit: bool | None = None
    ttl_at: datetime | None = None
    occurred_at: datetime | None = None
    metadata: MetadataIn | None = None
    reason: Reason | None = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    items: Annotated[list[ItemIn], msgspec.Meta(min_length=1, max_length=500)]


class ItemPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    memory_type: MemoryType | None = None
    title: Title | None = None
    content: Content | None = None
    confidence: Score | None = None
    importance: Score | None = None
    sensitivity_level: Sensitivity | None = None
    is_explicit: bool | None = None
    ttl_at: datetime | None = None
    clear_ttl: bool = False
    metadata: MetadataIn | None = None
    """Replaces the whole object; ``{}`` clears it."""
    reason: Reason | None = None


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason | None = None


class BulkRetryIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Retry every job (or outbox row) in ``status`` last changed at or after ``since``."""

    status: str
    since: datetime
    user_id: ScopeId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    reason: Reason | None = None


class BulkRetryOut(msgspec.Struct, kw_only=True):
    retried: int
    ids: list[int]


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    memory_enabled: bool | None = None
    implicit_memory_enabled: bool | None = None
    sensitive_memory_enabled: bool | None = None


class ItemOut(msgspec.Struct, kw_only=True):
    id: int
    user_id: str
    conversation_id: str | None
    assistant_id: str | None
    run_id: str | None
    memory_type: MemoryType
    title: str
    content: str
    content_hash: str
    confidence: float
    importance: float
    sensitivity_level: int
    is_explicit: bool
    status: MemoryStatus
    ttl_at: datetime | None
    last_access_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    occurred_at: datetime | None
    """When it was said (defaults to ``created_at``)."""
    metadata: dict[str, Any]

    @classmethod
    def of(cls, item: MemoryItem) -> ItemOut:
        if item.id is None:
            raise ValueError("item has no id")
        return cls(
            id=item.id,
            user_id=item.user_id,
            conversation_id=item.scope.conversation_id,
            assistant_id=item.scope.assistant_id,
            run_id=item.scope.run_id,
            memory_type=item.memory_type,
            title=item.title,
            content=item.content,
            content_hash=item.content_hash,
            confidence=round(item.confidence, 4),
            importance=round(item.importance, 4),
            sensitivity_level=item.sensitivity_level,
            is_explicit=item.is_explicit,
            status=item.status,
            ttl_at=item.ttl_at,
            last_access_at=item.last_access_at,
            created_at=item.created_at,
            updated_at=item.updated_at,
            occurred_at=item.said_at,
            metadata=dict(item.metadata),
        )


class ItemsOut(msgspec.Struct):
    items: list[ItemOut]


class ItemPageOut(msgspec.Struct):
    items: list[ItemOut]
    next_cursor: str | None


class AuditOut(msgspec.Struct, kw_only=True):
    id: int | None
    target_type: str
    target_id: str
    operation: str
    operator_type: str
    operator_id: str | None
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(
            id=entry.id,
            target_type=entry.target_type.value,
            target_id=entry.target_id,
            operation=entry.operation.value,
            operator_type=entry.operator_type.value,
            operator_id=entry.operator_id,
            reason=entry.reason,
            before=entry.before,
            after=entry.after,
            created_at=entry.created_at,
        )


class HistoryOut(msgspec.Struct):
    items: list[AuditOut]


class SettingsOut(msgspec.Struct, kw_only=True):
    memory_enabled: bool
    implicit_memory_enabled: bool
    sensitive_memory_enabled: bool
    updated_at: datetime | None

    @classmethod
    def of(cls, settings: MemorySettings) -> SettingsOut:
        return cls(
            memory_enabled=settings.memory_enabled,
            implicit_memory_enabled=settings.implicit_memory_enabled,
            sensitive_memory_enabled=settings.sensitive_memory_enabled,
            updated_at=settings.updated_at,
        )


class MessageIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    role: Role
    content: Annotated[str, msgspec.Meta(max_length=100_000, pattern=TEXT_PATTERN)]
    message_id: ScopeId | None = None
    occurred_at: datetime | None = None


class MessagesIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    conversation_id: ScopeId
    messages: Annotated[list[MessageIn], msgspec.Meta(min_length=1, max_length=100)]
    assistant_id: ScopeId | None = None
    run_id: ScopeId | None = None
    metadata: MetadataIn | None = None
    """Copied to every memory extracted from these turns."""


class MessageOut(msgspec.Struct, kw_only=True):
    message_id: str
    extraction: Extraction
    job_key: str | None


class MessagesOut(msgspec.Struct):
    messages: list[MessageOut]


class FactOutcomeOut(msgspec.Struct, kw_only=True):
    """What the job did with one candidate fact: ``added``, ``updated``,
    ``deleted+added``, ``duplicate``, ``failed`` or ``skipped: <why>``."""

    memory_type: str
    title: str | None
    outcome: str
    memory_id: int | None


class JobOut(msgspec.Struct, kw_only=True):
    id: int
    job_key: str
    message_id: str | None
    conversation_id: str | None
    status: JobStatus
    attempts: int
    max_attempts: int
    next_retry_at: datetime | None
    last_error: str | None
    memory_ids: list[int]
    created_at: datetime | None
    updated_at: datetime | None
    outcomes: list[FactOutcomeOut] = msgspec.field(default_factory=list)
    user_id: str | None = None
    payload: str | None = None

    @classmethod
    def of(cls, job: ExtractionJob, *, operator: bool = False) -> JobOut:
        if job.id is None:
            raise ValueError("job has no id")
        return cls(
            id=job.id,
            job_key=job.idempotency_key,
            message_id=job.source_message_id,
            conversation_id=job.conversation_id,
            status=job.status,
            attempts=job.retry_count,
            max_attempts=job.max_retry,
            next_retry_at=job.next_retry_at,
            last_error=job.last_error,
            memory_ids=list(job.memory_ids),
            created_at=job.created_at,
            updated_at=job.updated_at,
            outcomes=[
                FactOutcomeOut(
                    memory_type=o.memory_type,
                    title=o.title,
                    outcome=o.outcome,
                    memory_id=o.memory_id,
                )
                for o in job.outcomes
            ],
            user_id=job.user_id if operator else None,
            payload=job.payload_json if operator else None,
        )


class JobPageOut(msgspec.Struct):
    items: list[JobOut]
    next_cursor: str | None


class OutboxOut(msgspec.Struct, kw_only=True):
    id: int
    event_type: str
    topic: str
    message_key: str
    payload: str
    user_id: str | None
    status: OutboxStatus
    retry_count: int
    max_retry: int
    next_retry_at: datetime | None
    last_error: str | None
    published_at: datetime | None
    consumed_at: datetime | None
    created_at: datetime | None

    @classmethod
    def of(cls, row: OutboxMessage) -> OutboxOut:
        return cls(
            id=row.id or 0,
            event_type=row.event_type,
            topic=row.topic,
            message_key=row.message_key,
            payload=row.payload,
            user_id=row.user_id,
            status=row.status,
            retry_count=row.retry_count,
            max_retry=row.max_retry,
            next_retry_at=row.next_retry_at,
            last_error=row.last_error,
            published_at=row.published_at,
            consumed_at=row.consumed_at,
            created_at=row.created_at,
        )


class OutboxPageOut(msgspec.Struct):
    items: list[OutboxOut]
    next_cursor: str | None


class DeadEventOut(msgspec.Struct, kw_only=True):
    id: int
    topic: str
    event_id: str | None
    event_type: str | None
    raw_payload: str
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, event: DeadEvent) -> DeadEventOut:
        return cls(
            id=event.id or 0,
            topic=event.topic,
            event_id=event.event_id,
            event_type=event.event_type,
            raw_payload=event.raw_payload,
            reason=event.reason,
            created_at=event.created_at,
        )


class DeadEventPageOut(msgspec.Struct):
    items: list[DeadEventOut]
    next_cursor: str | None


class SnapshotIn(msgspec.Struct, forbid_unknown_fields=True):
    phase: Phase
    snapshot: Any


class SnapshotOut(msgspec.Struct, kw_only=True):
    conversation_id: str
    phase: str
    snapshot: Any
    updated_at: datetime | None

    @classmethod
    def of(cls, snapshot: AgentSnapshot) -> SnapshotOut:
        return cls(
            conversation_id=snapshot.conversation_id,
            phase=snapshot.phase,
            snapshot=msgspec.json.decode(snapshot.snapshot_json),
            updated_at=snapshot.updated_at,
        )


class SearchIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    query: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]
    limit: Limit | None = None
    memory_types: list[MemoryType] | None = None
    assistant_id: ScopeId | None = None
    run_id: ScopeId | None = None
    type_budget: dict[MemoryType, Annotated[int, msgspec.Meta(ge=0)]] | None = None
    """At most so many results of each named type (e.g. ``{"fact": 3}``); by default
    none: up to ``limit`` (max 100) of any types."""
    metadata: MetadataIn | None = None
    """Equality filter: items whose metadata has every pair."""


class ScoredItemOut(ItemOut, kw_only=True):
    score: float


def scored(hit: Scored) -> ScoredItemOut:
    base = ItemOut.of(hit.item)
    return ScoredItemOut(
        **msgspec.structs.asdict(base), score=round(min(1.0, max(0.0, hit.score)), 6)
    )


class SearchOut(msgspec.Struct):
    items: list[ScoredItemOut]
    degraded: bool


class ContextIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    query: Query
    conversation_id: ScopeId | None = None
    assistant_id: ScopeId | None = None
    run_id: ScopeId | None = None
    limit: Limit | None = None
    render_mode: RenderMode = "flat"
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=2, pattern=TEXT_PATTERN)] | None = None
    metadata: MetadataIn | None = None
    """Equality filter: items whose metadata has every pair."""


class ContextOut(msgspec.Struct):
    text: str
    items: list[ScoredItemOut]
    degraded: bool
    skipped: bool


class DedupIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    user_id: ScopeId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1)] | None = None
    dry_run: bool = True
    reason: Reason | None = None


class DedupOut(msgspec.Struct, kw_only=True):
    scanned_group_count: int
    deduped_group_count: int
    kept_count: int
    archived_count: int
    archived_ids: list[int]
    dry_run: bool


class ReindexOut(msgspec.Struct, kw_only=True):
    items: int
    indexed: int
    removed_orphans: int
