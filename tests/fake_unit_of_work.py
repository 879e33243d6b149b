"""An in-memory unit of work for fast unit tests of the use cases (cosmicpython style).

Every repository subclasses its real port. A unit of work works on a copy of the shared
:class:`FakeDatabase` taken when it opens; ``commit`` writes the copy back, leaving
without ``commit`` drops it, and a savepoint restores the copy it started from. So a
use case that forgets to commit changes nothing here either. Only what the write path
(ingest, relay, consume, process-job) needs is implemented; the rest of each port stays
unimplemented and fails loudly if called.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from memvault.application.ports.clock import Clock
from memvault.application.ports.event_bus import EventBusError, EventPublisher, OutgoingEvent
from memvault.application.ports.indexer import ItemIndexer
from memvault.application.ports.repositories import (
    AuditRepository,
    ChatRepository,
    ClaimOutcome,
    DeadEvent,
    EventLogRepository,
    JobQuery,
    JobRepository,
    OutboxRepository,
    SettingsRepository,
    SnapshotRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)
from memvault.domain.audit import AuditEntry
from memvault.domain.conversation import AgentSnapshot, ChatMessage
from memvault.domain.jobs import ExtractionJob, JobStatus, Lease
from memvault.domain.memory import MemoryItem
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from memvault.domain.settings import MemorySettings


@dataclass
class Tables:
    """The rows of every table the fakes keep, by key."""

    chat: dict[tuple[str, str, str], ChatMessage] = field(default_factory=dict)
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    inbox: set[str] = field(default_factory=set)
    dead_events: list[DeadEvent] = field(default_factory=list)
    jobs: dict[int, ExtractionJob] = field(default_factory=dict)
    settings: dict[str, MemorySettings] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], AgentSnapshot] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


@dataclass
class FakeDatabase:
    """The committed state, shared by every unit of work of one test."""

    tables: Tables = field(default_factory=Tables)
    commits: int = 0


class FakeChat(ChatRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, message: ChatMessage) -> bool:
        key = (message.user_id, message.conversation_id, message.message_id)
        if key in self._t.chat:
            return False
        self._t.chat[key] = message
        return True


class FakeOutbox(OutboxRepository):
    holds_claims = False  # like SQLite: the relay commits a lease before it publishes

    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, message: OutboxMessage) -> OutboxMessage:
        stored = replace(message, id=self._t.new_id())
        self._t.outbox[stored.id or 0] = stored
        return replace(stored)

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta | None
    ) -> list[OutboxMessage]:
        if lease is None:
            raise NotImplementedError("no row locks here: claims take a lease")
        due = [
            row
            for row in sorted(self._t.outbox.values(), key=lambda r: r.id or 0)
            if row.status in (OutboxStatus.PENDING, OutboxStatus.PUBLISHED)
            and (row.next_retry_at is None or row.next_retry_at <= now)
        ][:limit]
        for row in due:
            row.next_retry_at = now + lease
        return [replace(row) for row in due]

    async def get(self, outbox_id: int, *, for_update: bool = False) -> OutboxMessage | None:
        row = self._t.outbox.get(outbox_id)
        return None if row is None else replace(row)

    async def save(self, message: OutboxMessage) -> None:
        self._t.outbox[message.id or 0] = replace(message)

    async def mark_published(
        self, ids: Sequence[int], *, now: datetime, republish_at: datetime
    ) -> None:
        for outbox_id in ids:
            row = self._t.outbox[outbox_id]
            if row.status is OutboxStatus.PENDING:
                row.status = OutboxStatus.PUBLISHED
                row.published_at = now
            if row.status is OutboxStatus.PUBLISHED:
                row.next_retry_at = republish_at

    async def mark_consumed(self, outbox_id: int, *, now: datetime) -> None:
        row = self._t.outbox[outbox_id]
        row.status = OutboxStatus.CONSUMED
        row.consumed_at = now
        row.next_retry_at = None


class FakeEvents(EventLogRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def record_consumed(self, event_id: str, event_type: str, *, now: datetime) -> bool:
        if event_id in self._t.inbox:
            return False
        self._t.inbox.add(event_id)
        return True

    async def add_dead(self, event: DeadEvent) -> None:
        self._t.dead_events.append(replace(event, id=self._t.new_id()))


class FakeJobs(JobRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add_unless_exists(self, job: ExtractionJob) -> int | None:
        if await self.id_for_key(job.idempotency_key) is not None:
            return None
        stored = replace(job, id=self._t.new_id())
        self._t.jobs[stored.id or 0] = stored
        return stored.id

    async def id_for_key(self, idempotency_key: str) -> int | None:
        return next(
            (i for i, job in self._t.jobs.items() if job.idempotency_key == idempotency_key),
            None,
        )

    async def get(self, job_id: int, *, user_id: str | None = None) -> ExtractionJob | None:
        job = self._t.jobs.get(job_id)
        if job is None or (user_id is not None and job.user_id != user_id):
            return None
        return replace(job)

    async def claim(
        self, job_id: int, *, worker: str, now: datetime, lease: timedelta
    ) -> tuple[ClaimOutcome, ExtractionJob | None]:
        job = self._t.jobs.get(job_id)
        if job is None or not job.is_due(now):
            return ClaimOutcome.UNAVAILABLE, None
        if any(
            other.user_id == job.user_id and other.status is JobStatus.PROCESSING
            for other in self._t.jobs.values()
        ):
            job.park()
            return ClaimOutcome.USER_BUSY, None
        job.claim(worker=worker, now=now, lease=lease, token=uuid.uuid4().hex)
        return ClaimOutcome.CLAIMED, replace(job)

    async def renew_lease(self, job_id: int, *, lease: Lease, until: datetime) -> bool:
        job = self._t.jobs.get(job_id)
        if job is None or job.lease != lease:
            return False
        job.locked_until = until
        return True

    async def save(self, job: ExtractionJob, *, expected: JobStatus, lease: Lease | None) -> bool:
        current = self._t.jobs.get(job.id or 0)
        if current is None or current.status is not expected:
            return False
        if lease is not None and current.lease != lease:
            return False
        self._t.jobs[job.id or 0] = replace(job)
        return True

    async def wake(
        self, *, now: datetime, fresh_since: datetime, limit: int, user_id: str | None = None
    ) -> builtins.list[int]:
        jobs = sorted(self._t.jobs.values(), key=lambda j: j.id or 0)
        woken: dict[str, ExtractionJob] = {}
        for job in jobs:
            if job.is_due(now) and user_id in (None, job.user_id):
                woken.setdefault(job.user_id, job)
        attended = {
            j.user_id
            for j in jobs
            if j.status is JobStatus.PROCESSING
            or (j.is_due(now) and j.enqueued_at is not None and j.enqueued_at >= fresh_since)
        }
        chosen = [job for user, job in woken.items() if user not in attended][:limit]
        for job in chosen:
            job.enqueued(at=now)
        return [job.id or 0 for job in chosen]

    async def list(self, query: JobQuery) -> builtins.list[ExtractionJob]:
        jobs = [j for j in self._t.jobs.values() if query.user_id in (None, j.user_id)]
        return [replace(j) for j in sorted(jobs, key=lambda j: -(j.id or 0))][: query.limit]


class FakeSettings(SettingsRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def get(self, user_id: str) -> MemorySettings | None:
        return self._t.settings.get(user_id)

    async def upsert(self, settings: MemorySettings) -> None:
        self._t.settings[settings.user_id] = settings


class FakeSnapshots(SnapshotRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def upsert(self, snapshot: AgentSnapshot) -> None:
        self._t.snapshots[(snapshot.user_id, snapshot.conversation_id)] = snapshot

    async def get(self, user_id: str, conversation_id: str) -> AgentSnapshot | None:
        return self._t.snapshots.get((user_id, conversation_id))


class FakeAudit(AuditRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, entry: AuditEntry) -> None:
        self._t.audit.append(entry)


class FakeUnitOfWork(UnitOfWork):
    """Works on a copy of the database; ``commit`` publishes it, exit drops it."""

    def __init__(self, database: FakeDatabase, *, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only
        self._bind(copy.deepcopy(database.tables))

    def _bind(self, tables: Tables) -> None:
        self._tables = tables
        self.chat = FakeChat(tables)
        self.outbox = FakeOutbox(tables)
        self.events = FakeEvents(tables)
        self.jobs = FakeJobs(tables)
        self.settings = FakeSettings(tables)
        self.snapshots = FakeSnapshots(tables)
        self.audit = FakeAudit(tables)

    async def __aenter__(self) -> FakeUnitOfWork:
        self._bind(copy.deepcopy(self._database.tables))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._bind(copy.deepcopy(self._database.tables))

    async def commit(self) -> None:
        if self._read_only:
            raise AssertionError("a read-only unit of work must not commit changes")
        self._database.tables = copy.deepcopy(self._tables)
        self._database.commits += 1

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        saved = copy.deepcopy(self._tables)
        try:
            yield
        except BaseException:
            self._bind(saved)
            raise


class FakeUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database or FakeDatabase()

    def __call__(self, *, read_only: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.database, read_only=read_only)

    @property
    def tables(self) -> Tables:
        """The committed state."""
        return self.database.tables


class FixedClock(Clock):
    """A clock that moves only when the test says so."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class RecordingPublisher(EventPublisher):
    """Accepts events (kept in ``published``) or, while ``down``, refuses them."""

    def __init__(self) -> None:
        self.published: list[OutgoingEvent] = []
        self.down = False

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if self.down:
            raise EventBusError("broker unreachable")
        self.published.extend(events)

    async def close(self) -> None:
        return None


class RecordingIndexer(ItemIndexer):
    def __init__(self) -> None:
        self.indexed: list[MemoryItem] = []

    async def items_changed(self, items: Sequence[MemoryItem]) -> None:
        self.indexed.extend(items)
