"""The sweepers run the retention purge: an old dead event disappears without anyone
calling ``memvault purge``."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dependency_injector import providers
from sqlalchemy import func, insert, select

from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.migrations import upgrade
from memvault.adapters.sqlalchemy.tables import memory_dead_events
from memvault.container import Settings, build_infrastructure, close_infrastructure
from memvault.entrypoints.pipeline import PipelineLoops
from tests.conftest import off_loop
from tests.doubles import RecordingQueue

PATIENCE_S = 30.0


async def dead_events(url: str, *, add_one_from: datetime | None = None) -> int:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            if add_one_from is not None:
                await conn.execute(
                    insert(memory_dead_events).values(
                        topic="t", raw_payload="x", reason="r", created_at=add_one_from
                    )
                )
            return int(await conn.scalar(select(func.count()).select_from(memory_dead_events)) or 0)
    finally:
        await engine.dispose()


async def test_the_sweepers_purge_old_rows(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'memvault.db'}"
    off_loop(lambda: upgrade(url))
    assert await dead_events(url, add_one_from=datetime.now(UTC) - timedelta(days=60)) == 1
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        embedder="hashing",
        vector_store="memory",
        event_bus="memory",
        broker="redis",  # no embedded worker: the queue is the recording fake
        sweep_interval_s=3600,
        purge_interval_s=0.2,
    )
    infra = build_infrastructure(settings)
    infra.job_queue.override(providers.Object(RecordingQueue()))
    loops = PipelineLoops(infra.loops().current(), settings)
    loops.start()
    try:
        give_up = time.monotonic() + PATIENCE_S
        left = await dead_events(url)
        while left and time.monotonic() < give_up:
            await asyncio.sleep(0.1)
            left = await dead_events(url)
        assert left == 0
    finally:
        await loops.stop()
        await infra.loops().close_current()
        await close_infrastructure(infra)
