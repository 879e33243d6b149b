"""Idempotency-Key replays, refusals, the per-user rate limit and /metrics
(docs/behaviour.md, "HTTP edges")."""

from __future__ import annotations

import asyncio
from pathlib import Path

from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.rate_limit import TokenBuckets
from tests.e2e.conftest import SECRET, Auth
from tests.e2e.test_items_api import ITEMS, assert_problem

Client = AsyncTestClient  # type: ignore[type-arg]
BODY = {"memory_type": "fact", "content": "has a cat named Miso"}


async def test_a_repeated_key_replays_the_first_response(client: Client, auth: Auth, user_id: str):
    headers = auth(user_id) | {"Idempotency-Key": "create-1"}
    first = await client.post(ITEMS, json=BODY, headers=headers)
    second = await client.post(ITEMS, json=BODY, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    listed = (await client.get(ITEMS, headers=auth(user_id))).json()["items"]
    assert len(listed) == 1


async def test_a_key_reused_with_another_body_is_422(client: Client, auth: Auth, user_id: str):
    headers = auth(user_id) | {"Idempotency-Key": "create-2"}
    await client.post(ITEMS, json=BODY, headers=headers)
    other = await client.post(ITEMS, json=BODY | {"content": "other"}, headers=headers)
    assert_problem(other, 422, "Unprocessable")


async def test_keys_are_per_user(client: Client, auth: Auth, user_id: str):
    key = {"Idempotency-Key": "shared-key"}
    mine = await client.post(ITEMS, json=BODY, headers=auth(user_id) | key)
    theirs = await client.post(ITEMS, json=BODY, headers=auth("other-" + user_id) | key)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["user_id"] == "other-" + user_id


async def test_concurrent_requests_with_one_key_create_one_item(
    client: Client, auth: Auth, user_id: str
):
    headers = auth(user_id) | {"Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *(client.post(ITEMS, json=BODY, headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in responses} <= {201, 409}
    listed = (await client.get(ITEMS, headers=auth(user_id))).json()["items"]
    assert len(listed) == 1


async def test_a_failed_request_does_not_burn_its_key(client: Client, auth: Auth, user_id: str):
    headers = auth(user_id) | {"Idempotency-Key": "bad-then-good"}
    bad = await client.post(ITEMS, json={"memory_type": "nope", "content": "x"}, headers=headers)
    assert bad.status_code == 400
    replay = await client.post(ITEMS, json={"memory_type": "nope", "content": "x"}, headers=headers)
    assert replay.status_code == 400
    assert replay.headers["idempotent-replayed"] == "true"


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    buckets = TokenBuckets(rate=20, burst=40)
    assert all(buckets.take("u", now=0.0) == 0 for _ in range(40))
    assert buckets.take("u", now=0.0) > 0
    assert buckets.take("v", now=0.0) == 0
    assert [buckets.take("u", now=0.1) for _ in range(2)] == [0, 0]
    assert buckets.take("u", now=0.1) > 0


async def test_a_user_over_the_rate_gets_429_with_retry_after(
    tmp_path: Path, database_urls: dict[str, str], auth: Auth, user_id: str
):
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_urls["sqlite"],
        auth_jwt_secret=SecretStr(SECRET),
        rate_limit_per_second=1,
        rate_limit_burst=3,
    )
    async with AsyncTestClient(create_app(settings)) as limited:
        statuses = [(await limited.get(ITEMS, headers=auth(user_id))).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await limited.get(ITEMS, headers=auth(user_id))
        assert_problem(refused, 429, "RateLimited")
        assert int(refused.headers["retry-after"]) >= 1
        assert (await limited.get(ITEMS, headers=auth("someone-else"))).status_code == 200


async def test_metrics_are_exposed_without_a_token(client: Client, auth: Auth, user_id: str):
    await client.get(ITEMS, headers=auth(user_id))
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "memvault_requests_total" in response.text


async def test_pipeline_metrics_are_exported_with_the_reference_names(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    await client.post(ITEMS, json=BODY, headers=me)
    posted = await client.post(
        "/api/v1/memory/messages",
        json={"conversation_id": "c", "messages": [{"role": "user", "content": "I love jazz"}]},
        headers=me,
    )
    key = posted.json()["messages"][0]["job_key"]
    for _ in range(200):
        jobs = (await client.get(f"/api/v1/memory/jobs?job_key={key}", headers=me)).json()
        if jobs["items"] and jobs["items"][0]["status"] == "success":
            break
        await asyncio.sleep(0.05)
    await client.post("/api/v1/memory/search", json={"query": "jazz"}, headers=me)
    text = (await client.get("/metrics")).text
    for line in (
        'memory_manage_total{operation="create",status="ok"}',
        'memory_job_total{status="success"}',
        'memory_decision_total{action="ADD",status="ok"}',
        'memory_retrieve_hit_total{read_mode="hybrid"}',
        "memvault_outbox_published_total",
    ):
        assert line in text, line
