"""Extraction jobs in SQL: compare-and-set transitions on the lease (owner and token),
per-user locks for claims, parking and waking, and ``FOR UPDATE SKIP LOCKED`` batches
for the sweepers (SQLite serialises writers instead)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from memvault.adapters.sqlalchemy.tables import memory_jobs as t
from memvault.adapters.sqlalchemy.tables import memory_user_locks as locks
from memvault.adapters.sqlalchemy.upsert import insert_unless_exists
from memvault.application.ports.repositories import ClaimOutcome, JobQuery, JobRepository
from memvault.domain.jobs import ExtractionJob, FactOutcome, JobStatus, JobType, Lease

CLAIMABLE = [JobStatus.PENDING.value, JobStatus.FAILED.value]


def results_json(job: ExtractionJob) -> str | None:
    """``memory_ids`` holds a JSON list of ids, or, once a job records its per-fact
    outcomes, ``{"ids": [...], "outcomes": [...]}`` (no migration: the column is text)."""
    if job.outcomes:
        return json.dumps(
            {"ids": list(job.memory_ids), "outcomes": [o.to_json() for o in job.outcomes]},
            ensure_ascii=False,
        )
    return json.dumps(list(job.memory_ids)) if job.memory_ids else None


def results_of(text: str | None) -> dict[str, Any]:
    """The ``memory_ids`` and ``outcomes`` fields from the column, in either form."""
    if not text:
        return {}
    value = json.loads(text)
    if isinstance(value, list):
        return {"memory_ids": tuple(value)}
    return {
        "memory_ids": tuple(value.get("ids", ())),
        "outcomes": tuple(FactOutcome.from_json(o) for o in value.get("outcomes", ())),
    }


def to_row(job: ExtractionJob) -> dict[str, Any]:
    return {
        "user_id": job.user_id,
        "conversation_id": job.conversation_id,
        "source_message_id": job.source_message_id,
        "source_event_id": job.source_event_id,
        "job_type": job.job_type.value,
        "idempotency_key": job.idempotency_key,
        "payload_json": job.payload_json,
        "status": job.status.value,
        "retry_count": job.retry_count,
        "max_retry": job.max_retry,
        "next_retry_at": job.next_retry_at,
        "last_error": job.last_error,
        "locked_until": job.locked_until,
        "locked_by": job.locked_by,
        "lease_token": job.lease_token,
        "enqueued_at": job.enqueued_at,
        "memory_ids": results_json(job),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


def from_row(row: Row[Any]) -> ExtractionJob:
    m = row._mapping
    return ExtractionJob(
        id=m["id"],
        user_id=m["user_id"],
        conversation_id=m["conversation_id"],
        source_message_id=m["source_message_id"],
        source_event_id=m["source_event_id"],
        job_type=JobType(m["job_type"]),
        idempotency_key=m["idempotency_key"],
        payload_json=m["payload_json"],
        status=JobStatus(m["status"]),
        retry_count=m["retry_count"],
        max_retry=m["max_retry"],
        next_retry_at=m["next_retry_at"],
        last_error=m["last_error"],
        locked_until=m["locked_until"],
        locked_by=m["locked_by"],
        lease_token=m["lease_token"],
        enqueued_at=m["enqueued_at"],
        **results_of(m["memory_ids"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _due(now: datetime, table: Any = t) -> Any:
    return and_(
        table.c.status.in_(CLAIMABLE),
        or_(table.c.next_retry_at.is_(None), table.c.next_retry_at <= now),
    )


def _held_by(lease: Lease) -> Any:
    """The row is held by ``lease`` (a claim made before tokens existed has none)."""
    token = t.c.lease_token == lease.token if lease.token else t.c.lease_token.is_(None)
    return and_(t.c.locked_by == lease.owner, token)


_other = t.alias("other")
"""Another row of the table, in the per-user checks (made once: an alias of a wide
table is costly to build)."""


def _attended(now: datetime, fresh_since: datetime) -> Any:
    """A job of the same user as ``t``'s row is running, or a due one has a message on
    its way."""
    return exists().where(
        _other.c.user_id == t.c.user_id,
        or_(
            _other.c.status == JobStatus.PROCESSING.value,
            and_(_due(now, _other), _other.c.enqueued_at >= fresh_since),
        ),
    )


# A job's hot path (claim, save, wake) runs these statements, built once with bound
# parameters: SQLAlchemy then neither rebuilds them nor recomputes their cache keys.
_NOW = bindparam("now", type_=t.c.updated_at.type)
_DUE = and_(t.c.status.in_(CLAIMABLE), or_(t.c.next_retry_at.is_(None), t.c.next_retry_at <= _NOW))
_GET = select(t).where(t.c.id == bindparam("job_id"))
_LOCK_USER = (
    select(locks.c.user_id).where(locks.c.user_id == bindparam("user_id")).with_for_update()
)
_CLAIM_RETURNING = (
    update(t)
    .where(
        t.c.id == bindparam("job_id"),
        _DUE,
        ~exists().where(
            _other.c.user_id == t.c.user_id,
            _other.c.status == JobStatus.PROCESSING.value,
            _other.c.id != bindparam("job_id"),
        ),
    )
    .values(
        status=JobStatus.PROCESSING.value,
        locked_by=bindparam("worker"),
        lease_token=bindparam("token"),
        locked_until=bindparam("until", type_=t.c.locked_until.type),
        updated_at=_NOW,
    )
    .returning(*t.c)
)
_SAVE_HELD = update(t).where(
    t.c.id == bindparam("job_id"),
    t.c.status == bindparam("expected"),
    t.c.locked_by == bindparam("owner"),
    t.c.lease_token == bindparam("token"),
)
"""Every column from the parameters, on the row ``owner`` holds with ``token``."""
_WAKE_USER = (
    select(func.min(t.c.id))
    .where(
        t.c.user_id == bindparam("user_id"),
        _DUE,
        ~exists().where(
            _other.c.user_id == t.c.user_id,
            or_(
                _other.c.status == JobStatus.PROCESSING.value,
                and_(
                    _other.c.status.in_(CLAIMABLE),
                    or_(_other.c.next_retry_at.is_(None), _other.c.next_retry_at <= _NOW),
                    _other.c.enqueued_at >= bindparam("fresh_since", type_=t.c.enqueued_at.type),
                ),
            ),
        ),
    )
    .group_by(t.c.user_id)
    .order_by(func.min(t.c.id))
    .limit(bindparam("limit"))
)


class SqlJobRepository(JobRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add_unless_exists(self, job: ExtractionJob) -> int | None:
        if not await insert_unless_exists(self._conn, t, to_row(job)):
            return None
        job_id = await self.id_for_key(job.idempotency_key)
        job.id = job_id
        return job_id

    async def id_for_key(self, idempotency_key: str) -> int | None:
        stmt = select(t.c.id).where(t.c.idempotency_key == idempotency_key)
        value = (await self._conn.execute(stmt)).scalar_one_or_none()
        return None if value is None else int(value)

    async def get(self, job_id: int, *, user_id: str | None = None) -> ExtractionJob | None:
        if user_id is None:
            row = (await self._conn.execute(_GET, {"job_id": job_id})).first()
        else:
            stmt = select(t).where(t.c.id == job_id, t.c.user_id == user_id)
            row = (await self._conn.execute(stmt)).first()
        return None if row is None else from_row(row)

    async def _lock_user(self, user_id: str) -> None:
        user = {"user_id": user_id}
        if (await self._conn.execute(_LOCK_USER, user)).first() is None:
            dialect = self._conn.dialect.name
            if dialect in ("postgresql", "sqlite"):  # no SAVEPOINT round trips
                dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                await self._conn.execute(
                    dialect_insert(locks).values(user_id=user_id).on_conflict_do_nothing()
                )
            else:
                await insert_unless_exists(self._conn, locks, user)
            await self._conn.execute(_LOCK_USER, user)

    async def claim(
        self, job_id: int, *, worker: str, now: datetime, lease: timedelta
    ) -> tuple[ClaimOutcome, ExtractionJob | None]:
        current = await self.get(job_id)
        if current is None or not current.is_due(now):
            return ClaimOutcome.UNAVAILABLE, None
        await self._lock_user(current.user_id)
        token = uuid.uuid4().hex
        if self._conn.dialect.update_returning:  # PostgreSQL, SQLite: one statement
            values = {"job_id": job_id, "now": now, "worker": worker, "token": token}
            claimed = await self._conn.execute(_CLAIM_RETURNING, values | {"until": now + lease})
            row = claimed.first()
            if row is not None:
                return ClaimOutcome.CLAIMED, from_row(row)
            if await self._busy(current.user_id, other_than=job_id):
                return await self._park(job_id, now)
            return ClaimOutcome.UNAVAILABLE, None
        if await self._busy(current.user_id, other_than=job_id):
            return await self._park(job_id, now)
        claim = (
            update(t)
            .where(t.c.id == job_id, _due(now))
            .values(
                status=JobStatus.PROCESSING.value,
                locked_by=worker,
                lease_token=token,
                locked_until=now + lease,
                updated_at=now,
            )
        )
        result = await self._conn.execute(claim)
        if result.rowcount != 1:
            return ClaimOutcome.UNAVAILABLE, None
        return ClaimOutcome.CLAIMED, await self.get(job_id)

    async def _park(self, job_id: int, now: datetime) -> tuple[ClaimOutcome, None]:
        """The user is busy: the job waits, with no message on its way, to be woken."""
        await self._conn.execute(
            update(t).where(t.c.id == job_id, _due(now)).values(enqueued_at=None)
        )
        return ClaimOutcome.USER_BUSY, None

    async def _busy(self, user_id: str, *, other_than: int) -> bool:
        """Whether another job of the user is ``processing``, whatever its lease."""
        busy = select(t.c.id).where(
            t.c.user_id == user_id,
            t.c.status == JobStatus.PROCESSING.value,
            t.c.id != other_than,
        )
        return (await self._conn.execute(busy.limit(1))).first() is not None

    async def renew_lease(self, job_id: int, *, lease: Lease, until: datetime) -> bool:
        result = await self._conn.execute(
            update(t)
            .where(t.c.id == job_id, t.c.status == JobStatus.PROCESSING.value, _held_by(lease))
            .values(locked_until=until)
        )
        return bool(result.rowcount == 1)

    async def save(self, job: ExtractionJob, *, expected: JobStatus, lease: Lease | None) -> bool:
        if lease is not None and lease.token:
            held = {"job_id": job.id, "expected": expected.value, "owner": lease.owner}
            result = await self._conn.execute(
                _SAVE_HELD, to_row(job) | held | {"token": lease.token}
            )
            return bool(result.rowcount == 1)
        stmt = update(t).where(t.c.id == job.id, t.c.status == expected.value)
        if lease is not None:
            stmt = stmt.where(_held_by(lease))
        result = await self._conn.execute(stmt.values(**to_row(job)))
        return bool(result.rowcount == 1)

    async def wake(
        self, *, now: datetime, fresh_since: datetime, limit: int, user_id: str | None = None
    ) -> list[int]:
        if user_id is not None:
            await self._lock_user(user_id)
            params = {"user_id": user_id, "now": now, "fresh_since": fresh_since, "limit": limit}
            found = await self._conn.execute(_WAKE_USER, params)
        else:
            stmt = select(func.min(t.c.id)).where(_due(now), ~_attended(now, fresh_since))
            stmt = stmt.group_by(t.c.user_id).order_by(func.min(t.c.id)).limit(limit)
            found = await self._conn.execute(stmt)
        ids = [int(v) for v in found.scalars()]
        if ids:
            await self._conn.execute(update(t).where(t.c.id.in_(ids)).values(enqueued_at=now))
        return ids

    async def count_by_status(self) -> dict[str, int]:
        stmt = select(t.c.status, func.count()).group_by(t.c.status)
        return {str(status): int(n) for status, n in (await self._conn.execute(stmt)).all()}

    async def expired(self, *, now: datetime, limit: int) -> list[ExtractionJob]:
        stmt = (
            select(t)
            .where(t.c.status == JobStatus.PROCESSING.value, t.c.locked_until <= now)
            .order_by(t.c.locked_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [from_row(row) for row in await self._conn.execute(stmt)]

    async def list(self, query: JobQuery) -> list[ExtractionJob]:
        stmt = select(t).order_by(t.c.id.desc()).limit(query.limit)
        if query.user_id is not None:
            stmt = stmt.where(t.c.user_id == query.user_id)
        if query.statuses:
            stmt = stmt.where(t.c.status.in_([s.value for s in query.statuses]))
        if query.conversation_id is not None:
            stmt = stmt.where(t.c.conversation_id == query.conversation_id)
        if query.message_id is not None:
            stmt = stmt.where(t.c.source_message_id == query.message_id)
        if query.job_key is not None:
            stmt = stmt.where(t.c.idempotency_key == query.job_key)
        if query.before_id is not None:
            stmt = stmt.where(t.c.id < query.before_id)
        if query.updated_since is not None:
            stmt = stmt.where(t.c.updated_at >= query.updated_since)
        return [from_row(row) for row in await self._conn.execute(stmt)]
