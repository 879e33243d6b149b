"""Event-driven hand-off: a committed ingest wakes the relay at once (the poll is only
the fallback). The poll interval here is an hour, so an event that arrives at all
arrived because the relay was woken."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import providers

from memvault.adapters.sqlalchemy.migrations import upgrade
from memvault.application.ingest.ingest_messages import IncomingMessage, IngestMessages
from memvault.container import Settings, build_infrastructure, close_infrastructure
from memvault.entrypoints.pipeline import PipelineLoops
from tests.conftest import off_loop
from tests.doubles import RecordingQueue

HANG_GUARD_S = 60.0
"""Far below the hour-long poll: reaching it means the relay was never woken."""


async def test_an_ingest_wakes_the_relay_without_waiting_for_the_poll(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'memvault.db'}"
    off_loop(lambda: upgrade(url))
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        embedder="hashing",
        vector_store="memory",
        event_bus="memory",
        broker="redis",  # no embedded worker: the queue is the recording fake
        relay_poll_interval_s=3600,
        sweep_interval_s=3600,
    )
    infra = build_infrastructure(settings)
    infra.job_queue.override(providers.Object(RecordingQueue()))
    container = infra.loops().current()
    observer = infra.in_process_bus().consumer(settings.event_topic, group="observer")
    loops = PipelineLoops(container, settings)
    loops.start()
    try:
        for turn in ("I moved to Lyon", "I play the cello"):
            await container.ingest_messages()(
                IngestMessages(
                    user_id="alice",
                    conversation_id="c1",
                    messages=[IncomingMessage(role="user", content=turn)],
                )
            )
            events = await observer.fetch(max_events=10, timeout=HANG_GUARD_S)
            assert len(events) == 1, "the relay published the new row"
            await observer.ack(events)
        assert infra.outbox_notifier().wakeups == 2
    finally:
        await loops.stop()
        await observer.close()
        await infra.loops().close_current()
        await close_infrastructure(infra)
