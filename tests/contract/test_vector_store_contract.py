"""The VectorStore contract, run over every adapter against the real engines."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue

import numpy as np
import pytest

from memvault.adapters.vector_store.memory import MemoryVectorStore
from memvault.adapters.vector_store.milvus import IndexKind, MilvusVectorStore
from memvault.adapters.vector_store.qdrant import QdrantVectorStore
from memvault.adapters.vector_store.qdrant_edge import QdrantEdgeVectorStore
from memvault.application.ports.embedder import Vector
from memvault.application.ports.vector_store import (
    VectorFilter,
    VectorRecord,
    VectorStore,
    VectorStoreError,
)
from memvault.domain.metadata import tokens as metadata_tokens

DIM = 32
KINDS = ["memory", "qdrant-edge", "qdrant", "milvus-lite", "milvus"]
PERSISTENT = ["qdrant-edge", "milvus-lite", "milvus"]
MILVUS_TESTS = 14  # tests that take a ready collection; any more make their own (slower)


@dataclass(frozen=True)
class Kind:
    name: str
    make: Callable[[], VectorStore]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Kind:
    return make_kind(request.param, request, tmp_path)


@pytest.fixture(params=PERSISTENT)
def persistent_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Kind:
    return make_kind(request.param, request, tmp_path)


@pytest.fixture(params=["milvus-lite", "milvus"])
def milvus_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Kind:
    return make_kind(request.param, request, tmp_path)


def make_kind(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Kind:
    if name == "memory":
        return Kind(name, MemoryVectorStore)
    if name == "qdrant-edge":
        return Kind(name, lambda: QdrantEdgeVectorStore(tmp_path / "vectors"))
    if name == "qdrant":
        return Kind(name, lambda: QdrantVectorStore(location=":memory:"))
    if name == "milvus-lite":
        return Kind(name, lambda: MilvusVectorStore(str(tmp_path / "vectors.db")))
    uri: str = request.getfixturevalue("milvus_server_uri")
    pools: dict[IndexKind, SimpleQueue[str]] = request.getfixturevalue("milvus_collections")
    index: IndexKind = "HNSW" if name == "milvus-hnsw" else "FLAT"
    pool = pools[index]
    collection = pool.get_nowait() if not pool.empty() else new_collection_name()
    return Kind(name, lambda: MilvusVectorStore(uri, collection=collection, index=index))


@pytest.fixture(scope="module")
def milvus_collections(milvus_server_uri: str) -> dict[IndexKind, SimpleQueue[str]]:
    """Collections made ready ahead, in parallel, by the adapter itself.

    Loading a new collection takes ≈2.5 s on the Milvus server whatever its size, and
    loads overlap well; one fresh collection per test keeps the tests independent.
    """
    wanted: list[tuple[IndexKind, str]] = [
        *(("FLAT", new_collection_name()) for _ in range(MILVUS_TESTS)),
        ("HNSW", new_collection_name()),
    ]

    def prepare(item: tuple[IndexKind, str]) -> None:
        index, name = item
        store = MilvusVectorStore(milvus_server_uri, collection=name, index=index)
        asyncio.run(open_and_close(store))

    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        list(pool.map(prepare, wanted))
    ready: dict[IndexKind, SimpleQueue[str]] = {"FLAT": SimpleQueue(), "HNSW": SimpleQueue()}
    for index, name in wanted:
        ready[index].put(name)
    return ready


async def open_and_close(store: VectorStore) -> None:
    await store.ensure_ready(DIM)
    await store.close()


def new_collection_name() -> str:
    return f"contract_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(kind: Kind) -> AsyncIterator[VectorStore]:
    opened = kind.make()
    await opened.ensure_ready(DIM)
    yield opened
    await opened.close()


@pytest.fixture(params=[*KINDS, "milvus-hnsw"])
async def any_index_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[VectorStore]:
    """Like ``store``, plus Milvus with an HNSW index (filtered HNSW is where recall drops)."""
    opened = make_kind(request.param, request, tmp_path).make()
    await opened.ensure_ready(DIM)
    yield opened
    await opened.close()


def unit(seed: int) -> Vector:
    vector = np.random.default_rng(seed).standard_normal(DIM)
    normalised: Vector = (vector / np.linalg.norm(vector)).tolist()
    return normalised


def near(vector: Vector, seed: int, noise: float) -> Vector:
    moved = np.asarray(vector) + noise * np.asarray(unit(seed))
    normalised: Vector = (moved / np.linalg.norm(moved)).tolist()
    return normalised


def chunk(
    record_id: str,
    vector: Vector,
    *,
    user: str = "alice",
    document: str | None = None,
    order: int = 0,
    memory_type: str = "preference",
    assistant_id: str | None = None,
    run_id: str | None = None,
    text: str | None = None,
    metadata_tokens: tuple[str, ...] = (),
) -> VectorRecord:
    return VectorRecord(
        id=record_id,
        document_id=document or record_id.split("#")[0],
        chunk_order=order,
        vector=vector,
        text=text or f"text of {record_id}",
        user_id=user,
        memory_type=memory_type,
        assistant_id=assistant_id,
        run_id=run_id,
        metadata_tokens=metadata_tokens,
    )


def scope(user: str = "alice", **options: object) -> VectorFilter:
    return VectorFilter(user_id=user, **options)  # type: ignore[arg-type]


async def ids_found(
    store: VectorStore, vector: Vector, flt: VectorFilter, limit: int = 10
) -> set[str]:
    return {hit.id for hit in await store.search(vector, limit=limit, filter=flt)}


async def test_search_on_an_empty_store_returns_nothing(store: VectorStore) -> None:
    assert await store.search(unit(1), limit=5, filter=scope()) == []
    assert await store.document_ids() == set()


async def test_search_returns_the_nearest_first_with_cosine_scores(store: VectorStore) -> None:
    query = unit(1)
    await store.upsert(
        [
            chunk("memory:1", near(query, 2, 0.1)),
            chunk("memory:2", near(query, 3, 0.6)),
            chunk("memory:3", unit(4)),
            chunk("memory:4", query, text="the same vector"),
        ]
    )
    hits = await store.search(query, limit=3, filter=scope())
    assert [hit.id for hit in hits] == ["memory:4", "memory:1", "memory:2"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert hits[0].text == "the same vector"
    assert (hits[0].document_id, hits[0].chunk_order) == ("memory:4", 0)
    assert (hits[0].user_id, hits[0].memory_type) == ("alice", "preference")


async def test_a_user_never_sees_another_users_chunks_even_when_closer(store: VectorStore) -> None:
    query = unit(1)
    theirs = [chunk(f"memory:{n}", near(query, n, 0.01), user="bob") for n in range(10, 30)]
    mine = [chunk("memory:1", unit(2)), chunk("memory:2", unit(3))]
    await store.upsert(theirs + mine)
    hits = await store.search(query, limit=10, filter=scope("alice"))
    assert {hit.id for hit in hits} == {"memory:1", "memory:2"}
    assert {hit.user_id for hit in hits} == {"alice"}
    assert await ids_found(store, query, scope("carol")) == set()


async def test_filtered_search_keeps_recall_over_many_users(
    any_index_store: VectorStore,
) -> None:
    store = any_index_store
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((2000, DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    users = [f"user-{n % 50}" for n in range(2000)]
    await store.upsert(
        [chunk(f"memory:{n}", vectors[n].tolist(), user=users[n]) for n in range(2000)]
    )
    for target in range(0, 50, 7):
        user = f"user-{target}"
        query = rng.standard_normal(DIM)
        owned = [n for n in range(2000) if users[n] == user]
        expected = sorted(owned, key=lambda n: -float(vectors[n] @ query))[:5]
        hits = await store.search(query.tolist(), limit=5, filter=scope(user))
        assert [hit.id for hit in hits] == [f"memory:{n}" for n in expected]


async def test_metadata_filtered_search_equals_an_exact_filtered_scan(
    any_index_store: VectorStore,
) -> None:
    """Recall 1.0 where the filter keeps 1% of a user's memories: the filter runs inside
    the engine's query, not after its top-k."""
    store = any_index_store
    rng = np.random.default_rng(11)
    total = 3000
    vectors = rng.standard_normal((total, DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    project = {n: "rare" if n % 100 == 0 else "common" for n in range(total)}
    pinned = {n: n % 200 == 0 for n in range(total)}

    def tokens_of(n: int) -> tuple[str, ...]:
        return tuple(metadata_tokens({"project": project[n], "pinned": pinned[n], "source": "app"}))

    await store.upsert(
        [
            chunk(f"memory:{n}", vectors[n].tolist(), metadata_tokens=tokens_of(n))
            for n in range(total)
        ]
        + [  # another user's closest vectors with the same metadata never leak
            chunk(f"memory:b{n}", vectors[n].tolist(), user="bob", metadata_tokens=tokens_of(n))
            for n in range(0, total, 100)
        ]
    )
    filters: list[dict[str, str | bool]] = [
        {"project": "rare"},
        {"project": "rare", "pinned": True},
        {"project": "rare", "source": "app"},
    ]
    for wanted in filters:
        kept = [
            n
            for n in range(total)
            if all(
                {"project": project[n], "pinned": pinned[n], "source": "app"}[k] == v
                for k, v in wanted.items()
            )
        ]
        assert 0 < len(kept) <= total // 100
        for _ in range(3):
            query = rng.standard_normal(DIM)
            expected = sorted(kept, key=lambda n: -float(vectors[n] @ query))[:10]
            flt = scope("alice", metadata_tokens=frozenset(metadata_tokens(wanted)))
            hits = await store.search(query.tolist(), limit=10, filter=flt)
            assert [hit.id for hit in hits] == [f"memory:{n}" for n in expected]
    none = scope("alice", metadata_tokens=frozenset(metadata_tokens({"project": "absent"})))
    assert await store.search(unit(1), limit=10, filter=none) == []


async def test_memory_types_filter_keeps_only_the_listed_types(store: VectorStore) -> None:
    query = unit(1)
    await store.upsert(
        [
            chunk("memory:1", unit(2), memory_type="preference"),
            chunk("memory:2", unit(3), memory_type="constraint"),
            chunk("memory:3", unit(4), memory_type="fact"),
        ]
    )
    assert await ids_found(store, query, scope()) == {"memory:1", "memory:2", "memory:3"}
    only = scope(memory_types=frozenset({"constraint", "fact"}))
    assert await ids_found(store, query, only) == {"memory:2", "memory:3"}
    assert await ids_found(store, query, scope(memory_types=frozenset({"nope"}))) == set()


async def test_assistant_and_run_filters_match_equal_or_unset(store: VectorStore) -> None:
    query = unit(1)
    await store.upsert(
        [
            chunk("memory:1", unit(2)),
            chunk("memory:2", unit(3), assistant_id="a1"),
            chunk("memory:3", unit(4), assistant_id="a2"),
            chunk("memory:4", unit(5), assistant_id="a1", run_id="r1"),
            chunk("memory:5", unit(6), run_id="r2"),
        ]
    )
    everything = {"memory:1", "memory:2", "memory:3", "memory:4", "memory:5"}
    assert await ids_found(store, query, scope()) == everything
    assert await ids_found(store, query, scope(assistant_id="a1")) == {
        "memory:1",
        "memory:2",
        "memory:4",
        "memory:5",
    }
    assert await ids_found(store, query, scope(run_id="r1")) == {
        "memory:1",
        "memory:2",
        "memory:3",
        "memory:4",
    }
    assert await ids_found(store, query, scope(assistant_id="a1", run_id="r1")) == {
        "memory:1",
        "memory:2",
        "memory:4",
    }


async def test_upserting_an_existing_id_replaces_the_record(store: VectorStore) -> None:
    first, second = unit(1), unit(2)
    await store.upsert([chunk("memory:1", first, text="old", memory_type="fact")])
    await store.upsert([chunk("memory:1", second, text="new", memory_type="preference")])
    hits = await store.search(second, limit=5, filter=scope())
    assert [(hit.id, hit.text, hit.memory_type) for hit in hits] == [
        ("memory:1", "new", "preference")
    ]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert await ids_found(store, first, scope(memory_types=frozenset({"fact"}))) == set()


async def test_a_search_sees_every_write_made_before_it(store: VectorStore) -> None:
    """Searches between writes: no store answers from a state older than what it was told."""
    query = unit(1)
    await store.upsert([chunk("memory:1", unit(2)), chunk("memory:9", unit(3), user="bob")])
    assert await ids_found(store, query, scope()) == {"memory:1"}
    await store.upsert([chunk("memory:2", query)])
    hits = await store.search(query, limit=5, filter=scope())
    assert [hit.id for hit in hits] == ["memory:2", "memory:1"]
    await store.upsert([chunk("memory:2", unit(4), text="moved")])
    assert (await store.search(unit(4), limit=1, filter=scope()))[0].text == "moved"
    await store.delete_documents(["memory:1"])
    assert await ids_found(store, query, scope()) == {"memory:2"}
    await store.upsert([chunk("memory:2", query, user="bob")])  # the record changes hands
    assert await ids_found(store, query, scope()) == set()
    assert await ids_found(store, query, scope("bob")) == {"memory:2", "memory:9"}
    await store.delete_documents(["memory:9"])
    assert await ids_found(store, query, scope("bob")) == {"memory:2"}


async def test_delete_documents_removes_every_chunk_of_them_and_nothing_else(
    store: VectorStore,
) -> None:
    query = unit(1)
    await store.upsert(
        [chunk(f"memory:1#{n}", unit(10 + n), document="memory:1", order=n) for n in range(3)]
        + [chunk("memory:2", unit(20)), chunk("memory:3", unit(21), user="bob")]
        + [chunk(f"memory:4#{n}", unit(30 + n), document="memory:4", order=n) for n in range(2)]
    )
    await store.delete_documents(["memory:1", "memory:3", "memory:999"])
    assert await ids_found(store, query, scope()) == {"memory:2", "memory:4#0", "memory:4#1"}
    assert await ids_found(store, query, scope("bob")) == set()
    assert await store.document_ids() == {"memory:2", "memory:4"}


async def test_document_ids_lists_exactly_the_stored_documents(store: VectorStore) -> None:
    await store.upsert(
        [chunk(f"memory:1#{n}", unit(n), document="memory:1", order=n) for n in range(3)]
        + [chunk("memory:2", unit(5)), chunk("memory:3", unit(6), user="bob")]
    )
    assert await store.document_ids(user_id="alice") == {"memory:1", "memory:2"}
    assert await store.document_ids(user_id="bob") == {"memory:3"}
    assert await store.document_ids(user_id="carol") == set()
    assert await store.document_ids() == {"memory:1", "memory:2", "memory:3"}


async def test_a_vector_of_another_dimension_is_refused(store: VectorStore) -> None:
    with pytest.raises(VectorStoreError):
        await store.upsert([chunk("memory:1", unit(1)[:-1])])
    with pytest.raises(VectorStoreError):
        await store.search([*unit(1), 0.0], limit=3, filter=scope())
    assert await store.document_ids() == set()


async def test_using_the_store_before_ensure_ready_raises(kind: Kind) -> None:
    fresh = kind.make()
    with pytest.raises(VectorStoreError):
        await fresh.search(unit(1), limit=3, filter=scope())
    with pytest.raises(VectorStoreError):
        await fresh.upsert([chunk("memory:1", unit(1))])
    await fresh.close()


async def test_a_persistent_store_keeps_its_data_across_reopen(persistent_kind: Kind) -> None:
    kind = persistent_kind
    first = kind.make()
    await first.ensure_ready(DIM)
    await first.upsert([chunk("memory:1", unit(1)), chunk("memory:2#0", unit(2))])
    await first.close()

    second = kind.make()
    await second.ensure_ready(DIM)
    try:
        assert await second.document_ids(user_id="alice") == {"memory:1", "memory:2"}
        hits = await second.search(unit(1), limit=1, filter=scope())
        assert [hit.id for hit in hits] == ["memory:1"]
    finally:
        await second.close()


async def test_reopening_with_another_dimension_is_refused(persistent_kind: Kind) -> None:
    kind = persistent_kind
    first = kind.make()
    await first.ensure_ready(DIM)
    await first.upsert([chunk("memory:1", unit(1))])
    await first.close()
    second = kind.make()
    with pytest.raises(VectorStoreError, match="dimension"):
        await second.ensure_ready(DIM * 2)
    await second.close()


async def test_an_edge_store_held_by_another_process_fails_with_a_clear_message(
    tmp_path: Path,
) -> None:
    holder = QdrantEdgeVectorStore(tmp_path)
    await holder.ensure_ready(DIM)
    try:
        with pytest.raises(VectorStoreError, match="held by another memvault process"):
            await QdrantEdgeVectorStore(tmp_path).ensure_ready(DIM)
    finally:
        await holder.close()


async def test_an_edge_store_reads_every_payload_once_after_opening(tmp_path: Path) -> None:
    """The warm-up (qdrant_edge's docstring): every point of every user, in pages, and a
    close during it stops it without waiting for the rest."""
    first = QdrantEdgeVectorStore(tmp_path)
    await first.ensure_ready(DIM)
    users = ("alice", "bob", "carol")
    await first.upsert([chunk(f"memory:{n}", unit(n), user=users[n % 3]) for n in range(1, 2501)])
    await first.close()
    assert first.warmed_points == 0  # opened empty

    second = QdrantEdgeVectorStore(tmp_path)
    await second.ensure_ready(DIM)
    for _ in range(500):
        if second.warmed_points is not None:
            break
        await asyncio.sleep(0.01)
    assert second.warmed_points == 2500
    assert await ids_found(second, unit(7), scope("bob"), limit=1) == {"memory:7"}
    await second.close()

    third = QdrantEdgeVectorStore(tmp_path)
    await third.ensure_ready(DIM)
    await third.close()  # at once: whatever the warm-up read by then, the store closes
    assert third.warmed_points is not None
    assert third.warmed_points <= 2500


async def test_milvus_lists_document_ids_beyond_one_query_page(
    milvus_kind: Kind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("memvault.adapters.vector_store.milvus._MAX_PAGE", 7)
    monkeypatch.setattr("memvault.adapters.vector_store.milvus._ITERATOR_BATCH", 10)
    store = milvus_kind.make()
    await store.ensure_ready(DIM)
    try:
        await store.upsert([chunk(f"memory:{n}", unit(n), user=f"user-{n % 2}") for n in range(40)])
        assert await store.document_ids() == {f"memory:{n}" for n in range(40)}
        assert await store.document_ids(user_id="user-1") == {
            f"memory:{n}" for n in range(1, 40, 2)
        }
    finally:
        await store.close()
