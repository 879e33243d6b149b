"""Transient failures of a dependency are waited out, permanent ones are dead at once
(docs/behaviour.md, "Extraction jobs"): the real LLM client against the scripted
loopback chat server, on SQLite.

Time is compressed through configuration: a backoff base of 1 ms and a cap of 10 ms, so
ten failed attempts (more than the six that made a job dead before) take milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from memvault.application.jobs.process_job import JobOutcome
from memvault.container import Container
from memvault.domain.jobs import JobStatus
from tests.integration.chat_server import ChatServer
from tests.integration.job_support import (
    add_job,
    loop_container,
    make_job,
    offline_settings,
    read_job,
    utcnow,
)

ATTEMPTS_WHILE_DOWN = 10
"""More than the six attempts after which a job used to be dead."""
FACTS = {
    "message_intent": "preference",
    "facts": [{"memory_type": "preference", "content": "The user loves sushi", "confidence": 0.9}],
}


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def container(
    chat: ChatServer, database_urls: dict[str, str], tmp_path: Path
) -> AsyncIterator[Container]:
    settings = offline_settings(
        database_urls["sqlite"],
        tmp_path,
        llm_base_url=chat.url,
        llm_model="scripted",
        llm_timeout_s=5.0,
        job_backoff_base_s=0.001,
        job_retry_cap_s=0.01,
    )
    async with loop_container(settings) as (built, _queue):
        yield built


async def until_due(container: Container, job_id: int) -> None:
    """Wait out the job's (compressed) backoff."""
    job = await read_job(container, job_id)
    if job.next_retry_at is not None:
        await asyncio.sleep(max(0.0, (job.next_retry_at - utcnow()).total_seconds()) + 0.001)
    assert (await read_job(container, job_id)).is_due(utcnow())


async def test_an_llm_endpoint_refusing_connections_kills_no_job_and_all_succeed_after(
    chat: ChatServer, container: Container, user_id: str
) -> None:
    job_ids = [await add_job(container, make_job(user_id, f"I love sushi {n}")) for n in range(2)]
    port = chat.port
    chat.stop()  # the endpoint now refuses connections
    for _ in range(ATTEMPTS_WHILE_DOWN):
        for job_id in job_ids:
            await until_due(container, job_id)
            assert await container.process_job()(job_id) is JobOutcome.FAILED
    for job_id in job_ids:
        job = await read_job(container, job_id)
        assert job.status is JobStatus.FAILED
        assert job.retry_count == 0  # transient failures never count toward dead
        assert "unreachable" in (job.last_error or "")

    back = ChatServer(port=port)
    back.start()
    try:
        for job_id in job_ids:
            back.reply_json(FACTS)
            await until_due(container, job_id)
            assert await container.process_job()(job_id) is JobOutcome.SUCCEEDED
    finally:
        back.stop()
    assert [(await read_job(container, j)).status for j in job_ids] == [JobStatus.SUCCESS] * 2


@pytest.mark.parametrize("status", [401, 403, 400])
async def test_an_llm_endpoint_refusing_the_request_makes_the_job_dead_at_once(
    chat: ChatServer, container: Container, user_id: str, status: int
) -> None:
    job_id = await add_job(container, make_job(user_id))
    chat.fail(status)

    assert await container.process_job()(job_id) is JobOutcome.DEAD

    job = await read_job(container, job_id)
    assert job.status is JobStatus.DEAD
    assert f"HTTP {status}" in (job.last_error or "")


@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_an_overloaded_llm_endpoint_is_a_transient_failure(
    chat: ChatServer, container: Container, user_id: str, status: int
) -> None:
    job_id = await add_job(container, make_job(user_id))
    chat.fail(status)

    assert await container.process_job()(job_id) is JobOutcome.FAILED

    job = await read_job(container, job_id)
    assert (job.status, job.retry_count) == (JobStatus.FAILED, 0)
    assert f"HTTP {status}" in (job.last_error or "")
