"""Process one extraction job (docs/behaviour.md, "Extraction jobs"; docs/adr/0001).

1. Claim by compare-and-set (with a lease); a user with a job in flight puts ours back.
2. Parse the payload: unparseable is dead at once.
3. Read settings, extract (the lease is renewed meanwhile); failures are retryable.
4. Normalise and filter facts; decide and write items, audits and the job's success in
   one transaction, compare-and-set on the lease.
5. After commit: re-index changed items. On failure: a transient one (a dependency down)
   is ``failed`` with a capped wait for the retry horizon and never counted; a permanent
   one is ``dead`` at once; any other is ``failed`` with backoff or ``dead`` at
   ``max_retry``. The retry is enqueued with its delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum

import structlog

from memvault.application.config import JobPolicy
from memvault.application.ports.clock import Clock
from memvault.application.ports.extractor import ExtractionRequest, Extractor
from memvault.application.ports.failures import FailureKind, failure_kind
from memvault.application.ports.indexer import ItemIndexer
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.memory_writer import FactWriter, WriteResult
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import ClaimOutcome, UnitOfWorkFactory
from memvault.domain.errors import InvalidValue
from memvault.domain.facts import Fact, normalize_facts, sift_facts
from memvault.domain.jobs import ExtractionJob, ExtractPayload, FactOutcome, JobStatus
from memvault.domain.settings import MemorySettings

log = structlog.get_logger(__name__)


class JobOutcome(StrEnum):
    SUCCEEDED = "success"
    FAILED = "failed"
    DEAD = "dead"
    BUSY = "busy"
    SKIPPED = "skipped"
    LOST = "lost"
    """The lease ran out and another worker took over: this attempt's work is dropped."""


COUNTED = frozenset({JobOutcome.SUCCEEDED, JobOutcome.FAILED, JobOutcome.DEAD})


class LeaseLost(Exception):
    pass


def trace_of(payload_json: str) -> str | None:
    """The id of the request that caused the job, for its log lines (``None`` when the
    payload has none or cannot be read: parsing it properly reports that)."""
    try:
        trace = json.loads(payload_json).get("trace_id")
    except (ValueError, AttributeError):
        return None
    return trace if isinstance(trace, str) and trace else None


