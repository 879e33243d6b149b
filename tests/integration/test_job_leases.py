"""Lease tokens and parked jobs on every dialect (docs/adr/0001, docs/behaviour.md
"Extraction jobs"): a lease expired by hand while its job runs never lets a second job
of the user start, and once the expired job is rescued its worker can no longer commit.

The jobs run through the real use case on a real database; the extractor is the
rule-based one behind a gate the test opens, so a job can be held mid-way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from dependency_injector import providers
from sqlalchemy import select, update

from memvault.adapters.sqlalchemy.tables import memory_items as items
from memvault.adapters.sqlalchemy.tables import memory_jobs as jobs
from memvault.application.jobs.process_job import JobOutcome
from memvault.application.ports.extractor import ExtractionRequest, Extractor
from memvault.container import Container, build_infrastructure
from memvault.domain.facts import CandidateFact
from memvault.domain.jobs import ExtractionJob, JobStatus
from tests.doubles import RecordingQueue
from tests.integration.job_support import make_job, offline_settings, read_job, utcnow

GIVE_UP_S = 30.0
"""A bound for a loaded machine, not a timing."""


@dataclass
class GatedExtractor(Extractor):
    """The real extractor, but a message whose gate is closed waits until it opens;
    records the order in which extractions start and end."""

    real: Extractor
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    started: dict[str, asyncio.Event] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def close(self, text: str) -> None:
        self.gates[text] = asyncio.Event()
        self.started[text] = asyncio.Event()

    async def extract(self, request: ExtractionRequest) -> list[CandidateFact]:
        self.log.append(f"start {request.text}")
        if request.text in self.gates:
            self.started[request.text].set()
            await self.gates[request.text].wait()
        self.log.append(f"end {request.text}")
        return await self.real.extract(request)


@dataclass
class Stack:
    container: Container
    queue: RecordingQueue
    extractor: GatedExtractor


@pytest.fixture
async def stack(
    database_urls: dict[str, str], dialect: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    infra = build_infrastructure(offline_settings(database_urls[dialect], tmp_path))
    queue = RecordingQueue()
    extractor = GatedExtractor(infra.extractor())
    infra.job_queue.override(providers.Object(queue))
    infra.extractor.override(providers.Object(extractor))
    try:
        yield Stack(infra.loops().current(), queue, extractor)
    finally:
        await infra.loops().close_current()


async def add(container: Container, *new: ExtractionJob) -> list[int]:
    async with container.uow()() as tx:
        ids = [await tx.jobs.add_unless_exists(job) for job in new]
        await tx.commit()
    return [job_id for job_id in ids if job_id is not None]


async def expire_lease(container: Container, job_id: int) -> None:
    """What a worker too slow to renew its lease looks like: the lease is over."""
    async with container.engine().begin() as conn:
        past = utcnow() - timedelta(seconds=1)
        await conn.execute(update(jobs).where(jobs.c.id == job_id).values(locked_until=past))


async def memories(container: Container, user_id: str) -> list[str]:
    async with container.engine().connect() as conn:
        rows = await conn.execute(select(items.c.content).where(items.c.user_id == user_id))
        return sorted(rows.scalars())


async def start_held(stack: Stack, job_id: int, text: str) -> asyncio.Task[JobOutcome]:
    stack.extractor.close(text)
    running = asyncio.create_task(stack.container.process_job()(job_id))
    await asyncio.wait_for(stack.extractor.started[text].wait(), GIVE_UP_S)
    return running


async def test_a_second_job_of_a_user_waits_for_the_first_even_past_its_expired_lease(
    stack: Stack, user_id: str
):
    first, second = await add(
        stack.container, make_job(user_id, "I love tea"), make_job(user_id, "I like jazz")
    )
    running = await start_held(stack, first, "I love tea")
    await expire_lease(stack.container, first)

    assert await stack.container.process_job()(second) is JobOutcome.BUSY
    assert (await read_job(stack.container, second)).enqueued_at is None  # parked
    assert stack.queue.ids() == []
    stack.extractor.gates["I love tea"].set()
    assert await asyncio.wait_for(running, GIVE_UP_S) is JobOutcome.SUCCEEDED
    assert stack.queue.ids() == [second]  # woken by the end of the first
    assert await stack.container.process_job()(second) is JobOutcome.SUCCEEDED

    assert stack.extractor.log == [
        "start I love tea",
        "end I love tea",
        "start I like jazz",
        "end I like jazz",
    ]
    assert await memories(stack.container, user_id) == ["I like jazz", "I love tea"]


async def test_a_worker_whose_expired_lease_was_rescued_cannot_commit(stack: Stack, user_id: str):
    first, second = await add(
        stack.container, make_job(user_id, "I love tea"), make_job(user_id, "I like jazz")
    )
    running = await start_held(stack, first, "I love tea")
    await expire_lease(stack.container, first)

    await stack.container.rescue_jobs()()
    assert second in stack.queue.ids()  # the rescue woke the user's next job
    assert await stack.container.process_job()(second) is JobOutcome.SUCCEEDED
    stack.extractor.gates["I love tea"].set()

    assert await asyncio.wait_for(running, GIVE_UP_S) is JobOutcome.LOST
    rescued = await read_job(stack.container, first)
    assert (rescued.status, rescued.retry_count, rescued.memory_ids) == (JobStatus.FAILED, 1, ())
    assert rescued.lease is None
    assert await memories(stack.container, user_id) == ["I like jazz"]
