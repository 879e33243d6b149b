"""No job stays ``processing`` past its lease plus one sweep interval
(docs/adr/0001), on every dialect.

A worker claims a job and vanishes; the sweeper loop runs as ``memvault relay`` runs it
(rescue, then sleep one interval). Times are read back from the database: the rescue
is stamped in ``updated_at`` and must fall between the lease's end and one sweep
interval later (plus a tolerance for a loaded machine: this is a bound, not a timing).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from memvault.application.ports.repositories import ClaimOutcome
from memvault.container import Container
from memvault.domain.jobs import ExtractionJob, JobStatus
from tests.doubles import RecordingQueue
from tests.integration.job_support import (
    add_job,
    loop_container,
    make_job,
    offline_settings,
    read_job,
    utcnow,
)

LEASE = timedelta(seconds=1)
SWEEP_INTERVAL_S = 0.5
TOLERANCE = timedelta(seconds=2)
"""Slack for a busy machine: a sweep's own run time and a late wake-up."""
GIVE_UP_S = 15.0


@pytest.fixture
async def pipeline(
    database_urls: dict[str, str], dialect: str, tmp_path: Path
) -> AsyncIterator[tuple[Container, RecordingQueue]]:
    settings = offline_settings(database_urls[dialect], tmp_path, sweep_interval_s=SWEEP_INTERVAL_S)
    async with loop_container(settings) as built:
        yield built


@contextlib.asynccontextmanager
async def sweeper(container: Container) -> AsyncIterator[None]:
    """The relay's sweeper loop: rescue expired leases, then wait one interval."""

    async def forever() -> None:
        while True:
            await container.rescue_jobs()()
            await asyncio.sleep(SWEEP_INTERVAL_S)

    task = asyncio.create_task(forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def claim_and_vanish(container: Container, job_id: int) -> ExtractionJob:
    """Claim like a worker would, then never renew, finish or fail the job."""
    async with container.uow()() as tx:
        outcome, job = await tx.jobs.claim(job_id, worker="vanished", now=utcnow(), lease=LEASE)
        await tx.commit()
    assert outcome is ClaimOutcome.CLAIMED
    assert job is not None
    assert job.locked_until is not None
    return job


async def wait_until_not_processing(container: Container, job_id: int) -> ExtractionJob:
    deadline = asyncio.get_running_loop().time() + GIVE_UP_S
    while True:
        job = await read_job(container, job_id)
        if job.status is not JobStatus.PROCESSING:
            return job
        assert asyncio.get_running_loop().time() < deadline, "the job stayed processing"
        await asyncio.sleep(0.05)


async def wait_until_sent(queue: RecordingQueue, job_id: int) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        if job_id in queue.ids():
            return
        assert asyncio.get_running_loop().time() < deadline, "no message for the job"
        await asyncio.sleep(0.05)


async def test_a_job_whose_worker_vanished_is_failed_within_its_lease_and_one_sweep(
    pipeline: tuple[Container, RecordingQueue], user_id: str
):
    container, queue = pipeline
    job_id = await add_job(container, make_job(user_id))
    claimed = await claim_and_vanish(container, job_id)
    lease_end = claimed.locked_until
    assert lease_end is not None

    async with sweeper(container):
        job = await wait_until_not_processing(container, job_id)
        # The rescue commits the failure, then sends the retry: on a loaded machine the
        # database can show the first before the sweeper has done the second.
        await wait_until_sent(queue, job_id)

    assert job.status is JobStatus.FAILED
    assert job.retry_count == 1
    assert job.last_error == "lease expired: worker vanished stopped"
    assert job.locked_by is None
    assert job.updated_at is not None
    assert (
        lease_end <= job.updated_at <= lease_end + timedelta(seconds=SWEEP_INTERVAL_S) + TOLERANCE
    )
    assert job.next_retry_at is not None
    assert job.next_retry_at > job.updated_at
    assert job_id in queue.ids()


async def test_a_job_at_its_last_attempt_is_dead_when_its_lease_expires(
    pipeline: tuple[Container, RecordingQueue], user_id: str
):
    container, queue = pipeline
    job_id = await add_job(
        container, make_job(user_id, status=JobStatus.FAILED, retry_count=2, max_retry=3)
    )
    claimed = await claim_and_vanish(container, job_id)
    assert claimed.locked_until is not None

    async with sweeper(container):
        job = await wait_until_not_processing(container, job_id)

    assert job.status is JobStatus.DEAD
    assert job.retry_count == 3
    assert job.next_retry_at is None
    assert job.last_error == "lease expired: worker vanished stopped"
    assert job.updated_at is not None
    assert job.updated_at <= claimed.locked_until + timedelta(seconds=SWEEP_INTERVAL_S) + TOLERANCE
    assert job_id not in queue.ids()


async def test_a_job_whose_lease_is_renewed_stays_with_its_worker(
    pipeline: tuple[Container, RecordingQueue], user_id: str
):
    container, _ = pipeline
    job_id = await add_job(container, make_job(user_id))
    claimed = await claim_and_vanish(container, job_id)
    assert claimed.lease is not None

    async with sweeper(container):
        for _ in range(8):
            async with container.uow()() as tx:
                kept = await tx.jobs.renew_lease(
                    job_id, lease=claimed.lease, until=utcnow() + 2 * LEASE
                )
                await tx.commit()
            assert kept
            await asyncio.sleep(0.3)

        job = await read_job(container, job_id)
        assert job.status is JobStatus.PROCESSING
        assert job.retry_count == 0
        assert job.locked_by == "vanished"
