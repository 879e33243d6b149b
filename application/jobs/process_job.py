"""Process one extraction job (docs/behaviour.md, "Extraction jobs"; docs/adr/0001).

1. Claim by compare-and-set under a lease (owner and token), and read the user's
   settings in the same transaction; a job whose user has one running is parked, and
   this message is dropped.
2. Parse the payload: unparseable is dead at once.
3. Extract, decide (no read transaction when there is no fact), while the lease is
   renewed; losing it (or the process stopping) stops the work before it commits.
4. Write items, audits, the job's success and the wake of the user's next job in one
   transaction, compare-and-set on the lease: a stale worker's commit is refused and
   rolled back.
5. After commit: re-index changed items. On failure: a transient one (a dependency down)
   is ``failed`` with a capped wait for the retry horizon and never counted; a permanent
   one is ``dead`` at once; any other is ``failed`` with backoff or ``dead`` at
   ``max_retry``. The retry is enqueued with its delay. A stopping process releases the
   job instead (``pending``, not counted).
6. Whatever else the end, the user's next job is woken after it.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Coroutine
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import structlog

from memvault.application.config import JobPolicy
from memvault.application.jobs.stop import JobStop
from memvault.application.jobs.wake import WakeUsers
from memvault.application.ports.clock import Clock
from memvault.application.ports.extractor import ExtractionRequest, Extractor
from memvault.application.ports.failures import FailureKind, failure_kind
from memvault.application.ports.indexer import ItemIndexer, sync_deadline
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.memory_writer import FactWriter, WriteResult
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import ClaimOutcome, UnitOfWorkFactory
from memvault.domain.decisions import Decision
from memvault.domain.errors import InvalidValue
from memvault.domain.facts import Fact, normalize_facts, sift_facts
from memvault.domain.jobs import ExtractionJob, ExtractPayload, FactOutcome, JobStatus, Lease
from memvault.domain.settings import MemorySettings

log = structlog.get_logger(__name__)


class JobOutcome(StrEnum):
    SUCCEEDED = "success"
    FAILED = "failed"
    DEAD = "dead"
    BUSY = "busy"
    """Its user has a job running: parked until that one ends."""
    SKIPPED = "skipped"
    LOST = "lost"
    """The lease ran out and another worker took over: this attempt's work is dropped."""
    RELEASED = "released"
    """The process is stopping: the job is ``pending`` again, its attempt not counted."""


COUNTED = frozenset({JobOutcome.SUCCEEDED, JobOutcome.FAILED, JobOutcome.DEAD})
T = TypeVar("T")


class LeaseLost(Exception):
    """The lease is no longer this attempt's: nothing it did may be committed."""


class WorkStopped(Exception):
    """The process is stopping before the attempt began to commit."""


