"""Job visibility for users (their own jobs) and operators (every user's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memvault.application.ports.clock import Clock
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.repositories import JobQuery, UnitOfWorkFactory
from memvault.application.shared.cursors import decode_id_cursor, encode_id_cursor
from memvault.application.shared.paging import page_limit
from memvault.domain.audit import AuditEntry, AuditTarget
from memvault.domain.errors import InvalidValue, JobNotFound
from memvault.domain.jobs import ExtractionJob, JobStatus

MAX_LIMIT = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ListJobs:
    user_id: str | None
    statuses: Sequence[str] = ()
    conversation_id: str | None = None
    message_id: str | None = None
    job_key: str | None = None
    limit: int | None = None
    cursor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPage:
    items: list[ExtractionJob]
    next_cursor: str | None


def parse_job_statuses(values: Sequence[str]) -> frozenset[JobStatus]:
    try:
        return frozenset(JobStatus(v.strip().lower()) for v in values)
    except ValueError as error:
        allowed = ", ".join(s.value for s in JobStatus)
        raise InvalidValue(f"status must be one of {allowed}", field="status") from error


class ListJobsUseCase:
    """Newest first. ``user_id=None`` is for operators only (the caller checks the scope)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: ListJobs) -> JobPage:
        limit = page_limit(query.limit, default=20, maximum=MAX_LIMIT)
        async with self._uow(read_only=True) as uow:
            rows = await uow.jobs.list(
                JobQuery(
                    user_id=query.user_id,
                    statuses=parse_job_statuses(query.statuses),
                    conversation_id=query.conversation_id,
                    message_id=query.message_id,
                    job_key=query.job_key,
                    limit=limit + 1,
                    before_id=decode_id_cursor(query.cursor),
                )
            )
        items = rows[:limit]
        more = len(rows) > limit and items[-1].id is not None
        return JobPage(items=items, next_cursor=encode_id_cursor(items[-1].id) if more else None)


class GetJobUseCase:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, job_id: int, *, user_id: str | None) -> ExtractionJob:
        async with self._uow(read_only=True) as uow:
            job = await uow.jobs.get(job_id, user_id=user_id)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        return job


class RetryJobUseCase:
    """An operator sends a ``failed`` or ``dead`` job again (audited, target ``job``)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, queue: JobQueue) -> None:
        self._uow = uow
        self._clock = clock
        self._queue = queue

    async def __call__(self, job_id: int, *, operator: str, reason: str | None) -> ExtractionJob:
        now = self._clock.now()
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None:
                raise JobNotFound(f"job {job_id} not found")
            before = job.status
            retries = job.retry_count
            job.replay(now=now)
            if not await uow.jobs.save(job, expected=before, lease=None):
                raise JobNotFound(f"job {job_id} changed while retrying; try again")
            await uow.audit.add(
                AuditEntry.operator_retried(
                    target_type=AuditTarget.JOB,
                    target_id=job_id,
                    user_id=job.user_id,
                    operator_id=operator,
                    reason=reason,
                    before=(before.value, retries),
                    after=(job.status.value, job.retry_count),
                    now=now,
                )
            )
            await uow.commit()
        await self._queue.enqueue([job_id])
        return job
