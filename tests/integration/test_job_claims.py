"""Job claims under concurrency, on every dialect (docs/adr/0001).

Concurrency here is real: each contender has its own connection and transaction.
PostgreSQL and MariaDB serialise claims of one user on the user's lock row and let
sweepers skip rows another sweeper holds (``FOR UPDATE SKIP LOCKED``); SQLite
serialises every writer (``BEGIN IMMEDIATE``), which must give the same outcomes.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from memvault.adapters.system_clock import SystemClock
from memvault.application.config import JobPolicy
from memvault.application.jobs.sweep import RescueExpiredJobsUseCase
from memvault.application.ports.repositories import ClaimOutcome
from memvault.domain.jobs import ExtractionJob, JobStatus, Lease
from memvault.domain.retry import ExponentialBackoff
from tests.doubles import RecordingQueue
from tests.integration.job_support import make_job, utcnow

LEASE = timedelta(seconds=30)
HOLD_S = 0.3
"""How long a transaction stays open while a contender tries its claim."""


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


def other_user() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


async def add(uow: SqlUnitOfWorkFactory, *jobs: ExtractionJob) -> list[int]:
    async with uow() as tx:
        ids = [await tx.jobs.add_unless_exists(job) for job in jobs]
        await tx.commit()
    assert None not in ids
    return [job_id for job_id in ids if job_id is not None]


async def read(uow: SqlUnitOfWorkFactory, job_id: int) -> ExtractionJob:
    async with uow() as tx:
        job = await tx.jobs.get(job_id)
    assert job is not None
    return job


async def claim(
    uow: SqlUnitOfWorkFactory, job_id: int, worker: str, *, lease: timedelta = LEASE
) -> ClaimOutcome:
    async with uow() as tx:
        outcome, _ = await tx.jobs.claim(job_id, worker=worker, now=utcnow(), lease=lease)
        await tx.commit()
    return outcome


async def test_two_workers_claiming_the_same_job_at_once_leave_exactly_one_claim(
    uow: SqlUnitOfWorkFactory,
):
    for _ in range(5):
        (job_id,) = await add(uow, make_job(other_user()))

        outcomes = await asyncio.gather(
            claim(uow, job_id, "worker-a"), claim(uow, job_id, "worker-b")
        )

        assert sorted(outcomes) == [ClaimOutcome.CLAIMED, ClaimOutcome.UNAVAILABLE]
        winner = "worker-a" if outcomes[0] is ClaimOutcome.CLAIMED else "worker-b"
        job = await read(uow, job_id)
        assert job.status is JobStatus.PROCESSING
        assert job.locked_by == winner


async def test_two_jobs_of_one_user_claimed_at_once_give_one_claim_and_one_busy_user(
    uow: SqlUnitOfWorkFactory,
):
    for _ in range(5):
        user = other_user()
        first, second = await add(uow, make_job(user, "I love tea"), make_job(user, "I love jazz"))

        outcomes = await asyncio.gather(
            claim(uow, first, "worker-a"), claim(uow, second, "worker-b")
        )

        assert sorted(outcomes) == [ClaimOutcome.CLAIMED, ClaimOutcome.USER_BUSY]
        statuses = sorted([(await read(uow, first)).status, (await read(uow, second)).status])
        assert statuses == [JobStatus.PENDING, JobStatus.PROCESSING]


async def test_a_claim_waits_for_an_open_claim_of_the_same_user_and_then_finds_the_user_busy(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    first, second = await add(
        uow, make_job(user_id, "I love tea"), make_job(user_id, "I like jazz")
    )

    async with uow() as held:
        outcome, _ = await held.jobs.claim(first, worker="worker-a", now=utcnow(), lease=LEASE)
        assert outcome is ClaimOutcome.CLAIMED
        contender = asyncio.create_task(claim(uow, second, "worker-b"))
        await asyncio.sleep(HOLD_S)
        assert not contender.done(), "the second claim did not wait for the user's lock"
        await held.commit()

    assert await contender is ClaimOutcome.USER_BUSY
    assert (await read(uow, second)).status is JobStatus.PENDING


async def test_a_job_of_a_user_whose_other_job_lease_expired_waits_for_its_rescue(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    first, second = await add(
        uow, make_job(user_id, "I love tea"), make_job(user_id, "I like jazz")
    )
    assert await claim(uow, first, "worker-a", lease=timedelta(seconds=-1)) is ClaimOutcome.CLAIMED

    assert await claim(uow, second, "worker-b") is ClaimOutcome.USER_BUSY
    await RescueExpiredJobsUseCase(uow, SystemClock(), RecordingQueue(), JobPolicy())()

    assert await claim(uow, second, "worker-b") is ClaimOutcome.CLAIMED


async def test_a_job_of_a_busy_user_is_parked_and_the_end_of_the_running_one_wakes_it(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    first, second = await add(
        uow, make_job(user_id, "I love tea"), make_job(user_id, "I like jazz")
    )
    assert await claim(uow, first, "worker-a") is ClaimOutcome.CLAIMED
    assert await claim(uow, second, "worker-b") is ClaimOutcome.USER_BUSY
    assert (await read(uow, second)).enqueued_at is None
    assert await wake(uow, user_id) == []  # the user's job is still running

    await finish(uow, first)

    assert await wake(uow, user_id) == [second]
    assert (await read(uow, second)).enqueued_at is not None
    assert await wake(uow, user_id) == []  # its message is on its way


async def wake(
    uow: SqlUnitOfWorkFactory, user: str | None = None, *, limit: int = 100
) -> list[int]:
    """What a wake (of ``user``, or the sweeper's of everyone) enqueues, with a 10 s grace."""
    now = utcnow()
    async with uow() as tx:
        woken = await tx.jobs.wake(
            now=now, fresh_since=now - timedelta(seconds=10), limit=limit, user_id=user
        )
        await tx.commit()
    return woken


async def finish(uow: SqlUnitOfWorkFactory, job_id: int) -> None:
    async with uow() as tx:
        job = await tx.jobs.get(job_id)
        assert job is not None
        held = job.lease
        job.succeed(memory_ids=(), now=utcnow())
        assert await tx.jobs.save(job, expected=JobStatus.PROCESSING, lease=held)
        await tx.commit()


async def test_the_sweeper_wakes_only_the_oldest_due_job_of_each_unattended_user(
    uow: SqlUnitOfWorkFactory,
):
    lost = utcnow() - timedelta(minutes=1)
    idle, busy, attended = other_user(), other_user(), other_user()
    idle_jobs = await add(uow, *(make_job(idle, f"I love tea {n}") for n in range(3)))
    busy_jobs = await add(uow, *(make_job(busy, f"I love jazz {n}") for n in range(2)))
    attended_jobs = await add(uow, make_job(attended, "I love rain"), make_job(attended, "I hate"))
    await claim(uow, busy_jobs[0], "worker-a")
    for job_id in [*idle_jobs, busy_jobs[1], attended_jobs[0]]:
        await set_enqueued(uow, job_id, lost)
    await set_enqueued(uow, attended_jobs[1], utcnow())

    woken = set(await wake(uow, limit=10_000)) & {*idle_jobs, *busy_jobs, *attended_jobs}

    assert woken == {idle_jobs[0]}


async def set_enqueued(uow: SqlUnitOfWorkFactory, job_id: int, at: datetime | None) -> None:
    async with uow() as tx:
        job = await tx.jobs.get(job_id)
        assert job is not None
        job.enqueued(at=at) if at is not None else job.park()
        assert await tx.jobs.save(job, expected=job.status, lease=None)
        await tx.commit()


async def test_a_failed_job_is_not_claimed_before_its_next_retry_time(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    later = utcnow() + timedelta(minutes=5)
    (job_id,) = await add(
        uow, make_job(user_id, status=JobStatus.FAILED, retry_count=1, next_retry_at=later)
    )

    assert await claim(uow, job_id, "worker-a") is ClaimOutcome.UNAVAILABLE
    job = await read(uow, job_id)
    assert job.status is JobStatus.FAILED
    assert job.locked_by is None


async def test_a_finished_job_is_not_claimed_again(uow: SqlUnitOfWorkFactory, user_id: str):
    (job_id,) = await add(uow, make_job(user_id, status=JobStatus.SUCCESS))

    assert await claim(uow, job_id, "worker-a") is ClaimOutcome.UNAVAILABLE
    assert (await read(uow, job_id)).status is JobStatus.SUCCESS


async def test_a_worker_whose_lease_was_taken_over_cannot_save_its_result(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    (job_id,) = await add(uow, make_job(user_id))
    start = utcnow()
    async with uow() as tx:
        _, stale = await tx.jobs.claim(
            job_id, worker="worker-a", now=start, lease=timedelta(seconds=1)
        )
        await tx.commit()
    assert stale is not None
    rescued = await read(uow, job_id)
    assert stale.lease is not None
    rescue_time = start + timedelta(seconds=2)
    rescued.rescue(now=rescue_time, backoff=ExponentialBackoff())
    async with uow() as tx:
        assert await tx.jobs.save(rescued, expected=JobStatus.PROCESSING, lease=stale.lease)
        await tx.commit()
    async with uow() as tx:
        outcome, _ = await tx.jobs.claim(
            job_id, worker="worker-b", now=start + timedelta(seconds=10), lease=LEASE
        )
        await tx.commit()
    assert outcome is ClaimOutcome.CLAIMED

    held = stale.lease
    stale.succeed(memory_ids=(), now=start + timedelta(seconds=11))
    async with uow() as tx:
        saved = await tx.jobs.save(stale, expected=JobStatus.PROCESSING, lease=held)
        await tx.commit()

    assert not saved
    job = await read(uow, job_id)
    assert job.status is JobStatus.PROCESSING
    assert job.locked_by == "worker-b"
    assert job.retry_count == 1


async def test_a_lease_renewal_by_a_worker_that_lost_the_job_changes_nothing(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    (job_id,) = await add(uow, make_job(user_id))
    assert await claim(uow, job_id, "worker-b") is ClaimOutcome.CLAIMED
    before = await read(uow, job_id)
    assert before.lease is not None

    for other in (
        Lease(owner="worker-a", token=before.lease.token),
        replace(before.lease, token="0"),
    ):
        async with uow() as tx:
            renewed = await tx.jobs.renew_lease(
                job_id, lease=other, until=utcnow() + timedelta(hours=1)
            )
            await tx.commit()
        assert not renewed
    assert (await read(uow, job_id)).locked_until == before.locked_until


async def expire(uow: SqlUnitOfWorkFactory, count: int) -> list[int]:
    """``count`` jobs of different users, claimed by a worker whose lease is over."""
    ids = await add(uow, *(make_job(other_user()) for _ in range(count)))
    for job_id in ids:
        claimed = await claim(uow, job_id, "vanished", lease=timedelta(seconds=-1))
        assert claimed is ClaimOutcome.CLAIMED
    return ids


async def test_a_sweeper_does_not_see_the_expired_jobs_another_sweeper_holds(
    uow: SqlUnitOfWorkFactory,
):
    ids = await expire(uow, 5)

    async def second_sweeper() -> set[int]:
        async with uow() as tx:
            return {job.id for job in await tx.jobs.expired(now=utcnow(), limit=10_000) if job.id}

    async with uow() as first:
        held = await first.jobs.expired(now=utcnow(), limit=10_000)
        assert set(ids) <= {job.id for job in held}
        seen_by_second = asyncio.create_task(second_sweeper())
        await asyncio.sleep(HOLD_S)
        for job in held:
            if job.id in ids:
                held = job.lease
                job.rescue(now=utcnow(), backoff=ExponentialBackoff())
                assert await first.jobs.save(job, expected=JobStatus.PROCESSING, lease=held)
        await first.commit()

    assert not set(ids) & await seen_by_second


async def test_two_sweepers_at_once_rescue_each_expired_job_exactly_once(
    uow: SqlUnitOfWorkFactory,
):
    ids = await expire(uow, 20)
    queue = RecordingQueue()
    policy = JobPolicy()

    sweepers = [RescueExpiredJobsUseCase(uow, SystemClock(), queue, policy) for _ in range(2)]

    await asyncio.gather(*(sweep() for sweep in sweepers))

    for job_id in ids:
        job = await read(uow, job_id)
        assert job.status is JobStatus.FAILED
        assert job.retry_count == 1
        assert job.last_error is not None
        assert "lease expired" in job.last_error
    assert sorted(job_id for job_id in queue.ids() if job_id in ids) == sorted(ids)
