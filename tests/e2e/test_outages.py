"""Dependency outages answer 503 with ``Retry-After``; the process recovers by itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from tests.e2e.conftest import SECRET, Auth

ITEM = {"content": "I like green tea", "memory_type": "preference"}


@pytest.fixture
def settings(tmp_path: Path, database_urls: dict[str, str]) -> Settings:
    # A short busy timeout: a request gives up on the lock after 0.2 s instead of 10 s.
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_urls["sqlite"],
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        sqlite_busy_timeout_ms=200,
        unavailable_retry_after_s=7,
    )


async def test_a_locked_sqlite_database_answers_503_then_recovers(
    client: AsyncTestClient,
    auth: Auth,
    settings: Settings,  # type: ignore[type-arg]
) -> None:
    headers = auth("outage-lock-user")
    path = make_url(settings.effective_database_url).database
    assert path
    holder = sqlite3.connect(path, isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    keyed = {**headers, "Idempotency-Key": "outage-key"}
    try:
        during = await client.post("/api/v1/memory/items", json=ITEM, headers=headers)
        # The idempotency store's own write (in the middleware) meets the lock first.
        during_keyed = await client.post("/api/v1/memory/items", json=ITEM, headers=keyed)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert during.status_code == 503, during.text
    assert during.headers["retry-after"] == "7"
    assert during.json()["code"] == "Unavailable"
    assert "database" in during.json()["detail"]
    assert path not in during.text
    assert during_keyed.status_code == 503, during_keyed.text
    assert "retry-after" in during_keyed.headers
    after = await client.post("/api/v1/memory/items", json=ITEM, headers=headers)
    assert after.status_code in (200, 201), after.text
    listed = await client.get("/api/v1/memory/items", headers=headers)
    assert listed.status_code == 200


async def test_a_postgresql_server_that_refuses_connections_answers_503(
    tmp_path: Path, auth: Auth
) -> None:
    down = Settings(
        data_dir=tmp_path / "data",
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/memvault",
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        broker="redis",
        event_bus="redis",
        redis_url="redis://127.0.0.1:6379/0",
    )
    async with AsyncTestClient(create_app(down)) as client:
        listed = await client.get("/api/v1/memory/items", headers=auth("outage-pg-user"))
        ready = await client.get("/readyz")
    assert listed.status_code == 503, listed.text
    assert "retry-after" in listed.headers
    assert "127.0.0.1" not in listed.text
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"
    assert "127.0.0.1" not in ready.text
