"""``/search`` and ``/context`` over HTTP (docs/behaviour.md, "Search and ranking"): what
may come back, and what happens when the vector side fails.

The app runs with the hashing embedder and the in-memory vector store. Stale vectors and
postings are planted on purpose, so the tests show that the database decides what is
visible, whatever the indexes still hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, insert

from memvault.adapters.sqlalchemy.lexical import DOCUMENT_TERM, user_key
from memvault.adapters.sqlalchemy.tables import memory_postings
from memvault.application.ports.embedder import Embedder, Vector
from memvault.application.ports.vector_store import (
    VectorRecord,
)
from memvault.application.shared.documents import document_id
from memvault.container import Container, Infrastructure, Settings
from memvault.domain.lexical import term_counts
from memvault.entrypoints.http.app import create_app
from tests.doubles import SwitchableStore
from tests.e2e.conftest import Auth
from tests.e2e.test_items_api import ITEMS, assert_problem, create

Client = AsyncTestClient  # type: ignore[type-arg]
SEARCH = "/api/v1/memory/search"
CONTEXT = "/api/v1/memory/context"
SETTINGS = "/api/v1/memory/settings"


def app_of(client: Client) -> Litestar:
    app = client.app
    assert isinstance(app, Litestar)
    return app


def infra_of(client: Client) -> Infrastructure:
    infra: Infrastructure = app_of(client).state.infra
    return infra


def container_of(client: Client) -> Container:
    container: Container = app_of(client).state.container
    return container


async def search(client: Client, headers: dict[str, str], query: str, **body: Any) -> Any:
    response = await client.post(SEARCH, json={"query": query, **body}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def context(client: Client, headers: dict[str, str], query: str, **body: Any) -> Any:
    response = await client.post(CONTEXT, json={"query": query, **body}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def change_settings(client: Client, headers: dict[str, str], **flags: bool) -> None:
    response = await client.put(SETTINGS, json=flags, headers=headers)
    assert response.status_code == 200, response.text


def ids(answer: Any) -> set[int]:
    return {item["id"] for item in answer["items"]}


async def plant_vectors(client: Client, user: str, item_ids: Sequence[int], query: str) -> None:
    """Extra chunks of these items whose vector is the query's own: the store ranks them
    first (their own chunks stay as they are)."""
    vector = await infra_of(client).embedder().embed_query(query)
    await (
        infra_of(client)
        .vector_store()
        .upsert(
            [
                VectorRecord(
                    id=f"{document_id(item_id)}#9",
                    document_id=document_id(item_id),
                    chunk_order=0,
                    vector=vector,
                    text=query,
                    user_id=user,
                    memory_type="preference",
                )
                for item_id in item_ids
            ]
        )
    )


async def plant_postings(client: Client, user: str, item_ids: Sequence[int], query: str) -> None:
    """Postings of ``user`` holding every query term many times over, with a document
    row: BM25 would rank these items first if the index decided."""
    planted = {DOCUMENT_TERM: 9} | {term: 9 for term in term_counts(query)}
    key = user_key(user)
    async with container_of(client).engine().begin() as conn:
        for item_id in item_ids:
            await conn.execute(
                delete(memory_postings).where(
                    memory_postings.c.user_key == key,
                    memory_postings.c.item_id == item_id,
                    memory_postings.c.term.in_(list(planted)),
                )
            )
            await conn.execute(
                insert(memory_postings),
                [
                    {"user_key": key, "term": term, "item_id": item_id, "tf": tf}
                    for term, tf in planted.items()
                ],
            )


async def archive(client: Client, user: str, item_id: int) -> None:
    """Archive as the dedup cleanup does, without touching either index."""
    async with container_of(client).uow()() as uow:
        item = await uow.items.get(user, item_id, for_update=True)
        assert item is not None
        assert item.archive(now=datetime.now(UTC))
        await uow.items.update(item)
        await uow.commit()


@pytest.mark.parametrize("slow_query", [False, True], ids=["quick", "slow-embedding"])
async def test_hidden_memories_never_come_back_whatever_the_indexes_hold(
    client: Client, auth: Auth, user_id: str, slow_query: bool
):
    """``slow-embedding``: the query embedding outlasts the lexical read, so the dense
    candidates arrive after the database's own."""
    me = auth(user_id)
    if slow_query:
        slow = HangingEmbedder(infra_of(client).embedder(), delay=0.05)
        infra_of(client).embedder.override(providers.Object(slow))
    query = "green tea in the evening"
    shown = await create(client, me, content="Likes green tea")
    deleted = await create(client, me, content="Drinks green tea every evening")
    archived = await create(client, me, content="Green tea in the evening keeps her awake")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    expired = await create(client, me, content="Green tea tasting this evening", ttl_at=past)
    assert (await client.delete(f"{ITEMS}/{deleted['id']}", headers=me)).status_code == 200
    await archive(client, user_id, archived["id"])
    hidden = [deleted["id"], archived["id"], expired["id"]]
    await plant_vectors(client, user_id, hidden, query)
    await plant_postings(client, user_id, hidden, query)

    found = await search(client, me, query, limit=20)
    agent = await context(client, me, query, limit=20)

    assert ids(found) == ids(agent) == {shown["id"]}
    assert "keeps her awake" not in agent["text"]
    assert not found["degraded"]
    assert not agent["degraded"]


