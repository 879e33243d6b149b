"""The write path on real adapters (database, event bus), for the outbox pipeline tests.

A :class:`Pipeline` is one ``Infrastructure`` with its job queue replaced by a
recording fake, so tests can see which job ids were handed to workers without running
any. Helpers read the tables directly: the tests assert on state, not on calls.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from sqlalchemy import Executable, func, select, update
from sqlalchemy.engine import RowMapping

from memvault.adapters.event_bus.in_process import InProcessBus
from memvault.adapters.sqlalchemy.outbox import from_row
from memvault.adapters.sqlalchemy.tables import memory_consumed_events as inbox
from memvault.adapters.sqlalchemy.tables import memory_dead_events as dead_events
from memvault.adapters.sqlalchemy.tables import memory_jobs as jobs
from memvault.adapters.sqlalchemy.tables import memory_outbox_messages as outbox
from memvault.application.ingest.ingest_messages import IncomingMessage, IngestMessages
from memvault.application.ports.clock import Clock
from memvault.container import Container, Infrastructure, Settings, build_infrastructure, shutdown
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.databases import fresh_database
from tests.doubles import RecordingQueue

SECRET = "outbox-pipeline-secret-" + "y" * 48
REDELIVERY_S = 0.5
"""In-process lease and Redis ``min_idle``: how soon an unacknowledged event comes again."""
PATIENCE_S = 20.0
"""How long a test waits for the pipeline to settle (a Kafka member first joins its group)."""
MESSAGES = "/api/v1/memory/messages"

Client = AsyncTestClient[Any]
T = TypeVar("T")


class LaterClock(Clock):
    """The system clock, ``ahead`` in the future (a process that starts later)."""

    def __init__(self, ahead: timedelta) -> None:
        self._ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self._ahead


class OwnDatabases(dict[str, str]):
    """A migrated database per dialect, made on first use, for one module alone: the
    relays claim due rows of every user, so rows other tests leave behind would reach
    this module's relays (and its exact counts) on a shared database."""

    def __init__(self, tmp: Path) -> None:
        super().__init__()
        self._tmp = tmp
        self._stack = ExitStack()

    def __missing__(self, dialect: str) -> str:
        url = _in_thread(lambda: self._stack.enter_context(fresh_database(dialect, self._tmp)))
        self[dialect] = url
        return url

    def drop_all(self) -> None:
        _in_thread(self._stack.close)


def _in_thread(fn: Callable[[], T]) -> T:
    """Database set-up runs its own event loop, so never on the test's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


@dataclass(slots=True)
class Pipeline:
    """One process's wiring: settings, infrastructure and the recording queue."""

    settings: Settings
    infra: Infrastructure
    queue: RecordingQueue
    members: list[Container] = field(default_factory=list)

    @property
    def container(self) -> Container:
        """The container of the test's event loop."""
        return self.infra.loops().current()

    def member(self) -> Container:
        """Another relay and consumer (as in another process) on the same bus and database;
        in-process, it shares this infrastructure's bus."""
        member = Container(infra=self.infra)
        self.members.append(member)
        return member

    async def close(self) -> None:
        members, self.members = self.members, []
        for member in reversed(members):
            await shutdown(member)
        await self.infra.loops().close_current()


def open_pipeline(settings: Settings) -> Pipeline:
    infra = build_infrastructure(settings)
    queue = RecordingQueue()
    infra.job_queue.override(providers.Object(queue))
    infra.in_process_bus.override(providers.Singleton(InProcessBus, redelivery_after=REDELIVERY_S))
    return Pipeline(settings=settings, infra=infra, queue=queue)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def base_settings(**values: Any) -> Settings:
    return Settings(
        auth_jwt_secret=SecretStr(SECRET),
        broker="redis",  # no embedded Dramatiq worker; the queue is the recording fake
        redis_stream_min_idle_s=REDELIVERY_S,
        kafka_partitions=2,
        kafka_session_timeout_s=4.0,  # a new group forms in about half of this (Tansu)
        **values,
    )


