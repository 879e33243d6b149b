"""Job sweepers: rescue jobs whose lease expired, and wake users whose next job has no
message on its way (docs/behaviour.md, "Extraction jobs")."""

from __future__ import annotations

import structlog

from memvault.application.config import JobPolicy
from memvault.application.jobs.wake import WakeUsers
from memvault.application.ports.clock import Clock
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.metrics import Metrics
from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.domain.jobs import ExtractionJob, JobStatus

log = structlog.get_logger(__name__)


class RescueExpiredJobsUseCase:
    """``processing`` past its lease → ``failed`` (counted as an attempt) or ``dead``;
    then each rescued job's user is woken (the lease's owner, if it still runs, can no
    longer write: its lease token is gone)."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, queue: JobQueue, policy: JobPolicy
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._queue = queue
        self._policy = policy
        self._wake = WakeUsers(uow, clock, queue, policy)

    async def __call__(self) -> int:
        now = self._clock.now()
        rescued: list[ExtractionJob] = []
        async with self._uow() as uow:
            expired = await uow.jobs.expired(now=now, limit=self._policy.sweep_batch)
            for job in expired:
                held = job.lease
                job.rescue(now=now, backoff=self._policy.backoff)
                if await uow.jobs.save(job, expected=JobStatus.PROCESSING, lease=held):
                    log.warning("job_rescued", job_id=job.id, status=job.status.value)
                    rescued.append(job)
            await uow.commit()
        retry = [job for job in rescued if job.status is JobStatus.FAILED]
        # Each retry waits for its own backoff: a message that arrives before the job is
        # due is dropped by the claim, and the job would wait for the re-enqueue sweep.
        for job in retry:
            if job.id is not None and job.next_retry_at is not None:
                delay = max(0, int((job.next_retry_at - now).total_seconds() * 1000))
                await self._queue.enqueue([job.id], delay_ms=delay)
        await self._wake(job.user_id for job in rescued)
        return len(expired)


class EnqueueDueJobsUseCase:
    """Wakes every user whom nothing attends to: no job of theirs is running and no due
    one has had a message enqueued for ``requeue_grace`` (it was lost: a crash, an
    in-process broker that stopped). Only the user's oldest due job is sent; its end
    wakes the next, so a backlog costs one message per job, not one per sweep."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, queue: JobQueue, policy: JobPolicy
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._queue = queue
        self._policy = policy

    async def __call__(self, *, immediately: bool = False) -> int:
        """``immediately``: any message sent before now counts as lost (at start-up)."""
        now = self._clock.now()
        grace = self._policy.requeue_grace if not immediately else type(self._policy.lease)()
        async with self._uow() as uow:
            ids = await uow.jobs.wake(
                now=now, fresh_since=now - grace, limit=self._policy.sweep_batch
            )
            await uow.commit()
        if ids:
            await self._queue.enqueue(ids)
        return len(ids)


class MeasureJobsUseCase:
    """Publishes the number of jobs per status (the queue depth) as a gauge."""

    def __init__(self, uow: UnitOfWorkFactory, metrics: Metrics) -> None:
        self._uow = uow
        self._metrics = metrics

    async def __call__(self) -> dict[str, int]:
        async with self._uow(read_only=True) as uow:
            counts = await uow.jobs.count_by_status()
        measured = {status.value: counts.get(status.value, 0) for status in JobStatus}
        self._metrics.set_jobs(measured)
        return measured
