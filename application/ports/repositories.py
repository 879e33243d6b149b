"""Repository ports. Every method is scoped to one user unless its name says otherwise."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from memvault.application.ports.transfer import MemoryTransferRepository
from memvault.domain.audit import AuditEntry, AuditTarget
from memvault.domain.conversation import AgentSnapshot, ChatMessage
from memvault.domain.jobs import ExtractionJob, JobStatus, Lease
from memvault.domain.memory import MemoryItem, MemoryStatus, MemoryType, VectorStatus
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from memvault.domain.settings import MemorySettings


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemCursor:
    """Keyset position in the list order (explicit, importance, updated_at, id; all desc)."""

    is_explicit: bool
    importance: float
    updated_at: datetime
    id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemQuery:
    """A page of one user's items."""

    user_id: str
    statuses: frozenset[MemoryStatus]
    memory_types: frozenset[MemoryType] = frozenset()
    conversation_id: str | None = None
    """When set: items of that conversation *and* global items (no conversation)."""
    limit: int = 20
    after: ItemCursor | None = None
    metadata_tokens: frozenset[str] = frozenset()
    """Items whose metadata holds every token (``domain.metadata.tokens``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorState:
    """The outcome of a vector sync, recorded only if the item has not changed since."""

    item_id: int
    status: VectorStatus
    vector_id: str | None
    expected_updated_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeQuery:
    """What retrieval may see (docs/behaviour.md, "Search and ranking"): the user's active,
    unexpired items; assistant/run equal or unset; settings applied as ``explicit_only`` and
    ``max_sensitivity``."""

    user_id: str
    now: datetime
    memory_types: frozenset[MemoryType] = frozenset()
    assistant_id: str | None = None
    run_id: str | None = None
    explicit_only: bool = False
    max_sensitivity: int | None = None
    limit: int = 60
    metadata_tokens: frozenset[str] = frozenset()
    """Items whose metadata holds every token (``domain.metadata.tokens``): metadata
    equality, AND."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Posting:
    item_id: int
    term: str
    tf: int
    doc_len: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LexicalMatches:
    """Postings of the query terms in the visible items, with the collection statistics
    BM25 needs (visible documents and their average length)."""

    postings: list[Posting]
    documents: int
    average_length: float


class MemoryItemRepository(Protocol):
    """Stores memory items. ``add`` assigns ``id``; ``update`` writes every column."""

    async def add(self, item: MemoryItem, *, sync_until: datetime | None = None) -> MemoryItem:
        """``sync_until``: the deadline of the vector sync this write starts (after its
        commit), if any; until then :meth:`unsynced` leaves the item out."""
        ...

    async def get(
        self, user_id: str, item_id: int, *, for_update: bool = False
    ) -> MemoryItem | None: ...

    async def update(self, item: MemoryItem, *, sync_until: datetime | None = None) -> None:
        """``sync_until`` as in :meth:`add` (``None`` clears an earlier one)."""
        ...

    async def find_by_hash(
        self, user_id: str, memory_type: MemoryType, content_hash: str
    ) -> list[MemoryItem]:
        """The user's *active* items of that type with that content hash."""
        ...

    async def set_vector_states(self, states: Sequence[VectorState]) -> None:
        """Write ``vector_status``/``vector_id`` without touching ``updated_at``. An
        outcome (any status but ``pending``) ends the sync: its deadline is cleared."""
        ...

    async def hold_vector_syncs(
        self, item_ids: Sequence[int], *, now: datetime, until: datetime
    ) -> set[int]:
        """Claim the vector sync of these items (any user) until ``until``, unless some
        earlier claim still holds at ``now``: :meth:`unsynced` leaves them out until then,
        in every process. Returns the ids claimed (of two sweepers, one gets each item)."""
        ...

    async def unsynced(
        self,
        *,
        changed_before: datetime,
        now: datetime,
        limit: int,
        exclude: Collection[int] = (),
    ) -> list[MemoryItem]:
        """Items (any user) whose vectors are out of date, oldest change first: ``pending``
        or ``failed`` since before ``changed_before``, or still indexed though expired;
        never those whose id is in ``exclude``, nor those whose sync's deadline (``add``,
        ``update``, :meth:`hold_vector_syncs`) is after ``now``."""
        ...

    async def get_many(self, user_id: str, item_ids: Sequence[int]) -> list[MemoryItem]: ...

    async def scope(self, query: ScopeQuery) -> list[MemoryItem]:
        """Visible items, explicit first, then by importance and recency."""
        ...

    async def lexical(self, query: ScopeQuery, query_terms: Sequence[str]) -> LexicalMatches: ...

    async def touch(self, accessed: Mapping[int, datetime]) -> None:
        """Set each item's ``last_access_at`` to its time unless it already holds a later
        one (never ``updated_at``); items of any user, missing ones ignored."""
        ...

    async def duplicated(self, *, user_id: str | None, limit: int | None) -> list[MemoryItem]:
        """Active items whose (user, type, content hash) is shared by another active item,
        ordered by user, type, hash, newest first."""
        ...

    async def count_all(self) -> int: ...

    async def visible_ids(self, item_ids: Sequence[int], *, now: datetime) -> set[int]:
        """Which of these items (any user) are active and unexpired now."""
        ...

    async def all_after(self, item_id: int, *, limit: int) -> list[MemoryItem]:
        """Items of every user with an id above ``item_id``, by id (for reindexing)."""
        ...

    async def page(self, query: ItemQuery) -> list[MemoryItem]: ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def history(
        self, user_id: str, target_type: AuditTarget, target_id: str
    ) -> list[AuditEntry]:
        """The target's entries, oldest first."""
        ...


