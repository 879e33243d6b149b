"""The memory item endpoints over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.e2e.conftest import Auth

ITEMS = "/api/v1/memory/items"
Client = AsyncTestClient  # type: ignore[type-arg]


async def create(client: Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    body.setdefault("memory_type", "preference")
    body.setdefault("content", "I love sushi")
    response = await client.post(ITEMS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= body.keys()
    return body


async def test_an_item_lives_through_its_whole_lifecycle(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    item = await create(client, me, content="  I love   sushi ", conversation_id="c1")
    assert item["user_id"] == user_id
    assert (item["confidence"], item["importance"], item["is_explicit"]) == (0.95, 0.9, True)
    assert item["title"] == "I love sushi"

    got = await client.get(f"{ITEMS}/{item['id']}", headers=me)
    assert got.json() == item

    patched = await client.patch(
        f"{ITEMS}/{item['id']}", json={"content": "I adore sushi", "reason": "typo"}, headers=me
    )
    assert patched.status_code == 200
    assert patched.json()["content"] == "I adore sushi"
    assert patched.json()["content_hash"] != item["content_hash"]

    deleted = await client.delete(f"{ITEMS}/{item['id']}", headers=me)
    assert (deleted.status_code, deleted.json()["status"]) == (200, "deleted")
    restored = await client.post(f"{ITEMS}/{item['id']}/restore", headers=me)
    assert (restored.status_code, restored.json()["status"]) == (200, "active")

    history = (await client.get(f"{ITEMS}/{item['id']}/history", headers=me)).json()["items"]
    assert [e["operation"] for e in history] == ["create", "update", "delete", "restore"]
    assert history[1]["reason"] == "typo"
    assert history[1]["before"]["content"] == "I love   sushi"
    assert history[1]["after"]["content"] == "I adore sushi"
    assert history[0]["before"] is None
    assert all(e["operator_type"] == "user" for e in history)


async def test_delete_and_restore_are_idempotent_and_audited_once(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    item = await create(client, me)
    for _ in range(2):
        assert (await client.delete(f"{ITEMS}/{item['id']}", headers=me)).status_code == 200
    for _ in range(2):
        response = await client.post(f"{ITEMS}/{item['id']}/restore", headers=me)
        assert response.status_code == 200
    history = (await client.get(f"{ITEMS}/{item['id']}/history", headers=me)).json()["items"]
    assert [e["operation"] for e in history] == ["create", "delete", "restore"]


async def test_a_deleted_item_cannot_be_edited(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    item = await create(client, me)
    await client.request("DELETE", f"{ITEMS}/{item['id']}", json={"reason": "gone"}, headers=me)
    response = await client.patch(f"{ITEMS}/{item['id']}", json={"title": "x"}, headers=me)
    assert_problem(response, 409, "Conflict")


async def test_batch_create_returns_items_in_order(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    body = {"items": [{"memory_type": "fact", "content": f"fact {n}"} for n in range(30)]}
    response = await client.post(f"{ITEMS}/batch", json=body, headers=me)
    assert response.status_code == 201
    assert [i["content"] for i in response.json()["items"]] == [f"fact {n}" for n in range(30)]


async def test_a_batch_with_one_bad_item_stores_nothing(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    body = {
        "items": [
            {"memory_type": "fact", "content": "fine"},
            {"memory_type": "opinion", "content": "bad type"},
        ]
    }
    response = await client.post(f"{ITEMS}/batch", json=body, headers=me)
    problem = assert_problem(response, 400, "MemoryInvalidType")
    assert problem["field"] == "items[1].memory_type"
    listed = await client.get(f"{ITEMS}?status=active,archived,deleted", headers=me)
    assert listed.json()["items"] == []


async def test_a_batch_over_500_items_is_rejected(client: Client, auth: Auth, user_id: str):
    body = {"items": [{"memory_type": "fact", "content": "x"}] * 501}
    response = await client.post(f"{ITEMS}/batch", json=body, headers=auth(user_id))
    assert_problem(response, 400, "WrongParamType")


async def test_listing_pages_with_a_cursor_until_exhausted(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    body = {
        "items": [
            {"memory_type": "fact", "content": f"fact {n}", "importance": (n % 3) / 3}
            for n in range(12)
        ]
    }
    await client.post(f"{ITEMS}/batch", json=body, headers=me)
    seen: list[int] = []
    cursor = None
    while True:
        query = f"?limit=5&cursor={cursor}" if cursor else "?limit=5"
        page = (await client.get(ITEMS + query, headers=me)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 12


async def test_list_filters_accept_csv_and_repeated_parameters(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    pref = await create(client, me, memory_type="preference")
    fact = await create(client, me, memory_type="fact", content="lives in Paris")
    rule = await create(client, me, memory_type="constraint", content="never call at night")
    await client.delete(f"{ITEMS}/{rule['id']}", headers=me)

    async def ids(query: str) -> set[int]:
        response = await client.get(ITEMS + query, headers=me)
        assert response.status_code == 200, response.text
        return {i["id"] for i in response.json()["items"]}

    assert await ids("") == {pref["id"], fact["id"]}
    assert await ids("?memory_type=fact,constraint&status=active,deleted") == {
        fact["id"],
        rule["id"],
    }
    assert await ids("?memory_types=preference&memory_types=fact") == {pref["id"], fact["id"]}
    assert await ids("?status=deleted") == {rule["id"]}


async def test_list_limits_are_clamped_above_and_rejected_below(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    assert (await client.get(f"{ITEMS}?limit=1000", headers=me)).status_code == 200
    assert_problem(await client.get(f"{ITEMS}?limit=0", headers=me), 400, "WrongParamType")
    assert_problem(await client.get(f"{ITEMS}?limit=ten", headers=me), 400, "WrongParamType")
    assert_problem(await client.get(f"{ITEMS}?cursor=bogus", headers=me), 400, "WrongParamType")
    assert_problem(await client.get(f"{ITEMS}?status=gone", headers=me), 400, "WrongParamType")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"memory_type": "fact", "content": "x", "confidence": 1.5}, "confidence"),
        ({"memory_type": "fact", "content": "x", "importance": -0.1}, "importance"),
        ({"memory_type": "fact", "content": "x", "sensitivity_level": 3}, "sensitivity_level"),
        ({"memory_type": "fact", "content": "   "}, "content"),
        ({"memory_type": "fact"}, "content"),
        ({"memory_type": "fact", "content": "x", "colour": "red"}, "colour"),
        ({"memory_type": "fact", "content": 12}, "content"),
        ({"memory_type": "fact", "content": "x", "ttl_at": "tomorrow"}, "ttl_at"),
    ],
)
async def test_invalid_items_get_a_400_naming_the_field(
    client: Client, auth: Auth, user_id: str, body: dict[str, Any], field: str
):
    response = await client.post(ITEMS, json=body, headers=auth(user_id))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] in {"WrongParamType", "MemoryInvalidContent"}
    assert field in problem["detail"] or problem.get("field") == field


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", ITEMS, b"{not json"),
        ("POST", ITEMS, b"[]"),
        ("POST", ITEMS, b"null"),
        ("POST", f"{ITEMS}/batch", b'{"items": "many"}'),
        ("PATCH", f"{ITEMS}/1", b'{"confidence": "high"}'),
        ("PUT", "/api/v1/memory/settings", b'{"memory_enabled": "maybe"}'),
    ],
)
async def test_malformed_bodies_get_a_400_never_a_500(
    client: Client, auth: Auth, user_id: str, method: str, path: str, content: bytes
):
    headers = auth(user_id) | {"content-type": "application/json"}
    response = await client.request(method, path, content=content, headers=headers)
    assert_problem(response, 400, "WrongParamType")


@pytest.mark.parametrize("item_id", ["0", "-1", "99999999999999999999", "abc", "1.5"])
async def test_impossible_ids_are_not_found(client: Client, auth: Auth, user_id: str, item_id: str):
    response = await client.get(f"{ITEMS}/{item_id}", headers=auth(user_id))
    assert_problem(response, 404, response.json()["code"])
