"""The embedded Qdrant engine (``qdrant-edge-py``), persisted in a local directory.

One process at a time may hold a shard directory (its write-ahead log is locked); a
second open fails with a clear VectorStoreError. Points are never HNSW-optimised here:
appendable segments are searched exactly through the ``user_id`` tenant index, so a
filtered search keeps full recall.

Searches run on the calling thread, not a worker thread: one user's exact search takes
well under a millisecond (0.5 ms for 50 hits with payloads, most of it the payloads;
an unfiltered scan of 3,000 points costs about the same), while a hand-off to a worker
thread waits for the GIL (up to the 5 ms switch interval while the event loop is busy)
and was most of a search's vector stage under load. The cost grows with one user's
point count, so a user with a hundred thousand memories holds the loop for milliseconds.

What a search costs most is reading its hits' payloads, and the first read of a point's
payload after the shard is opened costs about four times the next ones (100k points,
50 hits: 0.81 ms a query against 0.19 ms). So opening the shard starts one background
thread that reads every point's ``document_id`` once (about 1 s per 100k points), after
which every user's first search is as fast as their later ones. Its pages and the
store's writes take turns (``_writing``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as qe
import structlog

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
_CONFIG_FILE = "edge_config.json"
_BATCH = 512
_SCROLL_PAGE = 1024

R = TypeVar("R")


class QdrantEdgeVectorStore(VectorStore):
    """A Qdrant edge shard in ``path``, cosine distance, ``user_id`` as the tenant key.

    Payload per point: ``record_id`` (the string id; the point id is its uuid5),
    ``document_id``, ``chunk_order``, ``text``, ``user_id``, ``memory_type`` and
    ``conversation_id`` / ``assistant_id`` / ``run_id`` with ``""`` for unset.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._shard: qe.EdgeShard | None = None
        self._dimension: int | None = None
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        """Held by each write and by each page of the warm-up, so the two never overlap.
        Measured beside a busy Python thread, ``scroll`` keeps the GIL while it runs and
        ``update`` gives it up only part of the time: a page waiting, GIL held, for a
        shard lock that a write holds while it waits for the GIL would stall both."""
        self._warming: threading.Thread | None = None
        self._stop_warming = threading.Event()
        self.warmed_points: int | None = None
        """Points whose payload the warm-up read, once it has ended (see the module)."""

    async def ensure_ready(self, dimension: int) -> None:
        if dimension <= 0:
            raise VectorStoreError("dimension must be positive")
        await asyncio.to_thread(self._open, dimension)

    async def upsert(self, records: Sequence[VectorRecord]) -> None:
        shard, dimension = self._ready()
        check_records(records, dimension)
        for batch in batches(records, _BATCH):
            points = [_point(record) for record in batch]
            await self._call(self._update, shard, qe.UpdateOperation.upsert_points(points))

    async def delete_documents(self, document_ids: Sequence[str]) -> None:
        shard, _ = self._ready()
        for batch in batches(list(dict.fromkeys(document_ids)), _BATCH):
            doomed = qe.Filter(must=[_match_any("document_id", list(batch))])
            await self._call(
                self._update, shard, qe.UpdateOperation.delete_points_by_filter(doomed)
            )

    async def search(self, vector: Vector, *, limit: int, filter: VectorFilter) -> list[VectorHit]:
        shard, dimension = self._ready()
        check_vector(vector, dimension)
        if limit <= 0:
            return []
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(list(vector)),
            filter=_scope(filter),
            with_payload=True,
        )
        points = await self._query(shard, request)
        return [hit_from_payload(point.payload or {}, point.score) for point in points]

    async def _query(self, shard: qe.EdgeShard, request: qe.QueryRequest) -> list[qe.ScoredPoint]:
        """On the calling thread (see the module's docstring)."""
        try:
            return shard.query(request)
        except Exception as error:
            raise VectorStoreError(f"qdrant edge: {error}") from error

    async def document_ids(self, *, user_id: str | None = None) -> set[str]:
        shard, _ = self._ready()
        scope = None if user_id is None else qe.Filter(must=[_match("user_id", user_id)])
        return await self._call(_scroll_document_ids, shard, scope)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _open(self, dimension: int) -> None:
        with self._lock:
            if self._shard is not None:
                if dimension != self._dimension:
                    raise VectorStoreError(
                        f"the vector store at {self._path} is open with dimension "
                        f"{self._dimension}, not {dimension}"
                    )
                return
            config = qe.EdgeConfig(
                vectors=qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)
            )
            try:
                shard = self._load_or_create(config)
            except Exception as error:
                raise _open_error(self._path, dimension, error) from error
            try:
                _ensure_indexes(shard)
            except Exception as error:
                shard.close()
                raise _open_error(self._path, dimension, error) from error
            self._shard, self._dimension = shard, dimension
            _log.info("qdrant_edge_opened", path=str(self._path), dimension=dimension)
            self._stop_warming.clear()
            self._warming = threading.Thread(
                target=self._warm, args=(shard,), name="qdrant-edge-warm", daemon=True
            )
            self._warming.start()

    def _warm(self, shard: qe.EdgeShard) -> None:
        """Read every point's payload once, a page at a time, until done or closed."""
        started, points, offset = time.perf_counter(), 0, None
        try:
            while not self._stop_warming.is_set():
                request = qe.ScrollRequest(
                    offset=offset,
                    limit=_SCROLL_PAGE,
                    with_payload=qe.PayloadSelector.Include(["document_id"]),
                    with_vector=False,
                )
                with self._writing:
                    records, offset = shard.scroll(request)
                points += len(records)
                if offset is None:
                    break
        except Exception as error:  # only ever slower: searches read what they need
            _log.warning("qdrant_edge_warm_failed", error=str(error))
        self.warmed_points = points
        _log.info(
            "qdrant_edge_warmed", points=points, seconds=round(time.perf_counter() - started, 2)
        )

    def _load_or_create(self, config: qe.EdgeConfig) -> qe.EdgeShard:
        if (self._path / _CONFIG_FILE).exists():
            return qe.EdgeShard.load(str(self._path), config)
        self._path.mkdir(parents=True, exist_ok=True)
        return qe.EdgeShard.create(str(self._path), config)

    def _close(self) -> None:
        with self._lock:
            self._stop_warming.set()
            if self._warming is not None:
                self._warming.join()  # at most one page more
                self._warming = None
            shard, self._shard = self._shard, None
            if shard is None:
                return
            try:
                shard.flush()
                shard.close()
            except Exception as error:
                raise VectorStoreError(f"closing the vector store failed: {error}") from error

    def _update(self, shard: qe.EdgeShard, operation: qe.UpdateOperation) -> None:
        with self._writing:
            shard.update(operation)

    def _ready(self) -> tuple[qe.EdgeShard, int]:
        shard, dimension = self._shard, self._dimension
        if shard is None or dimension is None:
            raise VectorStoreError("call ensure_ready(dimension) before using the store")
        return shard, dimension

    async def _call(self, function: Callable[..., R], *args: Any) -> R:
        try:
            return await asyncio.to_thread(function, *args)
        except VectorStoreError:
            raise
        except Exception as error:
            raise VectorStoreError(f"qdrant edge: {error}") from error


