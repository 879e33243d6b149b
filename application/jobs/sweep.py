"""Job sweepers: rescue jobs whose lease expired, and re-enqueue due jobs whose
message was lost (docs/behaviour.md, "Extraction jobs")."""

from __future__ import annotations

import structlog

from memvault.application.config import JobPolicy
from memvault.application.ports.clock import Clock
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.metrics import Metrics
from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.domain.jobs import ExtractionJob, JobStatus

log = structlog.get_logger(__name__)


class RescueExpiredJobsUseCase:
    """``processing`` past its lease → ``failed`` (counted as an attempt) or ``dead``."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, queue: JobQueue, policy: JobPolicy
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._queue = queue
        self._policy = policy

    async def __call__(self) -> int:
        now = self._clock.now()
        retry: list[ExtractionJob] = []
        async with self._uow() as uow:
            expired = await uow.jobs.expired(now=now, limit=self._policy.sweep_batch)
            for job in expired:
                worker = job.locked_by
                job.rescue(now=now, backoff=self._policy.backoff)
                if await uow.jobs.save(job, expected=JobStatus.PROCESSING, worker=worker):
                    log.warning("job_rescued", job_id=job.id, status=job.status.value)
                    if job.status is JobStatus.FAILED:
                        retry.append(job)
            await uow.commit()
        # Each retry waits for its own backoff: a message that arrives before the job is
        # due is dropped by the claim, and the job would wait for the re-enqueue sweep.
        for job in retry:
            if job.id is not None and job.next_retry_at is not None:
                delay = max(0, int((job.next_retry_at - now).total_seconds() * 1000))
                await self._queue.enqueue([job.id], delay_ms=delay)
        return len(expired)


class EnqueueDueJobsUseCase:
    """Due ``pending``/``failed`` jobs untouched for ``requeue_grace`` go to the queue
    again: their message was lost (a crash, an in-process broker that stopped). A
    duplicate message is harmless: the claim is compare-and-set."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, queue: JobQueue, policy: JobPolicy
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._queue = queue
        self._policy = policy

    async def __call__(self, *, immediately: bool = False) -> int:
        grace = self._policy.requeue_grace if not immediately else type(self._policy.lease)()
        async with self._uow() as uow:
            ids = await uow.jobs.due_ids(
                due_before=self._clock.now() - grace, limit=self._policy.sweep_batch
            )
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