class Commit:
    """Set once the attempt opens its write transaction: from then on it runs to the
    end, and the compare-and-set on the lease decides whether its work counts."""

    def __init__(self) -> None:
        self.begun = False


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
        stop: JobStop | None = None,
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
        self._stop = stop or JobStop()
        self._wake = WakeUsers(uow, clock, queue, policy)

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
            settings: MemorySettings | None = None
            if job is not None:  # read in the claim's transaction: no transaction of its own
                settings = await uow.settings.get(job.user_id)
            await uow.commit()
        if outcome is ClaimOutcome.USER_BUSY:
            log.debug("job_parked", job_id=job_id)
            return JobOutcome.BUSY
        if job is None or job.lease is None:
            return JobOutcome.SKIPPED
        settings = settings or MemorySettings(user_id=job.user_id)
        ended = JobOutcome.SKIPPED
        try:
            request_id = trace_of(job.payload_json)
            if request_id is None:
                ended = await self._attempt(job, job.lease, settings)
            else:
                with structlog.contextvars.bound_contextvars(request_id=request_id):
                    ended = await self._attempt(job, job.lease, settings)
            return ended
        finally:
            if ended is not JobOutcome.SUCCEEDED:  # a success woke the user as it committed
                await self._wake([job.user_id])

    async def _attempt(
        self, job: ExtractionJob, held: Lease, settings: MemorySettings
    ) -> JobOutcome:
        log.info("job_claimed", job_id=job.id, user_id=job.user_id, attempt=job.retry_count + 1)
        if job.retry_count > 0:
            self._metrics.count(Metric.JOB_RETRY_TOTAL, job_type=job.job_type.value)
        try:
            payload = ExtractPayload.from_json(job.payload_json)
        except InvalidValue as error:
            return await self._give_up(job, held, f"unparseable job payload: {error}")
        commit = Commit()
        try:
            result = await self._under_lease(
                job, held, commit, self._run(job, held, payload, settings, commit)
            )
        except LeaseLost:
            log.warning("job_lease_lost", job_id=job.id)
            return JobOutcome.LOST
        except WorkStopped:
            return await self._release(job, held)
        except Exception as error:  # every failure of an attempt ends in _failed
            return await self._failed(job, held, error)
        await self._indexer.items_changed(result.changed)
        log.info("job_succeeded", job_id=job.id, actions=[a.value for a in result.actions])
        return JobOutcome.SUCCEEDED

    async def _run(
        self,
        job: ExtractionJob,
        held: Lease,
        payload: ExtractPayload,
        settings: MemorySettings,
        commit: Commit,
    ) -> WriteResult:
        """The whole attempt runs under a renewed lease: extraction and the decision step
        (embedder and judge calls) can both be slow. The success commits with the wake
        of the user's next job (one transaction); the woken job is sent after it."""
        facts, skipped = await self._facts(payload, settings)
        now = self._clock.now()
        decided: list[tuple[Fact, Decision]] = []
        if facts:
            async with self._uow(read_only=True) as reader:
                decided = await self._writer.decide(reader, facts, payload, now=now)
        commit.begun = True
        # Counted from now, not from before the slow decisions; a fact changes about one item.
        until = sync_deadline(self._indexer, len(decided), self._clock.now())
        async with self._uow() as uow:
            result = await self._writer.apply(
                uow,
                decided,
                payload,
                source_event_id=job.source_event_id,
                now=now,
                sync_until=until,
            )
            job.succeed(
                memory_ids=result.memory_ids, outcomes=(*skipped, *result.outcomes), now=now
            )
            if not await uow.jobs.save(job, expected=JobStatus.PROCESSING, lease=held):
                raise LeaseLost
            woken = await self._wake.within(uow, job.user_id)
            await uow.commit()
        await self._wake.send(woken)
        return result

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

    async def _under_lease(
        self, job: ExtractionJob, held: Lease, commit: Commit, work: Coroutine[Any, Any, T]
    ) -> T:
        """Run ``work`` while its lease is renewed. Unless it has begun to commit, it is
        cancelled when the lease is lost (:class:`LeaseLost`) or the process stops
        (:class:`WorkStopped`)."""
        task = asyncio.ensure_future(work)
        keeper = asyncio.create_task(self._keep_lease(job.id or 0, held))
        with self._stop.watching() as stopping:
            stopper = asyncio.create_task(stopping.wait())
            try:
                await asyncio.wait({task, keeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not task.done() and not commit.begun:
                    task.cancel()
                    await asyncio.wait({task})
                    if task.cancelled():
                        raise LeaseLost if keeper.done() else WorkStopped
                return await task
            finally:
                for pending in (task, keeper, stopper):
                    pending.cancel()
                await asyncio.gather(task, keeper, stopper, return_exceptions=True)

    async def _keep_lease(self, job_id: int, held: Lease) -> None:
        """Renew the lease every third of its length; return once it is lost: refused
        (another claim holds the job) or not renewed before it ran out."""
        interval = self._policy.lease.total_seconds() / 3
        held_until = self._clock.now() + self._policy.lease
        while True:
            await asyncio.sleep(interval)
            until = self._clock.now() + self._policy.lease
            try:
                async with self._uow() as uow:
                    kept = await uow.jobs.renew_lease(job_id, lease=held, until=until)
                    await uow.commit()
            except Exception as error:  # the database may come back before the lease ends
                log.warning("job_lease_renewal_failed", job_id=job_id, error=repr(error))
                if self._clock.now() + self._policy.lease / 3 < held_until:
                    continue
                return
            if not kept:
                return
            held_until = until

    async def _release(self, job: ExtractionJob, held: Lease) -> JobOutcome:
        job.release(now=self._clock.now())
        async with self._uow() as uow:
            saved = await uow.jobs.save(job, expected=JobStatus.PROCESSING, lease=held)
            await uow.commit()
        log.info("job_released", job_id=job.id, saved=saved)
        return JobOutcome.RELEASED if saved else JobOutcome.LOST

    async def _failed(self, job: ExtractionJob, held: Lease, error: Exception) -> JobOutcome:
        """Transient (a dependency down): retried for the horizon, never counted;
        permanent (a wrong key, a refused request): dead at once; anything else: counted
        toward ``max_retry``."""
        reason = f"{type(error).__name__}: {error}"
        kind = failure_kind(error)
        if kind is FailureKind.PERMANENT:
            return await self._give_up(job, held, reason)
        now = self._clock.now()
        if kind is FailureKind.TRANSIENT:
            jitter = random.random()
            job.defer(reason, now=now, backoff=self._policy.transient, jitter=jitter)
        else:
            job.fail(reason, now=now, backoff=self._policy.backoff)
        return await self._record_failure(job, held, reason, now)

    async def _give_up(self, job: ExtractionJob, held: Lease, reason: str) -> JobOutcome:
        now = self._clock.now()
        job.kill(reason, now=now)
        return await self._record_failure(job, held, reason, now)

    async def _record_failure(
        self, job: ExtractionJob, held: Lease, reason: str, now: datetime
    ) -> JobOutcome:
        async with self._uow() as uow:
            saved = await uow.jobs.save(job, expected=JobStatus.PROCESSING, lease=held)
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
