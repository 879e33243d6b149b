"""Milvus through ``pymilvus``: a server URI, or a milvus-lite ``*.db`` file.

Schema: ``id`` VarChar primary key, ``document_id``, ``user_id`` as the **partition
key** (a search scoped to one user only touches that user's partition), ``memory_type``,
``assistant_id``, ``run_id``, ``conversation_id`` (``""`` for unset), ``chunk_order``,
``text`` and ``vector`` with COSINE. The default ``FLAT`` index scores a user's chunks
exactly, so filtering never costs recall; ``HNSW`` is faster on big collections but
needs a high ``ef`` under filters (measured recall 0.42 at ef 64, 0.97 at 1024).

Milvus servers before 2.4 compute the partition of an *upserted* row from the wrong
field (milvus-io/milvus#30772), so against them upsert is done as delete-by-id then
insert (not atomic: a search running in between may miss those rows). The blocking
client runs in worker threads.

Searches use ``Session`` consistency by default: this process reads its own writes,
and a row written by another process is searchable once the server has applied it
(about one time tick, 0.2 s by default). ``Strong`` makes every search wait for a time
tick: measured here, 2,000 rows, p50 210 ms against 3 ms. What the store misses for that
moment the lexical side still finds, and every hit is re-checked in the database, so a
deleted memory is never returned either way. Scans of document ids (re-sync,
reconciliation) stay ``Strong``. A delete by document id is the exception to "reads
its own writes": the server does not hand back its timestamp, so for ``_DELETE_SETTLE_S``
after one this process's searches are ``Strong``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import structlog
from pymilvus import DataType, MilvusClient

from memvault.adapters.vector_store._records import (
    batches,
    check_records,
    check_vector,
    clamp_score,
    or_unset,
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
from memvault.domain.text import truncate_utf8

_log = structlog.get_logger(__name__)

IndexKind = Literal["FLAT", "HNSW"]
Consistency = Literal["Strong", "Session", "Bounded"]

_ID_LENGTH = 256
_TEXT_LENGTH = 65_535
_METADATA_KEYS = 32
"""Tokens a row may hold: one per metadata key (domain.metadata.MAX_KEYS)."""
_TOKEN_LENGTH = 160
"""A token is at most 129 characters (domain.metadata.token)."""
_MAX_TOP_K = 16_384
_MAX_PAGE = 16_384
_ITERATOR_BATCH = 4_096
_BATCH = 512
_OUTPUT_FIELDS = ["id", "document_id", "chunk_order", "text", "user_id", "memory_type"]
_STRONG: Consistency = "Strong"
_DELETE_SETTLE_S = 1.0
"""Searches stay ``Strong`` this long after a delete (several time ticks of 0.2 s)."""

_lite_lock = threading.Lock()
_lite_users: Counter[str] = Counter()

R = TypeVar("R")


class MilvusVectorStore(VectorStore):
    """One Milvus collection of chunk rows; see the module docstring for the schema."""

    def __init__(
        self,
        uri: str,
        *,
        token: str = "",
        db_name: str = "",
        collection: str = "memvault_chunks",
        index: IndexKind = "FLAT",
        hnsw_ef: int = 1024,
        timeout: float = 30.0,
        search_consistency: Consistency = "Session",
    ) -> None:
        self._uri = uri
        self._lite_path = str(Path(uri).resolve()) if uri.endswith(".db") else None
        self._token = token
        self._db_name = db_name
        self._collection = collection
        self._index: IndexKind = index
        self._hnsw_ef = hnsw_ef
        self._timeout = timeout
        self._search_consistency: Consistency = search_consistency
        self._strong_until = 0.0
        self._client: MilvusClient | None = None
        self._dimension: int | None = None
        self._native_upsert = True
        self._lock = threading.Lock()

    async def ensure_ready(self, dimension: int) -> None:
        if dimension <= 0:
            raise VectorStoreError("dimension must be positive")
        await asyncio.to_thread(self._open, dimension)

    async def upsert(self, records: Sequence[VectorRecord]) -> None:
        client, dimension = self._ready()
        check_records(records, dimension)
        for batch in batches(records, _BATCH):
            rows = [_row(record) for record in batch]
            await self._call(self._write_rows, client, rows)

    async def delete_documents(self, document_ids: Sequence[str]) -> None:
        client, _ = self._ready()
        self._strong_until = time.monotonic() + _DELETE_SETTLE_S  # searches meanwhile too
        for batch in batches(list(dict.fromkeys(document_ids)), _BATCH):
            expression = f"document_id in {_string_list(batch)}"
            await self._call(client.delete, self._collection, filter=expression)
        self._strong_until = time.monotonic() + _DELETE_SETTLE_S

    async def search(self, vector: Vector, *, limit: int, filter: VectorFilter) -> list[VectorHit]:
        client, dimension = self._ready()
        check_vector(vector, dimension)
        if limit <= 0:
            return []
        limit = min(limit, _MAX_TOP_K)
        params: dict[str, Any] = {"metric_type": "COSINE"}
        if self._index == "HNSW":
            params["params"] = {"ef": max(self._hnsw_ef, limit)}
        answer = await self._call(
            client.search,
            self._collection,
            data=[list(vector)],
            limit=limit,
            filter=_scope(filter),
            output_fields=_OUTPUT_FIELDS,
            search_params=params,
            consistency_level=self._consistency(),
        )
        return [_hit(hit) for hit in answer[0]] if answer else []

    def _consistency(self) -> Consistency:
        return _STRONG if time.monotonic() < self._strong_until else self._search_consistency

    async def document_ids(self, *, user_id: str | None = None) -> set[str]:
        client, _ = self._ready()
        expression = 'id != ""' if user_id is None else f"user_id == {_string(user_id)}"
        return await self._call(self._scan_document_ids, client, expression)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _open(self, dimension: int) -> None:
        with self._lock:
            if self._client is not None:
                if dimension != self._dimension:
                    raise VectorStoreError(
                        f"the Milvus store is open with dimension {self._dimension}, "
                        f"not {dimension}"
                    )
                return
            client = self._connect()
            try:
                self._prepare(client, dimension)
                self._native_upsert = _upsert_routes_partition_key(client.get_server_version())
            except VectorStoreError:
                self._disconnect(client)
                raise
            except Exception as error:
                self._disconnect(client)
                raise VectorStoreError(
                    f"milvus: cannot prepare {self._collection}: {error}"
                ) from error
            self._client, self._dimension = client, dimension
            _log.info(
                "milvus_opened",
                uri=self._uri if self._lite_path else "server",
                collection=self._collection,
                dimension=dimension,
                native_upsert=self._native_upsert,
            )

    def _connect(self) -> MilvusClient:
        if self._lite_path is not None:
            with _lite_lock:
                _lite_users[self._lite_path] += 1
        try:
            return MilvusClient(
                self._uri, token=self._token, db_name=self._db_name, timeout=self._timeout
            )
        except Exception as error:
            self._release_lite()
            if self._lite_path is not None and "Open local milvus failed" in str(error):
                raise VectorStoreError(
                    f"the vector store at {self._uri} could not be opened; it is most likely "
                    "held by another memvault process (milvus-lite allows one process per "
                    "file): stop it, or use a Milvus server"
                ) from error
            raise VectorStoreError(f"milvus: cannot connect to {self._uri}: {error}") from error

    def _prepare(self, client: MilvusClient, dimension: int) -> None:
        if client.has_collection(self._collection):
            stored = _vector_dimension(client.describe_collection(self._collection))
            if stored != dimension:
                raise VectorStoreError(
                    f"collection {self._collection} holds vectors of dimension {stored}, "
                    f"not {dimension}: reindex into a new collection"
                )
            if not _has_field(client.describe_collection(self._collection), "metadata"):
                raise VectorStoreError(
                    f"collection {self._collection} predates item metadata (no 'metadata' "
                    "field): reindex into a new collection"
                )
            client.load_collection(self._collection)
            return
        client.create_collection(
            self._collection,
            schema=_schema(dimension),
            index_params=self._index_params(client),
            consistency_level=_STRONG,
        )
        _log.info("milvus_collection_created", collection=self._collection, dimension=dimension)

    def _index_params(self, client: MilvusClient) -> Any:
        index_params = client.prepare_index_params()
        params = {"M": 16, "efConstruction": 200} if self._index == "HNSW" else {}
        index_params.add_index(
            field_name="vector", index_type=self._index, metric_type="COSINE", params=params
        )
        return index_params

    def _write_rows(self, client: MilvusClient, rows: list[dict[str, Any]]) -> None:
        if self._native_upsert:
            client.upsert(self._collection, rows)
            return
        ids = [row["id"] for row in rows]
        client.delete(self._collection, filter=f"id in {_string_list(ids)}")
        client.insert(self._collection, rows)

    def _scan_document_ids(self, client: MilvusClient, expression: str) -> set[str]:
        """One query when everything fits in a page, else pymilvus' query iterator.

        (Keyset pagination on ``id`` is not an option: milvus-lite returns rows
        unordered. The iterator costs several round trips, so it is the fallback.)
        """
        rows = client.query(
            self._collection,
            filter=expression,
            output_fields=["document_id"],
            limit=_MAX_PAGE,
            consistency_level=_STRONG,
        )
        if len(rows) < _MAX_PAGE:
            return {str(row["document_id"]) for row in rows}
        found: set[str] = set()
        iterator = client.query_iterator(
            self._collection,
            batch_size=_ITERATOR_BATCH,
            filter=expression,
            output_fields=["document_id"],
            consistency_level=_STRONG,
        )
        try:
            while page := iterator.next():
                found.update(str(row["document_id"]) for row in page)
        finally:
            iterator.close()
        return found

    def _close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                self._disconnect(client)

    def _disconnect(self, client: MilvusClient) -> None:
        try:
            client.close()
        finally:
            self._release_lite()

    def _release_lite(self) -> None:
        """Stop this process's milvus-lite server for the file once nobody uses it."""
        if self._lite_path is None:
            return
        with _lite_lock:
            _lite_users[self._lite_path] -= 1
            if _lite_users[self._lite_path] > 0:
                return
            del _lite_users[self._lite_path]
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self._lite_path)

    def _ready(self) -> tuple[MilvusClient, int]:
        client, dimension = self._client, self._dimension
        if client is None or dimension is None:
            raise VectorStoreError("call ensure_ready(dimension) before using the store")
        return client, dimension

    async def _call(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except VectorStoreError:
            raise
        except Exception as error:
            raise VectorStoreError(f"milvus: {error}") from error


def _schema(dimension: int) -> Any:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=_ID_LENGTH)
    schema.add_field("document_id", DataType.VARCHAR, max_length=_ID_LENGTH)
    schema.add_field("user_id", DataType.VARCHAR, max_length=_ID_LENGTH, is_partition_key=True)
    schema.add_field("memory_type", DataType.VARCHAR, max_length=64)
    schema.add_field("assistant_id", DataType.VARCHAR, max_length=_ID_LENGTH)
    schema.add_field("run_id", DataType.VARCHAR, max_length=_ID_LENGTH)
    schema.add_field("conversation_id", DataType.VARCHAR, max_length=_ID_LENGTH)
    schema.add_field("chunk_order", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=_TEXT_LENGTH)
    schema.add_field(
        "metadata",
        DataType.ARRAY,
        element_type=DataType.VARCHAR,
        max_capacity=_METADATA_KEYS,
        max_length=_TOKEN_LENGTH,
    )
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    return schema


