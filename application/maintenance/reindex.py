"""Rebuild the vector store from the database: every visible item is re-embedded and
upserted, every other document (deleted, archived, expired items, orphans) removed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from memvault.application.ports.clock import Clock
from memvault.application.ports.embedder import Embedder
from memvault.application.ports.indexer import ItemIndexer
from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.application.ports.vector_store import VectorStore
from memvault.application.shared.documents import DOCUMENT_PREFIX, document_id

BATCH = 200
Progress = Callable[[int, int], None]
"""Called with (items done, items in all) after each batch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReindexReport:
    items: int
    indexed: int
    removed_orphans: int


def memory_id(doc_id: str) -> int | None:
    tail = doc_id.removeprefix(DOCUMENT_PREFIX)
    return int(tail) if doc_id.startswith(DOCUMENT_PREFIX) and tail.isdigit() else None


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
        orphans = await self._orphans(await self._store.document_ids() - visible)
        if orphans:
            await self._store.delete_documents(orphans)
        return ReindexReport(items=done, indexed=indexed, removed_orphans=len(orphans))

    async def _orphans(self, candidates: set[str]) -> list[str]:
        """Documents no visible item owns. Items created or restored while the scan ran
        are visible by now: they are re-checked, so their fresh vectors stay."""
        ids = {doc: memory_id(doc) for doc in candidates}
        async with self._uow(read_only=True) as uow:
            alive = await uow.items.visible_ids(
                [i for i in ids.values() if i is not None], now=self._clock.now()
            )
        return sorted(doc for doc, item_id in ids.items() if item_id not in alive)
