"""The vector store port: chunk vectors of memory items, searchable per user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from memvault.application.ports.embedder import Vector


class VectorStoreError(Exception):
    """The store is unreachable or refused the operation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorRecord:
    """One chunk of one document. ``id`` is ``memory:{id}`` or ``memory:{id}#{n}``."""

    id: str
    document_id: str
    chunk_order: int
    vector: Vector
    text: str
    user_id: str
    memory_type: str
    conversation_id: str | None = None
    assistant_id: str | None = None
    run_id: str | None = None
    metadata_tokens: tuple[str, ...] = ()
    """The item's metadata as tokens (``domain.metadata.tokens``), for filtering."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorFilter:
    """Search scope. ``user_id`` is always applied.

    ``memory_types`` empty means every type. ``assistant_id`` / ``run_id``, when set,
    match records with that value *or with none* (memories global to the user).
    ``metadata_tokens``, when set, match records holding *every* one of them (metadata
    equality, AND), applied inside the engine's query like the other conditions.
    """

    user_id: str
    memory_types: frozenset[str] = frozenset()
    assistant_id: str | None = None
    run_id: str | None = None
    metadata_tokens: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorHit:
    id: str
    document_id: str
    chunk_order: int
    score: float
    """Cosine similarity, higher is closer."""
    text: str
    user_id: str
    memory_type: str


class VectorStore(Protocol):
    """Stores chunk vectors and finds the nearest ones for one user.

    Contract:
    - ``upsert`` inserts or replaces records by ``id``; the dimension is fixed at
      ``ensure_ready`` and a record of another dimension raises VectorStoreError.
    - ``delete_documents`` removes *every* chunk whose ``document_id`` is listed;
      unknown ids are ignored.
    - ``search`` returns at most ``limit`` hits with the filter applied *before* the
      limit (a user never sees another user's chunks, and filtering never costs recall),
      best first, scores as cosine similarity.
    - ``document_ids`` lists the documents held for a user (or for all users), for
      reconciliation with the database.
    - Failures raise :class:`VectorStoreError`.
    """

    async def ensure_ready(self, dimension: int) -> None: ...

    async def upsert(self, records: Sequence[VectorRecord]) -> None: ...

    async def delete_documents(self, document_ids: Sequence[str]) -> None: ...

    async def search(
        self, vector: Vector, *, limit: int, filter: VectorFilter
    ) -> list[VectorHit]: ...

    async def document_ids(self, *, user_id: str | None = None) -> set[str]: ...

    async def close(self) -> None: ...