async def test_settings_hide_memories_from_search_and_context(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    explicit = await create(client, me, content="Prefers window seats on trains")
    implicit = await create(
        client, me, content="Seems to like quiet train seats", is_explicit=False
    )
    sensitive = await create(
        client,
        me,
        content="Train seats near the toilet: IBS",
        sensitivity_level=1,
        is_explicit=False,
    )
    consented = await create(  # explicit: consent to keep it (docs/behaviour.md)
        client, me, content="Train seats with a plug: insulin pump", sensitivity_level=1
    )
    query = "train seats"
    every = [explicit["id"], implicit["id"], sensitive["id"], consented["id"]]
    await plant_vectors(client, user_id, every, query)

    shown = {explicit["id"], implicit["id"], consented["id"]}
    assert ids(await search(client, me, query)) == shown
    await change_settings(client, me, implicit_memory_enabled=False)
    assert ids(await search(client, me, query)) == {explicit["id"], consented["id"]}
    assert ids(await context(client, me, query)) == {explicit["id"], consented["id"]}
    await change_settings(client, me, implicit_memory_enabled=True, sensitive_memory_enabled=True)
    assert ids(await search(client, me, query)) == set(every)
    await change_settings(client, me, memory_enabled=False)
    assert ids(await search(client, me, query)) == set()
    assert (await context(client, me, query))["text"] == ""


async def test_two_users_never_see_each_others_memories(client: Client, auth: Auth, user_id: str):
    other = f"{user_id}-other"
    alice, bob = auth(user_id), auth(other)
    mine = await create(client, alice, content="Allergic to peanuts and cashews")
    theirs = await create(client, bob, content="Allergic to peanuts and almonds")
    query = "peanut allergy"
    await plant_vectors(client, other, [mine["id"]], query)
    await plant_postings(client, other, [mine["id"]], query)

    assert ids(await search(client, alice, query, limit=20)) == {mine["id"]}
    assert ids(await search(client, bob, query, limit=20)) == {theirs["id"]}
    bobs_context = await context(client, bob, query)
    assert ids(bobs_context) == {theirs["id"]}
    assert "cashews" not in bobs_context["text"]


async def test_a_failing_vector_store_degrades_to_the_database_then_recovers(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    infra = infra_of(client)
    store = SwitchableStore(infra.vector_store())
    infra.vector_store.override(providers.Object(store))
    cycling = await create(client, me, content="Cycles to work along the canal")
    await create(client, me, content="Prefers aisle seats on flights")

    store.down = True
    found = await search(client, me, "cycles to work")
    agent = await context(client, me, "cycles to work")
    assert found["degraded"]
    assert agent["degraded"]
    assert ids(found) == ids(agent) == {cycling["id"]}

    store.down = False
    assert not (await search(client, me, "cycles to work"))["degraded"]
    assert not (await context(client, me, "cycles to work"))["degraded"]


class HangingEmbedder(Embedder):
    """The real embedder, except that queries take ``delay`` seconds while ``hanging``
    (by default longer than any test waits)."""

    def __init__(self, inner: Embedder, *, delay: float = 30) -> None:
        self.inner = inner
        self.hanging = True
        self.delay = delay

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return await self.inner.embed_documents(texts)

    async def embed_query(self, text: str) -> Vector:
        if self.hanging:
            await asyncio.sleep(self.delay)
        return await self.inner.embed_query(text)


async def test_an_embedder_that_times_out_degrades_the_answer(
    settings: Settings, auth: Auth, user_id: str
):
    me = auth(user_id)
    quick = settings.model_copy(update={"retrieval_dense_timeout_s": 0.2})
    async with AsyncTestClient(create_app(quick)) as client:
        infra = infra_of(client)
        embedder = HangingEmbedder(infra.embedder())
        infra.embedder.override(providers.Object(embedder))
        item = await create(client, me, content="Walks the dog at 7am")
        found = await search(client, me, "dog walks")
        assert found["degraded"]
        assert ids(found) == {item["id"]}
        embedder.hanging = False
        assert not (await search(client, me, "dog walks"))["degraded"]


async def test_a_fresh_service_searches_vectors_written_before_it_started(
    settings: Settings, auth: Auth, user_id: str
):
    me = auth(user_id)
    persistent = settings.model_copy(update={"vector_store": "qdrant-edge"})
    async with AsyncTestClient(create_app(persistent)) as client:
        item = await create(client, me, content="Loves hiking in the Alps")
    async with AsyncTestClient(create_app(persistent)) as client:
        found = await search(client, me, "hikes")
    assert not found["degraded"]
    assert ids(found) == {item["id"]}


async def test_scores_limits_and_the_type_budget(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    batch = [
        {"memory_type": kind, "content": f"Coffee note {kind} {n}", "importance": n / 10}
        for kind in ("preference", "constraint", "fact")
        for n in range(1, 9)
    ]
    response = await client.post(f"{ITEMS}/batch", json={"items": batch}, headers=me)
    assert response.status_code == 201, response.text

    found = await search(client, me, "coffee note", limit=25)
    assert len(found["items"]) == 24  # a search page has no per-type budget
    scores = [item["score"] for item in found["items"]]
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert len((await search(client, me, "coffee note"))["items"]) == 5
    assert len((await search(client, me, "coffee note", limit=500))["items"]) == 24
    ten = await search(client, me, "coffee note", limit=10, memory_types=["fact", "preference"])
    assert len(ten["items"]) == 10  # limit 10 over 16 matching memories
    budgeted = await search(client, me, "coffee note", limit=25, type_budget={"fact": 3})
    kinds = [item["memory_type"] for item in budgeted["items"]]
    assert (len(kinds), kinds.count("fact")) == (19, 3)
    block = await context(client, me, "coffee note", limit=25)
    kinds = [item["memory_type"] for item in block["items"]]
    assert len(kinds) == 15  # /context keeps the 5/5/5 budget
    assert all(kinds.count(kind) == 5 for kind in ("preference", "constraint", "fact"))
    for path, body, field in (
        (SEARCH, {"query": "coffee", "limit": 0}, "limit"),
        (SEARCH, {"query": ""}, "query"),
        (SEARCH, {"query": "   "}, "query"),
        (CONTEXT, {"query": "coffee", "limit": 0}, "limit"),
    ):
        response = await client.post(path, json=body, headers=me)
        assert assert_problem(response, 400, "WrongParamType")["field"] == field


async def test_search_records_last_access_written_at_the_next_flush_not_updated_at(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    item = await create(client, me, content="Keeps a sourdough starter named Bob")
    assert item["last_access_at"] is None
    await search(client, me, "sourdough starter")
    before_flush = (await client.get(f"{ITEMS}/{item['id']}", headers=me)).json()
    assert before_flush["last_access_at"] is None

    assert await container_of(client).access_times().flush() >= 1

    after = (await client.get(f"{ITEMS}/{item['id']}", headers=me)).json()
    assert after["last_access_at"] is not None
    assert after["updated_at"] == item["updated_at"]


async def test_acknowledgements_skip_retrieval(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    await create(client, me, content="ok means okay in her notes")
    for reply in ("ok", "好的", "OK!", ""):
        answer = await context(client, me, reply)
        assert answer == {"text": "", "items": [], "degraded": False, "skipped": True}


async def test_max_tokens_drops_the_lowest_ranked_items_first(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    for n, kind in enumerate(["fact", "preference"] * 3):
        await create(client, me, memory_type=kind, content=f"Garden note {n}: tomatoes need sun")
    full = await context(client, me, "garden tomatoes")
    assert len(full["items"]) == 6
    budget = len(full["text"]) // 8
    cut = await context(client, me, "garden tomatoes", max_tokens=budget)
    assert 0 < len(cut["items"]) < 6
    assert [i["id"] for i in cut["items"]] == [i["id"] for i in full["items"]][: len(cut["items"])]
    assert len(cut["text"]) < len(full["text"])


def headings(text: str, names: Sequence[str]) -> Iterator[int]:
    return (text.index(name) for name in names)


async def test_typed_context_puts_constraints_then_preferences_then_facts(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    await create(client, me, memory_type="fact", content="Lives near the sea", importance=1.0)
    await create(client, me, memory_type="preference", content="Likes sea swimming")
    await create(client, me, memory_type="constraint", content="Never swims alone in the sea")
    english = await context(client, me, "sea swimming", render_mode="typed")
    order = ["Constraints to respect", "User preferences", "Relevant facts"]
    assert list(headings(english["text"], order)) == sorted(headings(english["text"], order))
    chinese = await context(client, me, "sea swimming", render_mode="typed_v2", language="zh")
    order = ["【必守约束】", "【用户偏好】", "【当前话题相关事实】"]
    assert list(headings(chinese["text"], order)) == sorted(headings(chinese["text"], order))


async def test_search_and_context_report_their_stage_timings(
    client: Client, auth: Auth, user_id: str
):
    me = auth(user_id)
    await create(client, me, content="Rides a red bicycle to work")
    for path in (SEARCH, CONTEXT):
        response = await client.post(path, json={"query": "red bicycle"}, headers=me)
        assert response.status_code == 200, response.text
        stages = dict(
            part.strip().split(";dur=") for part in response.headers["server-timing"].split(",")
        )
        expected = {"settings", "lexical", "embed", "vector", "recheck", "rank", "total"}
        assert expected <= set(stages)
        assert all(float(ms) >= 0 for ms in stages.values())
