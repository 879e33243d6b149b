"""An API on a migrated SQLite database, driven in-process over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token

SECRET = "test-secret-" + "x" * 64


@pytest.fixture
def settings(tmp_path: Path, database_urls: dict[str, str]) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_urls["sqlite"],
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        access_flush_interval_s=3600,  # tests flush access times themselves
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


Auth = Callable[..., dict[str, str]]


@pytest.fixture
def auth() -> Auth:
    def headers(user: str, *, admin: bool = False, ttl: float = 3600) -> dict[str, str]:
        token = issue_token(SECRET, user, admin=admin, ttl=timedelta(seconds=ttl))
        return {"Authorization": f"Bearer {token}"}

    return headers
