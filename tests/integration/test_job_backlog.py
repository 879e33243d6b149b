"""A backlog of one user's jobs costs about one queue message per job (docs/behaviour.md,
"Extraction jobs": one message per job).

200 jobs of one user are queued at once on a fresh PostgreSQL database; Dramatiq's
worker threads run them (the embedded worker, two threads) with an extractor slowed
down to 20 ms a message, while the sweepers run every 0.2 s with a 0.5 s grace, far
more eagerly than by default. Every job must succeed, and the messages sent to the
queue stay within a small multiple of the jobs (a job whose user is busy is parked,
not re-queued; the sweeper never re-sends a job whose user is being served).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from dependency_injector import providers
from sqlalchemy import func, select

from memvault.adapters.sqlalchemy.tables import memory_jobs as jobs
from memvault.application.ports.extractor import ExtractionRequest, Extractor
from memvault.application.ports.job_queue import JobQueue
from memvault.container import Container, build_infrastructure
from memvault.domain.facts import CandidateFact
from memvault.entrypoints.embedded_worker import EmbeddedWorker
from tests.databases import fresh_database
from tests.integration.job_support import make_job, offline_settings

pytestmark = pytest.mark.slow
JOBS = 200
EXTRACTION_S = 0.02
SWEEP_S = 0.2
MESSAGES_PER_JOB = 3
"""The bound: one message when queued, one when woken from parking, and a little slack
for sweeps that meet a user between two of its jobs."""
GIVE_UP_S = 240.0
"""A stuck backlog fails after this long (a bound for a loaded machine, not a timing)."""


class CountingQueue(JobQueue):
    def __init__(self, real: JobQueue) -> None:
        self.real = real
        self.sent = 0

    async def enqueue(self, job_ids: Sequence[int], *, delay_ms: int = 0) -> None:
        self.sent += len(job_ids)
        await self.real.enqueue(job_ids, delay_ms=delay_ms)


class SlowExtractor(Extractor):
    def __init__(self, real: Extractor) -> None:
        self.real = real

    async def extract(self, request: ExtractionRequest) -> list[CandidateFact]:
        await asyncio.sleep(EXTRACTION_S)
        return await self.real.extract(request)


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@contextlib.asynccontextmanager
async def sweeping(container: Container) -> AsyncIterator[None]:
    async def forever() -> None:
        while True:
            await container.rescue_jobs()()
            await container.enqueue_due_jobs()()
            await asyncio.sleep(SWEEP_S)

    task = asyncio.create_task(forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def succeeded(container: Container) -> int:
    async with container.engine().connect() as conn:
        stmt = select(func.count()).select_from(jobs).where(jobs.c.status == "success")
        return int((await conn.execute(stmt)).scalar_one())


@pytest.mark.timeout(GIVE_UP_S + 60)
async def test_a_backlog_of_one_users_jobs_costs_about_one_message_per_job(
    postgres_url: str, tmp_path: Path, user_id: str
):
    settings = offline_settings(
        postgres_url, tmp_path, job_requeue_grace_s=0.5, embedded_worker_threads=2
    )
    infra = build_infrastructure(settings)
    queue = CountingQueue(infra.job_queue())
    infra.job_queue.override(providers.Object(queue))
    infra.extractor.override(providers.Object(SlowExtractor(infra.extractor())))
    container = infra.loops().current()
    worker = EmbeddedWorker(infra)
    try:
        async with container.uow()() as tx:
            ids = [
                await tx.jobs.add_unless_exists(make_job(user_id, f"I love tea {n}"))
                for n in range(JOBS)
            ]
            await tx.commit()
        worker.start()
        async with sweeping(container):
            await queue.enqueue([job_id for job_id in ids if job_id is not None])
            deadline = asyncio.get_running_loop().time() + GIVE_UP_S
            while (done := await succeeded(container)) < JOBS:
                assert asyncio.get_running_loop().time() < deadline, f"{done} of {JOBS} done"
                await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(worker.stop)
        await infra.loops().close_current()

    assert queue.sent <= MESSAGES_PER_JOB * JOBS, f"{queue.sent} messages for {JOBS} jobs"