def _has_field(description: dict[str, Any], name: str) -> bool:
    return any(field.get("name") == name for field in description.get("fields", []))


def _vector_dimension(description: dict[str, Any]) -> int | None:
    for field in description.get("fields", []):
        if field.get("name") == "vector":
            return int(field.get("params", {}).get("dim", 0))
    return None


def _upsert_routes_partition_key(version: str) -> bool:
    """False for Milvus servers older than 2.4 (wrong partition on upsert, #30772)."""
    if version.startswith("milvus_lite"):
        return True
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", version)
    if found is None:
        return False
    major, minor, _ = (int(part) for part in found.groups())
    return (major, minor) >= (2, 4)


def _row(record: VectorRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "document_id": record.document_id,
        "user_id": record.user_id,
        "memory_type": record.memory_type,
        "assistant_id": or_unset(record.assistant_id),
        "run_id": or_unset(record.run_id),
        "conversation_id": or_unset(record.conversation_id),
        "chunk_order": record.chunk_order,
        "text": truncate_utf8(record.text, _TEXT_LENGTH),
        "metadata": list(record.metadata_tokens),
        "vector": list(record.vector),
    }


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _string_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_string(value) for value in values) + "]"


def _scope(filter: VectorFilter) -> str:
    clauses = [f"user_id == {_string(filter.user_id)}"]
    if filter.memory_types:
        clauses.append(f"memory_type in {_string_list(sorted(filter.memory_types))}")
    for key, value in (("assistant_id", filter.assistant_id), ("run_id", filter.run_id)):
        accepted = scope_values(value)
        if accepted is not None:
            clauses.append(f"{key} in {_string_list(accepted)}")
    if filter.metadata_tokens:
        tokens = _string_list(sorted(filter.metadata_tokens))
        clauses.append(f"array_contains_all(metadata, {tokens})")
    return " and ".join(clauses)


def _hit(hit: Any) -> VectorHit:
    entity = hit["entity"]
    return VectorHit(
        id=str(hit["id"]),
        document_id=str(entity["document_id"]),
        chunk_order=int(entity["chunk_order"]),
        score=clamp_score(hit["distance"]),
        text=str(entity["text"]),
        user_id=str(entity["user_id"]),
        memory_type=str(entity["memory_type"]),
    )
