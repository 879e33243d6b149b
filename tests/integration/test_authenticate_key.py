"""Authenticating a key: usable keys only, and the last use written at most once a minute."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.api_keys import SqlApiKeyRepository
from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.application.api_keys.authenticate_key import AuthenticateKeyUseCase
from memvault.application.api_keys.create_key import CreateKey, CreateKeyUseCase
from memvault.application.api_keys.revoke_key import RevokeKeyUseCase
from memvault.domain.api_keys import ApiKeyNotFound

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class ManualClock:
    at: datetime = START

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def sqlite(database_urls: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_urls["sqlite"], pool_size=1)
    yield engine
    await engine.dispose()


async def test_only_a_live_key_authenticates(sqlite: AsyncEngine):
    keys, clock = SqlApiKeyRepository(sqlite), ManualClock()
    authenticate = AuthenticateKeyUseCase(keys, clock)
    new = await CreateKeyUseCase(keys, clock)(
        CreateKey(name="crm", scope="service", expires_in=timedelta(days=1))
    )
    assert (await authenticate(new.secret)) is not None
    assert await authenticate(new.secret + "x") is None
    clock.at = START + timedelta(days=1)
    assert await authenticate(new.secret) is None


async def test_a_revoked_key_no_longer_authenticates(sqlite: AsyncEngine):
    keys, clock = SqlApiKeyRepository(sqlite), ManualClock()
    new = await CreateKeyUseCase(keys, clock)(CreateKey(name="crm", scope="admin"))
    assert new.key.id is not None
    revoked = await RevokeKeyUseCase(keys, clock)(new.key.id)
    assert revoked.revoked_at == START
    assert await AuthenticateKeyUseCase(keys, clock)(new.secret) is None
    with pytest.raises(ApiKeyNotFound):
        await RevokeKeyUseCase(keys, clock)(10**12)


async def test_the_last_use_is_recorded_at_most_once_a_minute(sqlite: AsyncEngine):
    keys, clock = SqlApiKeyRepository(sqlite), ManualClock()
    authenticate = AuthenticateKeyUseCase(keys, clock)
    new = await CreateKeyUseCase(keys, clock)(CreateKey(name="crm", scope="user:alice"))
    assert new.key.id is not None
    await authenticate(new.secret)
    clock.at = START + timedelta(seconds=59)
    await authenticate(new.secret)
    stored = await keys.get(new.key.id)
    assert stored is not None
    assert stored.last_used_at == START
    clock.at = START + timedelta(seconds=61)
    await authenticate(new.secret)
    stored = await keys.get(new.key.id)
    assert stored is not None
    assert stored.last_used_at == START + timedelta(seconds=61)