def _ensure_indexes(shard: qe.EdgeShard) -> None:
    existing = shard.info().payload_schema
    if "user_id" not in existing:
        tenant = qe.KeywordIndexParams(is_tenant=True)
        shard.update(qe.UpdateOperation.create_field_index("user_id", tenant))
    for field in _KEYWORD_FIELDS:
        if field not in existing:
            keyword = qe.PayloadSchemaType.Keyword
            shard.update(qe.UpdateOperation.create_field_index(field, keyword))


def _open_error(path: Path, dimension: int, error: Exception) -> VectorStoreError:
    message = str(error)
    if "WouldBlock" in message or "Can't init WAL" in message:
        return VectorStoreError(
            f"the vector store at {path} is held by another memvault process "
            "(qdrant-edge allows one process per directory): stop it, or point this "
            "process at another data directory or a vector store server"
        )
    if "incompatible" in message.lower():
        return VectorStoreError(
            f"the vector store at {path} was built for another embedding dimension than "
            f"{dimension}: reindex into a new data directory ({message})"
        )
    return VectorStoreError(f"cannot open the vector store at {path}: {message}")


def _scroll_document_ids(shard: qe.EdgeShard, scope: qe.Filter | None) -> set[str]:
    found: set[str] = set()
    offset: Any = None
    while True:
        request = qe.ScrollRequest(
            offset=offset,
            limit=_SCROLL_PAGE,
            filter=scope,
            with_payload=qe.PayloadSelector.Include(["document_id"]),
            with_vector=False,
        )
        records, offset = shard.scroll(request)
        found.update(str((r.payload or {})["document_id"]) for r in records)
        if offset is None:
            return found


def _point(record: VectorRecord) -> qe.Point:
    return qe.Point(
        id=point_uuid(record.id), vector=list(record.vector), payload=chunk_payload(record)
    )


def _match(key: str, value: str) -> qe.FieldCondition:
    return qe.FieldCondition(key=key, match=qe.MatchValue(value))


def _match_any(key: str, values: list[str]) -> qe.FieldCondition:
    return qe.FieldCondition(key=key, match=qe.MatchAny(values))


def _scope(filter: VectorFilter) -> qe.Filter:
    must: list[qe.FieldCondition] = [_match("user_id", filter.user_id)]
    if filter.memory_types:
        must.append(_match_any("memory_type", sorted(filter.memory_types)))
    for key, value in (("assistant_id", filter.assistant_id), ("run_id", filter.run_id)):
        accepted = scope_values(value)
        if accepted is not None:
            must.append(_match_any(key, accepted))
    # An array payload field matches a value when any element equals it: one condition
    # per token makes the AND.
    must.extend(_match("metadata", token) for token in sorted(filter.metadata_tokens))
    return qe.Filter(must=list(must))
