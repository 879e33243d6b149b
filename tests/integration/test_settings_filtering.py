"""A user's memory settings decide what their jobs write (docs/behaviour.md, "Settings"),
through the real pipeline: ingest → outbox row → consumer handler → job →
``ProcessJobUseCase``.

The rule-based extractor reads "I love hiking" as an implicit preference, "Remember
that I park on level 3" as an explicit fact and "I'm allergic to peanuts" as a fact of
sensitivity 1; the assertions read the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from memvault.adapters.sqlalchemy.tables import memory_items as items
from memvault.adapters.sqlalchemy.tables import memory_outbox_messages as outbox
from memvault.application.events import envelope
from memvault.application.ingest.ingest_messages import IncomingMessage, IngestMessages
from memvault.application.jobs.process_job import JobOutcome
from memvault.application.settings.settings import ChangeSettings
from memvault.container import Container
from memvault.domain.jobs import JobStatus
from tests.doubles import RecordingQueue
from tests.integration.job_support import loop_container, offline_settings

HIKING = "I love hiking"
PARKING = "Remember that I park on level 3"
ALLERGY = "I'm allergic to peanuts"


@pytest.fixture
async def container(
    database_urls: dict[str, str], dialect: str, tmp_path: Path
) -> AsyncIterator[tuple[Container, RecordingQueue]]:
    async with loop_container(offline_settings(database_urls[dialect], tmp_path)) as built:
        yield built


async def process_messages(container: Container, user_id: str, *texts: str) -> list[int]:
    """Ingest the user's turns, hand their outbox events to the consumer's handler and
    process every job it creates; returns the job ids."""
    await container.ingest_messages()(
        IngestMessages(
            user_id=user_id,
            conversation_id="conv-1",
            messages=[IncomingMessage(role="user", content=text) for text in texts],
        )
    )
    async with container.engine().connect() as conn:
        outbox_ids = list(
            (
                await conn.execute(
                    select(outbox.c.id).where(outbox.c.user_id == user_id).order_by(outbox.c.id)
                )
            ).scalars()
        )
    assert len(outbox_ids) == len(texts)
    job_ids: list[int] = []
    for outbox_id in outbox_ids:
        async with container.uow()() as tx:
            row = await tx.outbox.get(outbox_id)
        assert row is not None
        handled = await container.handle_event()(envelope(row))
        job_ids.extend(handled.job_ids)
    assert len(job_ids) == len(texts)
    for job_id in job_ids:
        assert await container.process_job()(job_id) is JobOutcome.SUCCEEDED
    return job_ids


async def change_settings(container: Container, user_id: str, **flags: bool) -> None:
    await container.change_settings()(ChangeSettings(user_id=user_id, **flags))


async def memories_of(container: Container, user_id: str) -> list[tuple[str, int, bool]]:
    """(content, sensitivity, explicit) of the user's items, oldest first."""
    async with container.engine().connect() as conn:
        result = await conn.execute(
            select(items.c.content, items.c.sensitivity_level, items.c.is_explicit)
            .where(items.c.user_id == user_id)
            .order_by(items.c.id)
        )
        return [(row.content, row.sensitivity_level, bool(row.is_explicit)) for row in result]


async def statuses_of(container: Container, job_ids: list[int]) -> list[JobStatus]:
    async with container.uow()() as tx:
        jobs = [await tx.jobs.get(job_id) for job_id in job_ids]
    return [job.status for job in jobs if job is not None]


async def test_a_user_with_memory_disabled_gets_successful_jobs_and_no_memories(
    container: tuple[Container, RecordingQueue], user_id: str
):
    node, _ = container
    await change_settings(node, user_id, memory_enabled=False)

    job_ids = await process_messages(node, user_id, HIKING, PARKING, ALLERGY)

    assert await statuses_of(node, job_ids) == [JobStatus.SUCCESS] * 3
    assert await memories_of(node, user_id) == []


async def test_a_user_with_implicit_memory_disabled_gets_only_explicit_facts(
    container: tuple[Container, RecordingQueue], user_id: str
):
    node, _ = container
    await change_settings(node, user_id, implicit_memory_enabled=False)

    job_ids = await process_messages(node, user_id, HIKING, PARKING)

    assert await statuses_of(node, job_ids) == [JobStatus.SUCCESS] * 2
    assert await memories_of(node, user_id) == [("I park on level 3", 0, True)]


async def test_sensitive_facts_are_dropped_for_a_user_with_default_settings(
    container: tuple[Container, RecordingQueue], user_id: str
):
    node, _ = container

    job_ids = await process_messages(node, user_id, HIKING, ALLERGY)

    assert await statuses_of(node, job_ids) == [JobStatus.SUCCESS] * 2
    assert await memories_of(node, user_id) == [(HIKING, 0, False)]


async def test_sensitive_facts_are_written_for_a_user_who_enabled_sensitive_memory(
    container: tuple[Container, RecordingQueue], user_id: str
):
    node, _ = container
    await change_settings(node, user_id, sensitive_memory_enabled=True)

    job_ids = await process_messages(node, user_id, HIKING, ALLERGY)

    assert await statuses_of(node, job_ids) == [JobStatus.SUCCESS] * 2
    assert await memories_of(node, user_id) == [(HIKING, 0, False), (ALLERGY, 1, False)]


async def test_an_explicit_request_is_consent_to_keep_a_sensitive_fact(
    container: tuple[Container, RecordingQueue], user_id: str
):
    node, _ = container
    await change_settings(node, user_id, implicit_memory_enabled=False)

    job_ids = await process_messages(node, user_id, "Remember that I'm allergic to peanuts")

    assert await statuses_of(node, job_ids) == [JobStatus.SUCCESS]
    assert await memories_of(node, user_id) == [("I'm allergic to peanuts", 1, True)]
    async with node.uow()() as uow:
        job = await uow.jobs.get(job_ids[0])
    assert job is not None
    assert [o.outcome for o in job.outcomes] == ["added"]


async def test_a_secret_is_never_written_even_with_sensitive_memory_on(
    container: tuple[Container, RecordingQueue], user_id: str
):
    node, _ = container
    await change_settings(node, user_id, sensitive_memory_enabled=True)

    job_ids = await process_messages(node, user_id, "Remember my bank card password is 4512")

    assert await statuses_of(node, job_ids) == [JobStatus.SUCCESS]
    assert await memories_of(node, user_id) == []
    async with node.uow()() as uow:
        job = await uow.jobs.get(job_ids[0])
    assert job is not None
    assert [(o.outcome, o.title) for o in job.outcomes] == [("skipped: secret", None)]
