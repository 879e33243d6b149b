"""An in-process vector store on numpy: exact search, nothing persisted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from memvault.adapters.vector_store._records import (
    UNSET,
    check_records,
    check_vector,
    clamp_score,
    or_unset,
)
from memvault.application.ports.embedder import Vector
from memvault.application.ports.vector_store import (
    VectorFilter,
    VectorHit,
    VectorRecord,
    VectorStore,
    VectorStoreError,
)

FloatArray = npt.NDArray[np.float64]


class MemoryVectorStore(VectorStore):
    """Keeps records in a dict per user and scores a user's records exactly on search.

    Meant for tests and throwaway runs; everything is lost with the process. Not
    thread-safe: use it from one event loop.
    """

    def __init__(self) -> None:
        self._dimension: int | None = None
        self._by_user: dict[str, dict[str, VectorRecord]] = {}
        self._user_of: dict[str, str] = {}

    async def ensure_ready(self, dimension: int) -> None:
        if dimension <= 0:
            raise VectorStoreError("dimension must be positive")
        if self._dimension not in (None, dimension) and self._user_of:
            raise VectorStoreError(
                f"the store holds vectors of dimension {self._dimension}, not {dimension}"
            )
        self._dimension = dimension

    async def upsert(self, records: Sequence[VectorRecord]) -> None:
        check_records(records, self._ready())
        for record in records:
            previous_user = self._user_of.get(record.id)
            if previous_user is not None:
                self._by_user[previous_user].pop(record.id, None)
            self._by_user.setdefault(record.user_id, {})[record.id] = record
            self._user_of[record.id] = record.user_id

    async def delete_documents(self, document_ids: Sequence[str]) -> None:
        self._ready()
        doomed = set(document_ids)
        for records in self._by_user.values():
            for record_id in [rid for rid, rec in records.items() if rec.document_id in doomed]:
                del records[record_id]
                del self._user_of[record_id]

    async def search(self, vector: Vector, *, limit: int, filter: VectorFilter) -> list[VectorHit]:
        check_vector(vector, self._ready())
        candidates = [
            r for r in self._by_user.get(filter.user_id, {}).values() if _matches(r, filter)
        ]
        if limit <= 0 or not candidates:
            return []
        rows = np.array([record.vector for record in candidates], dtype=np.float64)
        scores = _cosine(np.asarray(vector, dtype=np.float64), rows)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [_hit(candidates[i], float(scores[i])) for i in order]

    async def document_ids(self, *, user_id: str | None = None) -> set[str]:
        self._ready()
        users = [user_id] if user_id is not None else list(self._by_user)
        return {r.document_id for u in users for r in self._by_user.get(u, {}).values()}

    async def close(self) -> None:
        """Nothing to release; the data stays until the object is dropped."""

    def _ready(self) -> int:
        if self._dimension is None:
            raise VectorStoreError("call ensure_ready(dimension) before using the store")
        return self._dimension


def _matches(record: VectorRecord, filter: VectorFilter) -> bool:
    if filter.memory_types and record.memory_type not in filter.memory_types:
        return False
    if filter.assistant_id is not None and or_unset(record.assistant_id) not in (
        UNSET,
        filter.assistant_id,
    ):
        return False
    if filter.run_id is not None and or_unset(record.run_id) not in (UNSET, filter.run_id):
        return False
    return filter.metadata_tokens.issubset(record.metadata_tokens)


def _cosine(query: FloatArray, rows: FloatArray) -> FloatArray:
    norms: FloatArray = np.linalg.norm(rows, axis=1) * np.linalg.norm(query)
    dots: FloatArray = rows @ query
    scores = np.zeros_like(dots)
    np.divide(dots, norms, out=scores, where=norms > 0)
    return scores


def _hit(record: VectorRecord, score: float) -> VectorHit:
    return VectorHit(
        id=record.id,
        document_id=record.document_id,
        chunk_order=record.chunk_order,
        score=clamp_score(score),
        text=record.text,
        user_id=record.user_id,
        memory_type=record.memory_type,
    )