def headers(user_id: str, *, admin: bool = False) -> dict[str, str]:
    token = issue_token(SECRET, user_id, admin=admin, ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def api(pipeline: Pipeline) -> AsyncIterator[Client]:
    """The HTTP app on this pipeline's infrastructure (its loop is the client's own)."""
    app = create_app(pipeline.settings, infra=pipeline.infra)
    async with AsyncTestClient(app) as client:
        yield client


def past() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


async def rows(container: Container, stmt: Executable) -> list[RowMapping]:
    async with container.engine().connect() as conn:
        return list((await conn.execute(stmt)).mappings())


async def execute(container: Container, stmt: Executable) -> None:
    async with container.engine().begin() as conn:
        await conn.execute(stmt)


async def ingest(
    container: Container,
    user_id: str,
    texts: Sequence[str],
    *,
    conversation_id: str = "conv-1",
    with_ids: bool = True,
) -> list[str]:
    """Posts user turns (plus one assistant turn, which is never queued); the job keys."""
    turns = [
        IncomingMessage(role="user", content=text, message_id=unique("m") if with_ids else None)
        for text in texts
    ]
    turns.append(IncomingMessage(role="assistant", content="Noted."))
    results = await container.ingest_messages()(
        IngestMessages(user_id=user_id, conversation_id=conversation_id, messages=turns)
    )
    return [r.job_key for r in results if r.job_key is not None]


async def outbox_rows(container: Container, user_id: str) -> list[OutboxMessage]:
    stmt = select(outbox).where(outbox.c.user_id == user_id).order_by(outbox.c.id)
    async with container.engine().connect() as conn:
        return [from_row(row) for row in await conn.execute(stmt)]


def event_id_of(row: OutboxMessage) -> str:
    return str(json.loads(row.payload).get("event_id") or row.id)


async def statuses(container: Container, user_id: str) -> list[OutboxStatus]:
    return [row.status for row in await outbox_rows(container, user_id)]


async def jobs_per_key(container: Container, user_id: str) -> dict[str, int]:
    stmt = (
        select(jobs.c.idempotency_key, func.count().label("n"))
        .where(jobs.c.user_id == user_id)
        .group_by(jobs.c.idempotency_key)
    )
    return {row["idempotency_key"]: row["n"] for row in await rows(container, stmt)}


async def job_ids(container: Container, user_id: str) -> list[int]:
    stmt = select(jobs.c.id).where(jobs.c.user_id == user_id).order_by(jobs.c.id)
    return [int(row["id"]) for row in await rows(container, stmt)]


async def inbox_count(container: Container, event_ids: Sequence[str]) -> int:
    stmt = (
        select(func.count().label("n"))
        .select_from(inbox)
        .where(inbox.c.event_id.in_(list(event_ids)))
    )
    return int((await rows(container, stmt))[0]["n"])


async def dead_events_of(container: Container, topic: str) -> list[RowMapping]:
    stmt = select(dead_events).where(dead_events.c.topic == topic).order_by(dead_events.c.id)
    return await rows(container, stmt)


async def make_due(container: Container, user_id: str) -> None:
    """Skip the backoff: the user's pending rows are due now."""
    await execute(
        container,
        update(outbox)
        .where(outbox.c.user_id == user_id, outbox.c.status == OutboxStatus.PENDING.value)
        .values(next_retry_at=past()),
    )


async def forget_published(container: Container, user_id: str) -> None:
    """As if the relay had published the user's rows but died before marking them."""
    await execute(
        container,
        update(outbox)
        .where(outbox.c.user_id == user_id, outbox.c.status == OutboxStatus.PUBLISHED.value)
        .values(status=OutboxStatus.PENDING.value, published_at=None, next_retry_at=past()),
    )


async def drain(container: Container, *, events: int, within: float = PATIENCE_S) -> int:
    """Consume until at least ``events`` deliveries were handled; how many were."""
    handled = 0
    give_up = time.monotonic() + within
    while handled < events:
        if time.monotonic() > give_up:
            pytest.fail(f"only {handled} of {events} events arrived within {within}s")
        handled += await container.consume_events()(max_events=100, timeout=0.2)
    return handled


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, within: float = PATIENCE_S
) -> None:
    """Wait until ``condition`` holds; fail the test after ``within`` seconds."""
    give_up = time.monotonic() + within
    while not await condition():
        if time.monotonic() > give_up:
            pytest.fail(f"the pipeline did not settle within {within}s")
        await asyncio.sleep(0.05)


async def consume_until(
    container: Container, done: Callable[[], Awaitable[bool]], *, within: float = PATIENCE_S
) -> None:
    """Consume until ``done`` holds; fail the test after ``within`` seconds."""
    give_up = time.monotonic() + within
    while not await done():
        if time.monotonic() > give_up:
            pytest.fail(f"the pipeline did not settle within {within}s")
        await container.consume_events()(max_events=100, timeout=0.2)
