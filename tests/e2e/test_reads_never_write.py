"""No read endpoint writes to the database or takes its write lock, on every dialect.

The API runs as one process of scale mode (Redis broker and bus configured, so no
pipeline loop shares its engine); every statement its engine sends during a burst of
concurrent reads is recorded and none may be a write.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from sqlalchemy import event

from memvault.container import Container, Settings
from memvault.entrypoints.http.app import create_app
from tests.e2e.conftest import SECRET, Auth
from tests.e2e.test_items_api import ITEMS, create
from tests.fixtures.redis import REDIS_URL

Client = AsyncTestClient  # type: ignore[type-arg]
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|BEGIN\s+IMMEDIATE)\b", re.I)
LOCK = re.compile(r"\bFOR\s+UPDATE\b", re.I)


@pytest.fixture
async def client(
    database_urls: dict[str, str], dialect: str, tmp_path: Path
) -> AsyncIterator[Client]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_urls[dialect],
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        event_bus="redis",
        broker="redis",
        redis_url=REDIS_URL,
        broker_namespace=f"memvault-test-{uuid.uuid4().hex[:8]}",
        access_flush_interval_s=3600,
    )
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


def container_of(client: Client) -> Container:
    app = client.app
    assert isinstance(app, Litestar)
    container: Container = app.state.container
    return container


def is_write(statement: str) -> bool:
    return bool(WRITE.match(statement) or LOCK.search(statement))


def test_the_write_detector_knows_writes_from_reads():
    assert is_write("INSERT INTO memory_items (id) VALUES (1)")
    assert is_write("  update memory_items SET last_access_at=?")
    assert is_write("DELETE FROM memory_postings WHERE item_id = ?")
    assert is_write("BEGIN IMMEDIATE")
    assert is_write("SELECT id FROM memory_jobs FOR UPDATE SKIP LOCKED")
    assert not is_write("BEGIN")
    assert not is_write("SET TRANSACTION READ ONLY")
    assert not is_write("START TRANSACTION READ ONLY")
    assert not is_write("SELECT updated_at, deleted FROM memory_items")


async def test_a_burst_of_reads_sends_no_write_statement(client: Client, auth: Auth, user_id: str):
    me, admin = auth(user_id), auth(f"{user_id}-admin", admin=True)
    first = await create(client, me, content="Drinks oolong tea every morning")
    await create(client, me, content="Prefers window seats on long trains")
    item = f"{ITEMS}/{first['id']}"
    reads: list[tuple[str, str, dict[str, str], Any]] = [
        ("GET", ITEMS, me, None),
        ("GET", item, me, None),
        ("GET", f"{item}/history", me, None),
        ("POST", "/api/v1/memory/search", me, {"query": "oolong tea in the morning"}),
        ("POST", "/api/v1/memory/context", me, {"query": "which seats on trains?"}),
        ("GET", "/api/v1/memory/settings", me, None),
        ("GET", "/api/v1/memory/jobs", me, None),
        ("GET", "/api/v1/agent/snapshots/conv-1", me, None),
        ("GET", "/api/v1/admin/jobs", admin, None),
        ("GET", "/api/v1/admin/outbox", admin, None),
        ("GET", "/api/v1/admin/dead-events", admin, None),
    ]
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engines = [container_of(client).engine().sync_engine]
    if (read_engine := container_of(client).read_engine()) is not None:
        engines.append(read_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            answers = await asyncio.gather(
                *(
                    client.request(method, path, headers=h, json=body)
                    for method, path, h, body in reads
                )
            )
            assert [a.status_code for a in answers] == [200] * 7 + [404] + [200] * 3
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)

    assert any(s.lstrip().upper().startswith("SELECT") for s in statements)
    assert [s for s in statements if is_write(s)] == []
    assert container_of(client).access_times().pending >= 1
