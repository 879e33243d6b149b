"""The API key repository behaves the same on every dialect."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.api_keys import SqlApiKeyRepository
from memvault.adapters.sqlalchemy.tables import memvault_api_keys
from memvault.domain.api_keys import KeyScope, NewKey, hash_secret, mint

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def new_key(scope: str = "service", *, expires_in: timedelta | None = None) -> NewKey:
    return mint(
        f"backend-{uuid.uuid4().hex[:8]}", KeyScope.parse(scope), now=NOW, expires_in=expires_in
    )


async def test_a_key_is_found_by_the_hash_of_its_secret_only(engine: AsyncEngine):
    repo = SqlApiKeyRepository(engine)
    new = new_key("user:Alice", expires_in=timedelta(days=90))
    stored = await repo.add(new.key)
    assert stored.id is not None
    found = await repo.by_hash(hash_secret(new.secret))
    assert found == stored
    assert found is not None
    assert found.scope == KeyScope.parse("user:Alice")
    assert found.expires_at == NOW + timedelta(days=90)
    assert await repo.by_hash(hash_secret(new.secret.upper())) is None
    assert await repo.by_hash(new.secret) is None


async def test_the_secret_is_not_in_the_table(engine: AsyncEngine):
    repo = SqlApiKeyRepository(engine)
    new = new_key()
    stored = await repo.add(new.key)
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(memvault_api_keys).where(memvault_api_keys.c.id == stored.id))
        ).one()
    stored_text = " ".join(str(value) for value in row)
    assert new.secret not in stored_text
    assert new.secret[len(stored.prefix) :] not in stored_text


async def test_revoking_is_once_and_is_seen_by_every_reader(engine: AsyncEngine):
    repo = SqlApiKeyRepository(engine)
    stored = await repo.add(new_key().key)
    assert stored.id is not None
    assert await repo.revoke(stored.id, now=NOW) is True
    assert await repo.revoke(stored.id, now=NOW + timedelta(hours=1)) is False
    again = await SqlApiKeyRepository(engine).get(stored.id)
    assert again is not None
    assert again.revoked_at == NOW
    assert not again.usable(NOW)
    assert await repo.revoke(10**12, now=NOW) is False


async def test_last_use_is_written_only_when_stale(engine: AsyncEngine):
    repo = SqlApiKeyRepository(engine)
    stored = await repo.add(new_key().key)
    assert stored.id is not None
    await repo.record_use(stored.id, now=NOW, unless_since=NOW - timedelta(minutes=1))
    later = NOW + timedelta(seconds=30)
    await repo.record_use(stored.id, now=later, unless_since=later - timedelta(minutes=1))
    assert (await repo.get(stored.id)).last_used_at == NOW  # type: ignore[union-attr]
    much_later = NOW + timedelta(minutes=2)
    await repo.record_use(stored.id, now=much_later, unless_since=much_later - timedelta(minutes=1))
    assert (await repo.get(stored.id)).last_used_at == much_later  # type: ignore[union-attr]


async def test_keys_are_listed_newest_first(engine: AsyncEngine):
    repo = SqlApiKeyRepository(engine)
    first = await repo.add(new_key().key)
    second = await repo.add(new_key("admin").key)
    ids = [key.id for key in await repo.list()]
    assert ids.index(second.id) < ids.index(first.id)
