"""Identity comes from the token only, and one user never reaches another's data."""

from __future__ import annotations

import jwt
import pytest
from litestar.testing import AsyncTestClient

from tests.e2e.conftest import SECRET, Auth
from tests.e2e.test_items_api import ITEMS, assert_problem, create

Client = AsyncTestClient  # type: ignore[type-arg]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer " + jwt.encode({"sub": "alice"}, "another-secret-of-enough-length-123", "HS256"),
        "Bearer " + jwt.encode({"sub": "alice", "exp": 1}, SECRET, "HS256"),
        "Bearer " + jwt.encode({"sub": "alice"}, SECRET, "HS256"),
        "Bearer " + jwt.encode({"sub": ""}, SECRET, "HS256"),
        "Bearer " + jwt.encode({"sub": "x" * 129}, SECRET, "HS256"),
        "Bearer " + jwt.encode({"user": "alice"}, SECRET, "HS256"),
        "Bearer " + jwt.encode({"sub": "alice"}, SECRET, "HS384"),
    ],
)
async def test_requests_without_a_valid_token_get_401(client: Client, header: str | None):
    headers = {"Authorization": header} if header else {}
    response = await client.get(ITEMS, headers=headers)
    assert_problem(response, 401, "Unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/schema/openapi.json"])
async def test_service_endpoints_need_no_token(client: Client, path: str):
    assert (await client.get(path)).status_code == 200


async def test_no_endpoint_lets_one_user_reach_anothers_item(client: Client, auth: Auth):
    alice, bob = auth("alice-tenancy"), auth("bob-tenancy")
    item = await create(client, alice, content="alice's secret")
    url = f"{ITEMS}/{item['id']}"
    attempts = [
        await client.get(url, headers=bob),
        await client.patch(url, json={"content": "mine now"}, headers=bob),
        await client.delete(url, headers=bob),
        await client.post(f"{url}/restore", headers=bob),
        await client.get(f"{url}/history", headers=bob),
    ]
    for response in attempts:
        problem = assert_problem(response, 404, "MemoryItemNotFound")
        assert "alice" not in problem["detail"]
    listed = (await client.get(f"{ITEMS}?status=active,archived,deleted", headers=bob)).json()
    assert item["id"] not in {i["id"] for i in listed["items"]}
    unchanged = (await client.get(url, headers=alice)).json()
    assert unchanged == item


async def test_the_user_id_in_a_body_is_ignored(client: Client, auth: Auth, user_id: str):
    response = await client.post(
        ITEMS,
        json={"memory_type": "fact", "content": "x", "user_id": "victim"},
        headers=auth(user_id),
    )
    assert_problem(response, 400, "WrongParamType")


async def test_settings_are_per_user_and_default_until_changed(client: Client, auth: Auth):
    alice, bob = auth("alice-settings"), auth("bob-settings")
    url = "/api/v1/memory/settings"
    defaults = (await client.get(url, headers=alice)).json()
    assert defaults == {
        "memory_enabled": True,
        "implicit_memory_enabled": True,
        "sensitive_memory_enabled": False,
        "updated_at": None,
    }
    changed = await client.put(url, json={"sensitive_memory_enabled": True}, headers=alice)
    assert changed.status_code == 200
    assert changed.json()["sensitive_memory_enabled"] is True
    assert changed.json()["memory_enabled"] is True
    again = await client.put(url, json={"memory_enabled": False}, headers=alice)
    assert again.json()["sensitive_memory_enabled"] is True
    assert again.json()["memory_enabled"] is False
    assert (await client.get(url, headers=bob)).json() == defaults


@pytest.mark.parametrize("path", ["/api/v1/admin/jobs", "/api/v1/memory/items"])
async def test_a_preflight_needs_no_token_and_shows_nothing(client: Client, path: str):
    response = await client.options(path)
    assert response.status_code == 204
    assert response.content == b""
