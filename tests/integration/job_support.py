"""What the job tests share: a recording job queue, a job factory, a loop container."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dependency_injector import providers

from memvault.container import Container, Settings, build_infrastructure
from memvault.domain.jobs import ExtractionJob, ExtractPayload, JobStatus, extract_job_key
from tests.doubles import RecordingQueue


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_job(
    user_id: str,
    text: str = "I love sushi",
    *,
    status: JobStatus = JobStatus.PENDING,
    retry_count: int = 0,
    max_retry: int = 6,
    next_retry_at: datetime | None = None,
) -> ExtractionJob:
    """An extraction job of one user message, due now unless told otherwise."""
    now = utcnow()
    message_id = uuid.uuid4().hex
    key = extract_job_key(
        user_id=user_id, conversation_id="conv-1", text=text, message_id=message_id
    )
    payload = ExtractPayload(
        user_id=user_id,
        conversation_id="conv-1",
        source_role="user",
        source_text=text,
        occurred_at=now,
        idempotency_key=key,
        source_message_id=message_id,
    )
    return ExtractionJob(
        user_id=user_id,
        conversation_id="conv-1",
        source_message_id=message_id,
        idempotency_key=key,
        payload_json=payload.to_json(),
        status=status,
        retry_count=retry_count,
        max_retry=max_retry,
        next_retry_at=now - timedelta(seconds=1) if next_retry_at is None else next_retry_at,
        created_at=now,
        updated_at=now,
    )


def offline_settings(database_url: str, data_dir: Path, **changes: Any) -> Settings:
    """Settings for one process's tests: the given database, files under ``data_dir``,
    the hashing embedder and the in-memory vector store (no model, no shared files)."""
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        embedder="hashing",
        vector_store="memory",
        **changes,
    )


@asynccontextmanager
async def loop_container(settings: Settings) -> AsyncIterator[tuple[Container, RecordingQueue]]:
    """This loop's container with the job queue replaced by a :class:`RecordingQueue`."""
    infra = build_infrastructure(settings)
    queue = RecordingQueue()
    infra.job_queue.override(providers.Object(queue))
    try:
        yield infra.loops().current(), queue
    finally:
        await infra.loops().close_current()


async def add_job(container: Container, job: ExtractionJob) -> int:
    """Store ``job`` (as the consumer would) and return its id."""
    async with container.uow()() as tx:
        job_id = await tx.jobs.add_unless_exists(job)
        await tx.commit()
    assert job_id is not None
    return job_id


async def read_job(container: Container, job_id: int) -> ExtractionJob:
    async with container.uow()() as tx:
        job = await tx.jobs.get(job_id)
    assert job is not None
    return job
