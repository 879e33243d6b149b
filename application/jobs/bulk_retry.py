"""Operators send many failed or dead jobs again at once, by filter (docs/behaviour.md,
"Extraction jobs"): each one audited as a single retry is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from memvault.application.jobs.queries import parse_job_statuses
from memvault.application.ports.clock import Clock
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.repositories import JobQuery, UnitOfWork, UnitOfWorkFactory
from memvault.domain.audit import AuditEntry, AuditTarget
from memvault.domain.errors import InvalidValue
from memvault.domain.jobs import ExtractionJob, JobStatus

MAX_BULK = 1000
RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.DEAD})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryJobs:
    """Jobs in ``status`` last changed at or after ``since`` (of one user, if given),
    newest first, at most ``limit`` (1 to 1000)."""

    status: str
    since: datetime
    user_id: str | None = None
    limit: int = 100

    def query(self) -> JobQuery:
        statuses = parse_job_statuses([self.status])
        if not statuses or not statuses <= RETRYABLE:
            raise InvalidValue("status must be failed or dead", field="status")
        if not 1 <= self.limit <= MAX_BULK:
            raise InvalidValue(f"limit must be 1 to {MAX_BULK}", field="limit")
        return JobQuery(
            user_id=self.user_id,
            statuses=statuses,
            updated_since=self.since,
            limit=self.limit,
        )


class RetryJobsUseCase:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, queue: JobQueue) -> None:
        self._uow = uow
        self._clock = clock
        self._queue = queue

    async def __call__(self, command: RetryJobs, *, operator: str, reason: str | None) -> list[int]:
        """The ids sent again (a job that changed meanwhile is skipped), enqueued after
        commit."""
        query = command.query()
        now = self._clock.now()
        retried: list[int] = []
        async with self._uow() as uow:
            for job in await uow.jobs.list(query):
                if await self._replay(uow, job, operator=operator, reason=reason, now=now):
                    retried.append(job.id or 0)
            await uow.commit()
        if retried:
            await self._queue.enqueue(retried)
        return retried

    @staticmethod
    async def _replay(
        uow: UnitOfWork, job: ExtractionJob, *, operator: str, reason: str | None, now: datetime
    ) -> bool:
        before, retries = job.status, job.retry_count
        job.replay(now=now)
        if not await uow.jobs.save(job, expected=before, lease=None):
            return False
        await uow.audit.add(
            AuditEntry.operator_retried(
                target_type=AuditTarget.JOB,
                target_id=job.id or 0,
                user_id=job.user_id,
                operator_id=operator,
                reason=reason,
                before=(before.value, retries),
                after=(job.status.value, job.retry_count),
                now=now,
            )
        )
        return True