class SettingsRepository(Protocol):
    async def get(self, user_id: str) -> MemorySettings | None:
        """The stored row, or ``None``: defaults are never written on read."""
        ...

    async def upsert(self, settings: MemorySettings) -> None: ...


class ChatRepository(Protocol):
    async def add(self, message: ChatMessage) -> bool:
        """Store a turn; ``False`` when (user, conversation, message id) already exists."""
        ...


class OutboxRepository(Protocol):
    """Outbox rows. Claims never hand one row to two relays at the same time."""

    @property
    def holds_claims(self) -> bool:
        """A claim can hold its rows by row lock until its transaction ends (PostgreSQL
        and MariaDB: ``FOR UPDATE SKIP LOCKED``, other writers go on): the relay then
        claims, publishes and marks its rows in one transaction, writing each row once.
        ``False`` (SQLite, one writer for the whole database): a claim commits a lease
        first, so that nothing waits on the bus with the write lock held."""
        ...

    async def add(self, message: OutboxMessage) -> OutboxMessage: ...

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta | None
    ) -> list[OutboxMessage]:
        """Due ``pending`` rows and ``published`` rows past their republish time, oldest
        first; their ``next_retry_at`` moves ``lease`` ahead so that a relay that dies
        mid-publish leaves them to another one later. ``lease=None`` (only where
        :attr:`holds_claims`): the rows are only locked, until the transaction ends."""
        ...

    async def get(self, outbox_id: int, *, for_update: bool = False) -> OutboxMessage | None: ...

    async def save(self, message: OutboxMessage) -> None: ...

    async def mark_published(
        self, ids: Sequence[int], *, now: datetime, republish_at: datetime
    ) -> None:
        """``pending`` → ``published``, due again at ``republish_at`` unless consumed by
        then; rows already consumed or dead are left alone."""
        ...

    async def mark_consumed(self, outbox_id: int, *, now: datetime) -> None: ...

    async def list(
        self,
        *,
        status: OutboxStatus | None,
        limit: int,
        before_id: int | None = None,
        user_id: str | None = None,
        updated_since: datetime | None = None,
    ) -> list[OutboxMessage]:
        """Newest first; ``updated_since`` keeps rows last changed at or after it."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadEvent:
    id: int | None = None
    topic: str
    event_id: str | None
    event_type: str | None
    raw_payload: str
    reason: str
    created_at: datetime


class EventLogRepository(Protocol):
    """The consumer's inbox of handled event ids, and the events it could not handle."""

    async def record_consumed(self, event_id: str, event_type: str, *, now: datetime) -> bool:
        """``False`` when the event id was handled before."""
        ...

    async def add_dead(self, event: DeadEvent) -> None: ...

    async def list_dead(self, *, limit: int, before_id: int | None = None) -> list[DeadEvent]: ...


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"
    USER_BUSY = "user_busy"
    """Another job of the same user is ``processing``: this one is parked until the
    user's current job ends and wakes it."""
    UNAVAILABLE = "unavailable"
    """Missing, finished, already claimed or not yet due: nothing to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobQuery:
    user_id: str | None
    """``None`` only for operator queries across users."""
    statuses: frozenset[JobStatus] = frozenset()
    conversation_id: str | None = None
    message_id: str | None = None
    job_key: str | None = None
    updated_since: datetime | None = None
    """Only jobs last changed at or after this instant (a dead job: when it died)."""
    limit: int = 20
    before_id: int | None = None


class JobRepository(Protocol):
    """Extraction jobs. Every state change is compare-and-set on the expected state."""

    async def add_unless_exists(self, job: ExtractionJob) -> int | None:
        """Insert; ``None`` when a job with the same idempotency key exists."""
        ...

    async def id_for_key(self, idempotency_key: str) -> int | None: ...

    async def get(self, job_id: int, *, user_id: str | None = None) -> ExtractionJob | None: ...

    async def claim(
        self, job_id: int, *, worker: str, now: datetime, lease: timedelta
    ) -> tuple[ClaimOutcome, ExtractionJob | None]:
        """``pending``/``failed`` and due → ``processing`` under a new :class:`Lease`
        (``worker`` and a fresh token), unless another job of the same user is
        ``processing``, its lease expired or not: an expired one is rescued first, so
        two jobs of one user never run at once. A busy user's job is parked instead
        (``enqueued_at`` cleared) while the user's lock is held, so that the end of the
        user's current job, which takes the same lock, sees it and wakes it."""
        ...

    async def renew_lease(self, job_id: int, *, lease: Lease, until: datetime) -> bool:
        """Extend the lease to ``until`` if ``lease`` still holds the job."""
        ...

    async def save(self, job: ExtractionJob, *, expected: JobStatus, lease: Lease | None) -> bool:
        """Write ``job`` if it is still in ``expected`` (and held by ``lease`` when given)."""
        ...

    async def wake(
        self, *, now: datetime, fresh_since: datetime, limit: int, user_id: str | None = None
    ) -> list[int]:
        """Mark enqueued at ``now``, and return, the next job of each user whom nothing
        attends to (of ``user_id`` only, under the user's lock as a claim takes it): the
        oldest due ``pending``/``failed`` job of a user none of whose jobs is
        ``processing`` and none of whose due jobs has a message enqueued since
        ``fresh_since``. The caller enqueues the ids after commit."""
        ...

    async def count_by_status(self) -> dict[str, int]: ...

    async def expired(self, *, now: datetime, limit: int) -> list[ExtractionJob]:
        """``processing`` jobs whose lease ended, locked for this transaction."""
        ...

    async def list(self, query: JobQuery) -> list[ExtractionJob]:
        """Newest first."""
        ...


class SnapshotRepository(Protocol):
    async def upsert(self, snapshot: AgentSnapshot) -> None:
        """Keyed on (user, conversation): one user never overwrites another's."""
        ...

    async def get(self, user_id: str, conversation_id: str) -> AgentSnapshot | None: ...


class UnitOfWork(Protocol):
    """One database transaction and the repositories that work inside it.

    ``async with uow:`` begins; leaving the block rolls back whatever was not committed,
    so a forgotten commit can only lose work, never half-write it.
    """

    items: MemoryItemRepository
    audit: AuditRepository
    settings: SettingsRepository
    chat: ChatRepository
    outbox: OutboxRepository
    events: EventLogRepository
    jobs: JobRepository
    snapshots: SnapshotRepository
    transfer: MemoryTransferRepository

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested transaction: an error inside rolls back only what it did."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work. ``read_only`` promises no writes, so it takes no write
        lock where the database has a single writer (SQLite)."""
        ...
