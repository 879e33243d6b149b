"""Asking the vector store for a user's nearest records, preparing it first if needed."""

from __future__ import annotations

from memvault.application.ports.embedder import Vector
from memvault.application.ports.vector_store import (
    VectorFilter,
    VectorHit,
    VectorStore,
    VectorStoreError,
)


async def nearest(
    store: VectorStore, dimension: int, vector: Vector, *, limit: int, where: VectorFilter
) -> list[VectorHit]:
    """The store's hits. A store this process has not prepared yet (nothing written since
    it started: the worker indexes, or the service restarted) is prepared, then asked
    again; a store that is down fails both times."""
    try:
        return await store.search(vector, limit=limit, filter=where)
    except VectorStoreError:
        await store.ensure_ready(dimension)
        return await store.search(vector, limit=limit, filter=where)
