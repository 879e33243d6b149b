"""Event-driven hand-off: a committed ingest wakes the relay at once (the poll is only
the fallback). The poll interval here is an hour, so an event that arrives at all
arrived because the relay was woken: in-process by the ingest itself, and on PostgreSQL
by ``NOTIFY`` from an ingest in another process (here another container, whose own
in-process notifier the relay never hears)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from dependency_injector import providers

from memvault.adapters.sqlalchemy.migrations import upgrade
from memvault.adapters.sqlalchemy.outbox_notify import PostgresOutboxListener
from memvault.application.ingest.ingest_messages import IncomingMessage, IngestMessages
from memvault.container import (
    Container,
    Infrastructure,
    Settings,
    build_infrastructure,
    close_infrastructure,
)
from memvault.entrypoints.pipeline import PipelineLoops
from tests.conftest import off_loop
from tests.databases import fresh_database
from tests.doubles import RecordingQueue

HANG_GUARD_S = 60.0
"""Far below the hour-long poll: reaching it means the relay was never woken."""
TURNS = ("I moved to Lyon", "I play the cello")


def settings_for(tmp_path: Path, url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        embedder="hashing",
        vector_store="memory",
        event_bus="memory",
        broker="redis",  # no embedded worker: the queue is the recording fake
        relay_poll_interval_s=3600,
        sweep_interval_s=3600,
    )


@asynccontextmanager
async def relay_process(settings: Settings) -> AsyncIterator[tuple[Infrastructure, Container]]:
    """The relay's loops running on their own infrastructure, as in ``memvault relay``."""
    infra = build_infrastructure(settings)
    infra.job_queue.override(providers.Object(RecordingQueue()))
    container = infra.loops().current()
    loops = PipelineLoops(container, settings)
    loops.start()
    try:
        yield infra, container
    finally:
        await loops.stop()
        await infra.loops().close_current()
        await close_infrastructure(infra)


async def ingest(container: Container, turn: str) -> None:
    await container.ingest_messages()(
        IngestMessages(
            user_id="alice",
            conversation_id="c1",
            messages=[IncomingMessage(role="user", content=turn)],
        )
    )


async def each_turn_is_published(infra: Infrastructure, writer: Container) -> None:
    observer = infra.in_process_bus().consumer(infra.settings().event_topic, group="observer")
    try:
        for turn in TURNS:
            await ingest(writer, turn)
            events = await observer.fetch(max_events=10, timeout=HANG_GUARD_S)
            assert len(events) == 1, "the relay published the new row"
            await observer.ack(events)
    finally:
        await observer.close()


async def test_an_ingest_wakes_the_relay_without_waiting_for_the_poll(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'memvault.db'}"
    off_loop(lambda: upgrade(url))
    async with relay_process(settings_for(tmp_path, url)) as (infra, container):
        await each_turn_is_published(infra, container)
        assert infra.outbox_notifier().wakeups == len(TURNS)


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own: no other test's outbox rows for this relay to publish."""
    with fresh_database("postgresql", tmp_path) as url:
        yield url


async def test_on_postgresql_another_process_ingest_wakes_the_relay_by_notify(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = settings_for(tmp_path, postgres_url)
    api = build_infrastructure(settings)  # the API process: its notifier wakes nobody here
    try:
        async with relay_process(settings) as (infra, relay):
            listener = relay.outbox_listener()
            assert isinstance(listener, PostgresOutboxListener)
            await asyncio.wait_for(listener.listening.wait(), HANG_GUARD_S)
            await each_turn_is_published(infra, api.loops().current())
            assert listener.notifications == len(TURNS), "one NOTIFY per committed ingest"
            assert api.outbox_notifier().wakeups == len(TURNS)
    finally:
        await api.loops().close_current()
        await close_infrastructure(api)