class ProcessJobUseCase:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        extractor: Extractor,
        writer: FactWriter,
        indexer: ItemIndexer,
        queue: JobQueue,
        policy: JobPolicy,
        worker: str,
        *,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._extractor = extractor
        self._writer = writer
        self._indexer = indexer
        self._queue = queue
        self._policy = policy
        self._worker = worker
        self._metrics = metrics

    async def __call__(self, job_id: int) -> JobOutcome:
        outcome = await self._process(job_id)
        if outcome in COUNTED:
            self._metrics.count(Metric.JOB_TOTAL, status=outcome.value)
        return outcome

    async def _process(self, job_id: int) -> JobOutcome:
        now = self._clock.now()
        async with self._uow() as uow:
            outcome, job = await uow.jobs.claim(
                job_id, worker=self._worker, now=now, lease=self._policy.lease
            )
            await uow.commit()
        if outcome is ClaimOutcome.USER_BUSY:
            delay = int(self._policy.busy_retry_delay.total_seconds() * 1000)
            await self._queue.enqueue([job_id], delay_ms=delay)
            return JobOutcome.BUSY
        if job is None:
            return JobOutcome.SKIPPED
        request_id = trace_of(job.payload_json)
        if request_id is None:
            return await self._attempt(job_id, job)
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            return await self._attempt(job_id, job)

    async def _attempt(self, job_id: int, job: ExtractionJob) -> JobOutcome:
        log.info("job_claimed", job_id=job_id, user_id=job.user_id, attempt=job.retry_count + 1)
        if job.retry_count > 0:
            self._metrics.count(Metric.JOB_RETRY_TOTAL, job_type=job.job_type.value)
        try:
            payload = ExtractPayload.from_json(job.payload_json)
        except InvalidValue as error:
            return await self._give_up(job, f"unparseable job payload: {error}")
        try:
            result = await self._run(job, payload)
        except LeaseLost:
            log.warning("job_lease_lost", job_id=job_id)
            return JobOutcome.LOST
        except Exception as error:  # every failure of an attempt ends in _failed
            return await self._failed(job, error)
        await self._indexer.items_changed(result.changed)
        log.info("job_succeeded", job_id=job_id, actions=[a.value for a in result.actions])
        return JobOutcome.SUCCEEDED

    async def _run(self, job: ExtractionJob, payload: ExtractPayload) -> WriteResult:
        """The whole attempt runs under a renewed lease: extraction and the decision step
        (embedder and judge calls) can both be slow."""
        async with self._lease_kept(job):
            settings = await self._settings(job.user_id)
            facts, skipped = await self._facts(payload, settings)
            now = self._clock.now()
            async with self._uow(read_only=True) as reader:
                decided = await self._writer.decide(reader, facts, payload, now=now)
            async with self._uow() as uow:
                result = await self._writer.apply(
                    uow, decided, payload, source_event_id=job.source_event_id, now=now
                )
                job.succeed(
                    memory_ids=result.memory_ids,
                    outcomes=(*skipped, *result.outcomes),
                    now=now,
                )
                saved = await uow.jobs.save(job, expected=JobStatus.PROCESSING, worker=self._worker)
                if not saved:
                    raise LeaseLost
                await uow.commit()
        return result

    async def _settings(self, user_id: str) -> MemorySettings:
        async with self._uow() as uow:
            return await uow.settings.get(user_id) or MemorySettings(user_id=user_id)

    async def _facts(
        self, payload: ExtractPayload, settings: MemorySettings
    ) -> tuple[list[Fact], list[FactOutcome]]:
        """The facts to decide on, and the outcome of each one the settings (consent,
        secrets) or the confidence floor leave out."""
        if not settings.memory_enabled:
            return [], []
        candidates = await self._extractor.extract(
            ExtractionRequest(
                user_id=payload.user_id,
                conversation_id=payload.conversation_id,
                text=payload.source_text,
                role=payload.source_role,
                occurred_at=payload.occurred_at,
                assistant_id=payload.assistant_id,
                run_id=payload.run_id,
            )
        )
        return sift_facts(
            normalize_facts(candidates), settings, min_confidence=self._policy.min_confidence
        )

    @contextlib.asynccontextmanager
    async def _lease_kept(self, job: ExtractionJob) -> AsyncIterator[None]:
        """Renew the lease every third of its length while the block runs."""
        interval = self._policy.lease.total_seconds() / 3

        async def renew() -> None:
            while True:
                await asyncio.sleep(interval)
                until = self._clock.now() + self._policy.lease
                async with self._uow() as uow:
                    kept = await uow.jobs.renew_lease(job.id or 0, worker=self._worker, until=until)
                    await uow.commit()
                if not kept:
                    return

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _failed(self, job: ExtractionJob, error: Exception) -> JobOutcome:
        """Transient (a dependency down): retried for the horizon, never counted;
        permanent (a wrong key, a refused request): dead at once; anything else: counted
        toward ``max_retry``."""
        reason = f"{type(error).__name__}: {error}"
        kind = failure_kind(error)
        if kind is FailureKind.PERMANENT:
            return await self._give_up(job, reason)
        now = self._clock.now()
        if kind is FailureKind.TRANSIENT:
            jitter = random.random()
            job.defer(reason, now=now, backoff=self._policy.transient, jitter=jitter)
        else:
            job.fail(reason, now=now, backoff=self._policy.backoff)
        return await self._record_failure(job, reason, now)

    async def _give_up(self, job: ExtractionJob, reason: str) -> JobOutcome:
        now = self._clock.now()
        job.kill(reason, now=now)
        return await self._record_failure(job, reason, now)

    async def _record_failure(self, job: ExtractionJob, reason: str, now: datetime) -> JobOutcome:
        async with self._uow() as uow:
            saved = await uow.jobs.save(job, expected=JobStatus.PROCESSING, worker=self._worker)
            await uow.commit()
        if not saved:
            return JobOutcome.LOST
        log.warning("job_failed", job_id=job.id, status=job.status.value, reason=reason)
        if job.status is JobStatus.DEAD:
            return JobOutcome.DEAD
        if job.next_retry_at is not None and job.id is not None:
            delay = max(0, int((job.next_retry_at - now).total_seconds() * 1000))
            await self._queue.enqueue([job.id], delay_ms=delay)
        return JobOutcome.FAILED
