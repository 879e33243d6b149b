"""Item metadata and ``occurred_at`` over HTTP (docs/behaviour.md, "Metadata" and "Time")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import Auth
from tests.e2e.test_items_api import ITEMS, assert_problem, create
from tests.e2e.test_retrieval_api import CONTEXT, Client, search


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        ({"k": {"nested": 1}}, "nested object"),
        ({"k": [1, 2]}, "array"),
        ({"k": None}, "null"),
        ({f"k{n}": n for n in range(33)}, "33 keys"),
        ({"k": "x" * 4100}, "over 4 KB"),
        ({"1abc": "x"}, "key not an identifier"),
        ({"a b": "x"}, "key with a space"),
        ("not an object", "not an object"),
    ],
)
async def test_invalid_metadata_is_a_400_on_create_batch_and_patch(
    client: Client, auth: Auth, user_id: str, metadata: Any, why: str
) -> None:
    me = auth(user_id)
    body = {"memory_type": "fact", "content": "I live in Lyon", "metadata": metadata}
    created = await client.post(ITEMS, json=body, headers=me)
    assert created.status_code == 400, (why, created.text)
    batch = await client.post(f"{ITEMS}/batch", json={"items": [body]}, headers=me)
    assert batch.status_code == 400, (why, batch.text)
    item = await create(client, me)
    patched = await client.patch(f"{ITEMS}/{item['id']}", json={"metadata": metadata}, headers=me)
    assert patched.status_code == 400, (why, patched.text)
    unchanged = await client.get(f"{ITEMS}/{item['id']}", headers=me)
    assert unchanged.json()["metadata"] == {}


async def test_metadata_round_trips_and_patch_replaces_it(
    client: Client, auth: Auth, user_id: str
) -> None:
    me = auth(user_id)
    tags = {"source": "crm", "priority": 2, "score": 0.5, "pinned": True, "名": "x" * 10}
    # a non-ASCII key is not an identifier here: keys are ASCII identifiers
    assert_problem(
        await client.post(
            ITEMS, json={"memory_type": "fact", "content": "a", "metadata": tags}, headers=me
        ),
        400,
        "WrongParamType",
    )
    del tags["名"]
    item = await create(client, me, metadata=tags)
    assert item["metadata"] == tags
    assert (await client.get(f"{ITEMS}/{item['id']}", headers=me)).json()["metadata"] == tags
    patched = await client.patch(
        f"{ITEMS}/{item['id']}", json={"metadata": {"source": "mail"}}, headers=me
    )
    assert patched.json()["metadata"] == {"source": "mail"}
    kept = await client.patch(f"{ITEMS}/{item['id']}", json={"title": "t"}, headers=me)
    assert kept.json()["metadata"] == {"source": "mail"}
    cleared = await client.patch(f"{ITEMS}/{item['id']}", json={"metadata": {}}, headers=me)
    assert cleared.json()["metadata"] == {}
    batch = await client.post(
        f"{ITEMS}/batch",
        json={"items": [{"memory_type": "fact", "content": "b", "metadata": {"n": 1}}]},
        headers=me,
    )
    assert batch.json()["items"][0]["metadata"] == {"n": 1}


async def seed(client: Client, me: dict[str, str]) -> dict[str, int]:
    ids = {}
    for name, metadata in [
        ("work", {"project": "apollo", "team": "core"}),
        ("work2", {"project": "apollo", "team": "web"}),
        ("home", {"project": "garden"}),
        ("number", {"project": 1}),
        ("string", {"project": "1"}),
        ("none", {}),
    ]:
        item = await create(
            client, me, memory_type="fact", content=f"tea preference note {name}", metadata=metadata
        )
        ids[name] = item["id"]
    return ids


async def test_list_filters_by_metadata_equality_and(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    ids = await seed(client, me)

    async def listed(wanted: Any) -> set[int]:
        params = {"metadata": json.dumps(wanted), "limit": 100}
        response = await client.get(ITEMS, params=params, headers=me)
        assert response.status_code == 200, response.text
        return {i["id"] for i in response.json()["items"]}

    assert await listed({"project": "apollo"}) == {ids["work"], ids["work2"]}
    assert await listed({"project": "apollo", "team": "web"}) == {ids["work2"]}
    assert await listed({"project": 1}) == {ids["number"]}
    assert await listed({"project": 1.0}) == {ids["number"]}
    assert await listed({"project": "1"}) == {ids["string"]}
    assert await listed({"project": "nowhere"}) == set()
    bad = await client.get(ITEMS, params={"metadata": "{not json"}, headers=me)
    assert_problem(bad, 400, "WrongParamType")
    nested = await client.get(ITEMS, params={"metadata": '{"a": {"b": 1}}'}, headers=me)
    assert_problem(nested, 400, "WrongParamType")


async def test_search_and_context_filter_by_metadata(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    ids = await seed(client, me)
    other = auth(user_id + "-other")
    await create(
        client, other, memory_type="fact", content="tea note", metadata={"project": "apollo"}
    )

    found = await search(
        client, me, "tea preference note", limit=20, metadata={"project": "apollo"}
    )
    assert {i["id"] for i in found["items"]} == {ids["work"], ids["work2"]}
    assert all(i["metadata"]["project"] == "apollo" for i in found["items"])
    both = await search(
        client, me, "tea preference note", metadata={"project": "apollo", "team": "core"}
    )
    assert [i["id"] for i in both["items"]] == [ids["work"]]
    context = await client.post(
        CONTEXT,
        json={"query": "tea preference note", "metadata": {"project": "garden"}},
        headers=me,
    )
    assert context.status_code == 200, context.text
    assert [i["id"] for i in context.json()["items"]] == [ids["home"]]
    assert "note home" in context.json()["text"]
    bad = await client.post(
        "/api/v1/memory/search", json={"query": "tea", "metadata": {"a": [1]}}, headers=me
    )
    assert_problem(bad, 400, "WrongParamType")


async def test_occurred_at_round_trips_and_defaults_to_created_at(
    client: Client, auth: Auth, user_id: str
) -> None:
    me = auth(user_id)
    said = await create(client, me, content="I moved to Oslo", occurred_at="2024-03-05T10:00:00Z")
    assert said["occurred_at"].startswith("2024-03-05T10:00:00")
    now = await create(client, me, content="I moved to Bergen")
    assert now["occurred_at"] == now["created_at"]
    got = await client.get(f"{ITEMS}/{said['id']}", headers=me)
    assert got.json()["occurred_at"] == said["occurred_at"]


async def test_messages_take_metadata_under_the_same_rules(
    client: Client, auth: Auth, user_id: str
) -> None:
    me = auth(user_id)
    turn = {"role": "user", "content": "I moved to Oslo last week"}
    ok = await client.post(
        "/api/v1/memory/messages",
        json={"conversation_id": "c1", "messages": [turn], "metadata": {"source": "slack"}},
        headers=me,
    )
    assert ok.status_code in (200, 201, 202), ok.text
    bad = await client.post(
        "/api/v1/memory/messages",
        json={"conversation_id": "c1", "messages": [turn], "metadata": {"source": ["slack"]}},
        headers=me,
    )
    assert_problem(bad, 400, "WrongParamType")


async def test_context_dates_old_memories_and_search_carries_occurred_at(
    client: Client, auth: Auth, user_id: str
) -> None:
    me = auth(user_id)
    old = await create(
        client,
        me,
        memory_type="fact",
        content="lives in Oslo city centre",
        occurred_at="2021-06-01T00:00:00Z",
    )
    new = await create(client, me, memory_type="fact", content="lives in Oslo city centre now")
    context = await client.post(CONTEXT, json={"query": "lives in Oslo city"}, headers=me)
    text = context.json()["text"]
    assert "lives in Oslo city centre (2021-06)" in text
    assert "centre now (" not in text
    found = await search(client, me, "lives in Oslo city centre", limit=5)
    said = {i["id"]: i["occurred_at"] for i in found["items"]}
    assert said[old["id"]].startswith("2021-06-01")
    assert said[new["id"]] == new["created_at"]
