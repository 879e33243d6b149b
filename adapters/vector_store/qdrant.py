"""Qdrant through ``qdrant-client``: a server in scale mode, local mode for tests.

The collection follows Qdrant's multitenancy guidance: ``user_id`` is a keyword payload
index with ``is_tenant=True`` and the HNSW graph is built per tenant (``m=0``,
``payload_m=16``), since every search is scoped to one user. Local mode
(``path=``/``location=":memory:"``) speaks the same client API but ignores payload
indexes and runs synchronously inside the coroutines; use it only in tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import structlog
from qdrant_client import AsyncQdrantClient, models

from memvault.adapters.loop_local import LoopLocal
from memvault.adapters.vector_store._records import (
    batches,
    check_records,
    check_vector,
    chunk_payload,
    hit_from_payload,
    point_uuid,
    scope_values,
)
from memvault.application.ports.embedder import Vector
from memvault.application.ports.vector_store import (
    VectorFilter,
    VectorHit,
    VectorRecord,
    VectorStore,
    VectorStoreError,
)

_log = structlog.get_logger(__name__)

_KEYWORD_FIELDS = ("document_id", "memory_type", "assistant_id", "run_id", "metadata")
_BATCH = 256
_SCROLL_PAGE = 1024

R = TypeVar("R")


class QdrantVectorStore(VectorStore):
    """One Qdrant collection of chunk points; the point id is the uuid5 of the record id.

    Give exactly one of ``url`` (a server), ``path`` (local mode on disk) or
    ``location=":memory:"``. Payload as in the edge adapter: ``record_id``,
    ``document_id``, ``chunk_order``, ``text``, ``user_id``, ``memory_type`` and the
    scope ids with ``""`` for unset. One async client is kept per event loop.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        path: str | None = None,
        location: str | None = None,
        api_key: str | None = None,
        collection: str = "memvault_chunks",
        timeout: int = 10,
        hnsw_ef: int | None = None,
    ) -> None:
        if sum(option is not None for option in (url, path, location)) != 1:
            raise ValueError("give exactly one of url, path or location")
        self._local = url is None
        self._options: dict[str, Any] = {"url": url, "path": path, "location": location}
        if url is not None:
            self._options.update(api_key=api_key, timeout=timeout, check_compatibility=False)
        self._collection = collection
        self._hnsw_ef = hnsw_ef
        self._dimension: int | None = None
        self._clients = LoopLocal(self._new_client)

    async def ensure_ready(self, dimension: int) -> None:
        if dimension <= 0:
            raise VectorStoreError("dimension must be positive")
        client = self._clients.get()
        try:
            if await client.collection_exists(self._collection):
                stored = await self._stored_dimension(client)
                if stored != dimension:
                    raise VectorStoreError(
                        f"collection {self._collection} holds vectors of dimension {stored}, "
                        f"not {dimension}: reindex into a new collection"
                    )
            else:
                await self._create(client, dimension)
        except VectorStoreError:
            raise
        except Exception as error:
            raise VectorStoreError(f"qdrant: cannot prepare {self._collection}: {error}") from error
        self._dimension = dimension

    async def upsert(self, records: Sequence[VectorRecord]) -> None:
        check_records(records, self._ready())
        client = self._clients.get()
        for batch in batches(records, _BATCH):
            points = [_point(record) for record in batch]
            await self._guard(client.upsert(self._collection, points=points, wait=True))

    async def delete_documents(self, document_ids: Sequence[str]) -> None:
        self._ready()
        client = self._clients.get()
        for batch in batches(list(dict.fromkeys(document_ids)), _BATCH):
            doomed = models.Filter(must=[_match_any("document_id", list(batch))])
            selector = models.FilterSelector(filter=doomed)
            await self._guard(client.delete(self._collection, points_selector=selector, wait=True))

    async def search(self, vector: Vector, *, limit: int, filter: VectorFilter) -> list[VectorHit]:
        check_vector(vector, self._ready())
        if limit <= 0:
            return []
        params = None if self._hnsw_ef is None else models.SearchParams(hnsw_ef=self._hnsw_ef)
        answer = await self._guard(
            self._clients.get().query_points(
                self._collection,
                query=list(vector),
                query_filter=_scope(filter),
                limit=limit,
                with_payload=True,
                search_params=params,
            )
        )
        return [hit_from_payload(point.payload or {}, point.score) for point in answer.points]

    async def document_ids(self, *, user_id: str | None = None) -> set[str]:
        self._ready()
        scope = None if user_id is None else models.Filter(must=[_match("user_id", user_id)])
        client = self._clients.get()
        found: set[str] = set()
        offset: Any = None
        while True:
            records, offset = await self._guard(
                client.scroll(
                    self._collection,
                    scroll_filter=scope,
                    limit=_SCROLL_PAGE,
                    offset=offset,
                    with_payload=["document_id"],
                    with_vectors=False,
                )
            )
            found.update(str((record.payload or {})["document_id"]) for record in records)
            if offset is None:
                return found

    async def close(self) -> None:
        """Close the current event loop's client."""
        client = self._clients.pop_current()
        if client is not None:
            await self._guard(client.close())

    def _new_client(self) -> AsyncQdrantClient:
        return AsyncQdrantClient(**self._options)

    def _ready(self) -> int:
        if self._dimension is None:
            raise VectorStoreError("call ensure_ready(dimension) before using the store")
        return self._dimension

    async def _stored_dimension(self, client: AsyncQdrantClient) -> int | None:
        info = await client.get_collection(self._collection)
        vectors = info.config.params.vectors
        return vectors.size if isinstance(vectors, models.VectorParams) else None

    async def _create(self, client: AsyncQdrantClient, dimension: int) -> None:
        await client.create_collection(
            self._collection,
            vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
            hnsw_config=models.HnswConfigDiff(m=0, payload_m=16),
        )
        tenant = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
        with warnings.catch_warnings():
            if self._local:
                warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            await client.create_payload_index(self._collection, "user_id", field_schema=tenant)
            for field in _KEYWORD_FIELDS:
                await client.create_payload_index(
                    self._collection, field, field_schema=models.PayloadSchemaType.KEYWORD
                )
        _log.info("qdrant_collection_created", collection=self._collection, dimension=dimension)

    async def _guard(self, call: Awaitable[R]) -> R:
        try:
            return await call
        except Exception as error:
            raise VectorStoreError(f"qdrant: {error}") from error


def _point(record: VectorRecord) -> models.PointStruct:
    return models.PointStruct(
        id=str(point_uuid(record.id)), vector=list(record.vector), payload=chunk_payload(record)
    )


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _match_any(key: str, values: list[str]) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchAny(any=values))


def _scope(filter: VectorFilter) -> models.Filter:
    must: list[models.Condition] = [_match("user_id", filter.user_id)]
    if filter.memory_types:
        must.append(_match_any("memory_type", sorted(filter.memory_types)))
    for key, value in (("assistant_id", filter.assistant_id), ("run_id", filter.run_id)):
        accepted = scope_values(value)
        if accepted is not None:
            must.append(_match_any(key, accepted))
    # An array payload field matches a value when any element equals it: one condition
    # per token makes the AND.
    must.extend(_match("metadata", token) for token in sorted(filter.metadata_tokens))
    return models.Filter(must=must)
