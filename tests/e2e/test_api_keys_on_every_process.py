"""Two real ``memvault serve`` processes sharing one PostgreSQL database: a key revoked
or expired through one is refused at once by both (no process caches keys), and the
secret is in no table of the shared database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.api_keys import SqlApiKeyRepository
from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.tables import memvault_api_keys
from memvault.domain.api_keys import KeyScope, mint
from tests.clients.live_server import LiveServer, live_server
from tests.databases import fresh_database
from tests.e2e.test_api_keys import every_stored_value

ITEMS = "/api/v1/memory/items"
KEYS = "/api/v1/admin/keys"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture(scope="module")
def apis(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveServer]]:
    root = tmp_path_factory.mktemp("apis")
    with (
        live_server(root / "a", MEMVAULT_DATABASE_URL=database) as first,
        live_server(root / "b", MEMVAULT_DATABASE_URL=database) as second,
    ):
        yield [first, second]


def admin(api: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token('ops', admin=True)}"}


def new_key(api: LiveServer, scope: str, **headers: str) -> dict[str, str]:
    body = {"name": f"k-{uuid.uuid4().hex[:8]}", "scope": scope}
    made = httpx.post(f"{api.url}{KEYS}", json=body, headers=admin(api) | headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


def status_with(api: LiveServer, secret: str) -> int:
    return httpx.get(f"{api.url}{ITEMS}", headers={"Authorization": f"Bearer {secret}"}).status_code


T = TypeVar("T")


def run(work: Callable[[AsyncEngine], Awaitable[T]], database: str) -> T:
    """``work`` on an engine of the shared database, from this (synchronous) test."""

    async def go() -> T:
        engine = create_engine(database, pool_size=1)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_a_key_revoked_through_one_process_is_refused_at_once_by_both(apis: list[LiveServer]):
    first, second = apis
    key = new_key(first, "user:alice")
    assert [status_with(api, key["key"]) for api in apis] == [200, 200]
    revoked = httpx.post(f"{first.url}{KEYS}/{key['id']}/revoke", headers=admin(first))
    assert revoked.status_code == 200, revoked.text
    assert [status_with(api, key["key"]) for api in (second, first)] == [401, 401]


def test_a_key_past_its_expiry_is_refused_at_once_by_both(apis: list[LiveServer], database: str):
    key = new_key(apis[1], "service")
    headers = {"Authorization": f"Bearer {key['key']}", "X-Memvault-User": "bob"}
    assert [httpx.get(f"{a.url}{ITEMS}", headers=headers).status_code for a in apis] == [200, 200]

    async def expire(engine: AsyncEngine) -> None:
        # Time passing, in effect: the key's expiry is now behind it.
        async with engine.begin() as conn:
            past = datetime.now(UTC) - timedelta(seconds=1)
            table = memvault_api_keys
            await conn.execute(update(table).where(table.c.id == key["id"]).values(expires_at=past))

    run(expire, database)
    assert [httpx.get(f"{a.url}{ITEMS}", headers=headers).status_code for a in apis] == [401, 401]

    long_ago = datetime.now(UTC) - timedelta(days=2)
    stale = mint("stale", KeyScope.parse("user:bob"), now=long_ago, expires_in=timedelta(days=1))
    run(lambda engine: SqlApiKeyRepository(engine).add(stale.key), database)
    assert [status_with(api, stale.secret) for api in apis] == [401, 401]


def test_no_table_of_the_shared_database_holds_a_keys_secret(apis: list[LiveServer], database: str):
    key = new_key(apis[0], "service", **{"Idempotency-Key": uuid.uuid4().hex})

    stored = asyncio.run(every_stored_value(database))
    assert key["prefix"] in stored
    assert key["key"] not in stored
    assert key["key"][len(key["prefix"]) :] not in stored
