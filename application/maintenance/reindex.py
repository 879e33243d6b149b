"""Rebuild the vector store from the database: every visible item is re-embedded and
upserted, every other document (deleted, archived, expired items, orphans) removed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from application.indexing.chunking import document_id
from application.ports.clock import Clock
from application.ports.embedder import Embedder
from application.ports.indexer import ItemIndexer
from application.ports.repositories import UnitOfWorkFactory
from application.ports.vector_store import VectorStore

BATCH = 200
Progress = Callable[[int, int], None]
"""Called with (items done, items in all) after each batch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReindexReport:
    items: int
    indexed: int
    removed_orphans: int


class ReindexUseCase:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        indexer: ItemIndexer,
        store: VectorStore,
        embedder: Embedder,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._indexer = indexer
        self._store = store
        self._embedder = embedder

    async def __call__(self, progress: Progress | None = None) -> ReindexReport:
        await self._store.ensure_ready(self._embedder.dimension)
        async with self._uow() as uow:
            total = await uow.items.count_all()
        done = indexed = 0
        after = 0
        visible: set[str] = set()
        while True:
            async with self._uow() as uow:
                batch = await uow.items.all_after(after, limit=BATCH)
            if not batch:
                break
            after = batch[-1].id or after
            await self._indexer.items_changed(batch)
            now = self._clock.now()
            shown = {document_id(i.id) for i in batch if i.id is not None and i.is_visible(now)}
            visible |= shown
            indexed += len(shown)
            done += len(batch)
            if progress is not None:
                progress(done, total)
        orphans = sorted(await self._store.document_ids() - visible)
        if orphans:
            await self._store.delete_documents(orphans)
        return ReindexReport(items=done, indexed=indexed, removed_orphans=len(orphans))
