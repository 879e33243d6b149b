"""The per-user rate limit with several API processes: counted in Redis, two app
instances together allow one user the configured burst, not twice it; in-process
buckets (the embedded default) count per instance."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from memvault.container import Settings, migrate
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.conftest import off_loop
from tests.fixtures.redis import REDIS_URL, checked_redis_client

pytestmark = pytest.mark.redis
SECRET = "rate-limit-" + "r" * 48
ITEMS = "/api/v1/memory/items"
BURST = 2


def settings_for(tmp_path: Path, storage: str, namespace: str) -> Settings:
    """A burst of 2 in a window of 200 s: nothing refills while the test runs. A private
    embedded database: the instances' in-process workers resume pending jobs at start-up,
    so a shared database would hand them other tests' work."""
    settings = Settings(
        data_dir=tmp_path,
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        redis_url=REDIS_URL,
        rate_limit_storage=storage,  # type: ignore[arg-type]
        rate_limit_per_second=0.01,
        rate_limit_burst=BURST,
        broker_namespace=namespace,
    )
    off_loop(lambda: migrate(settings))
    return settings


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    name = f"memvault-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = await checked_redis_client()
    try:
        keys = [key async for key in client.scan_iter(match=f"{name}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user, ttl=timedelta(minutes=5))}"}


async def statuses(settings: Settings, user: str) -> list[int]:
    """BURST requests on the first instance, then one on the second."""
    async with AsyncExitStack() as stack:
        first, second = [
            await stack.enter_async_context(AsyncTestClient(create_app(settings))) for _ in range(2)
        ]
        codes = [(await first.get(ITEMS, headers=bearer(user))).status_code for _ in range(BURST)]
        last = await second.get(ITEMS, headers=bearer(user))
        other_user = await second.get(ITEMS, headers=bearer(user + "-other"))
    assert other_user.status_code == 200
    if last.status_code == 429:
        assert int(last.headers["retry-after"]) >= 1
        assert last.json()["code"] == "RateLimited"
    return [*codes, last.status_code]


async def test_two_api_instances_share_one_limit_through_redis(
    tmp_path: Path, user_id: str, namespace: str
) -> None:
    settings = settings_for(tmp_path, "redis", namespace)
    assert await statuses(settings, user_id) == [200, 200, 429]


async def test_in_process_buckets_count_each_instance_apart(
    tmp_path: Path, user_id: str, namespace: str
) -> None:
    settings = settings_for(tmp_path, "memory", namespace)
    assert await statuses(settings, user_id) == [200, 200, 200]


def test_scale_mode_with_redis_shares_the_limit_by_default() -> None:
    scale = Settings(broker="redis", event_bus="redis", redis_url=REDIS_URL)
    assert scale.shared_rate_limit
    assert not Settings(redis_url=REDIS_URL).shared_rate_limit  # embedded: one process
    assert not Settings(broker="redis", event_bus="redis", redis_url=None).shared_rate_limit


async def test_requests_go_through_when_the_shared_limit_cannot_be_reached(
    tmp_path: Path, user_id: str, namespace: str
) -> None:
    settings = settings_for(tmp_path, "redis", namespace)
    settings = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with AsyncTestClient(create_app(settings)) as client:
        codes = [(await client.get(ITEMS, headers=bearer(user_id))).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
