"""Vector sync (docs/behaviour.md, "Vectors"; docs/adr/0006).

After commit, an active and unexpired item's document is replaced: every old chunk is
deleted by document id, then the current text is chunked, embedded and upserted. Any
other item's document is deleted. ``vector_status``/``vector_id`` record the outcome
without touching ``updated_at``, and only if the item has not changed meanwhile (one
that has goes back to ``pending``: this write may have landed after the newer one's). A
failure is never raised: the item stays ``pending``/``failed`` and the re-sync sweeper
tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from datetime import timedelta

import structlog

from application.indexing.chunking import chunk_id, chunk_text
from application.ports.clock import Clock
from application.ports.embedder import Embedder
from application.ports.indexer import ItemIndexer
from application.ports.repositories import UnitOfWork, UnitOfWorkFactory, VectorState
from application.ports.vector_store import VectorRecord, VectorStore
from application.shared.documents import document_id
from domain.memory import MemoryItem, VectorStatus
from domain.metadata import tokens

log = structlog.get_logger(__name__)


class VectorIndexer(ItemIndexer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        embedder: Embedder,
        store: VectorStore,
        *,
        timeout: timedelta = timedelta(seconds=30),
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._embedder = embedder
        self._store = store
        self._timeout = timeout.total_seconds()
        self._ready = False

    async def items_changed(self, items: Sequence[MemoryItem]) -> None:
        stored = [item for item in items if item.id is not None]
        if not stored:
            return
        now = self._clock.now()
        keep = [item for item in stored if item.is_visible(now)]
        drop = [item for item in stored if not item.is_visible(now)]
        states: list[VectorState] = []
        if keep:
            states += await self._guarded(self._upsert(keep), keep, VectorStatus.SYNCED)
        if drop:
            states += await self._guarded(self._delete(drop), drop, VectorStatus.DELETED)
        await self._record(states, stored)

    async def _guarded(
        self, work: Coroutine[object, object, None], items: list[MemoryItem], done: VectorStatus
    ) -> list[VectorState]:
        try:
            await asyncio.wait_for(work, self._timeout)
        except Exception as error:  # the sweeper retries; the caller's commit stands
            log.warning(
                "vector_sync_failed", items=len(items), error=f"{type(error).__name__}: {error}"
            )
            return [state(item, VectorStatus.FAILED) for item in items]
        return [state(item, done) for item in items]

    async def _ensure_ready(self) -> None:
        if not self._ready:
            await self._store.ensure_ready(self._embedder.dimension)
            self._ready = True

    async def _upsert(self, items: list[MemoryItem]) -> None:
        await self._ensure_ready()
        records: list[tuple[MemoryItem, str, int, int]] = []
        for item in items:
            pieces = chunk_text(item.content)
            records += [(item, piece, n, len(pieces)) for n, piece in enumerate(pieces)]
        vectors = await self._embedder.embed_documents([text for _, text, _, _ in records])
        await self._store.delete_documents([document_id(item.id or 0) for item in items])
        await self._store.upsert(
            [
                VectorRecord(
                    id=chunk_id(document_id(item.id or 0), order, total),
                    document_id=document_id(item.id or 0),
                    chunk_order=order,
                    vector=vector,
                    text=text,
                    user_id=item.user_id,
                    memory_type=item.memory_type.value,
                    conversation_id=item.scope.conversation_id,
                    assistant_id=item.scope.assistant_id,
                    run_id=item.scope.run_id,
                    metadata_tokens=tuple(tokens(item.metadata)),
                )
                for (item, text, order, total), vector in zip(records, vectors, strict=True)
            ]
        )

    async def _delete(self, items: list[MemoryItem]) -> None:
        await self._ensure_ready()
        await self._store.delete_documents([document_id(item.id or 0) for item in items])

    async def _record(self, states: list[VectorState], items: list[MemoryItem]) -> None:
        try:
            async with self._uow() as uow:
                await uow.items.set_vector_states(states)
                await uow.items.set_vector_states(await overtaken(uow, items))
                await uow.commit()
        except Exception as error:  # the sweeper will see the item still pending
            log.warning("vector_state_not_recorded", error=str(error))


async def overtaken(uow: UnitOfWork, items: list[MemoryItem]) -> list[VectorState]:
    """Items changed again while their vectors were written. This write may have landed
    after the newer version's (stale text, or a deleted item's chunks back), so they go
    back to ``pending`` for the sweeper, unless they change once more."""
    written = {item.id: item.updated_at for item in items}
    current: list[MemoryItem] = []
    for user_id in {item.user_id for item in items}:
        ids = [item.id or 0 for item in items if item.user_id == user_id]
        current += await uow.items.get_many(user_id, ids)
    return [
        VectorState(
            item_id=item.id or 0,
            status=VectorStatus.PENDING,
            vector_id=None,
            expected_updated_at=item.updated_at,
        )
        for item in current
        if item.updated_at != written[item.id]
    ]


def state(item: MemoryItem, status: VectorStatus) -> VectorState:
    return VectorState(
        item_id=item.id or 0,
        status=status,
        vector_id=document_id(item.id or 0) if status is VectorStatus.SYNCED else None,
        expected_updated_at=item.updated_at,
    )


class ResyncVectorsUseCase:
    """Items whose vectors stayed ``pending``/``failed`` longer than ``grace`` are synced
    again (a crash between commit and vector write, a store that was down), and items
    that expired while indexed lose their vectors."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        indexer: ItemIndexer,
        *,
        grace: timedelta = timedelta(seconds=30),
        batch: int = 200,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._indexer = indexer
        self._grace = grace
        self._batch = batch

    async def __call__(self, *, immediately: bool = False) -> int:
        now = self._clock.now()
        cutoff = now - (timedelta() if immediately else self._grace)
        async with self._uow() as uow:
            items = await uow.items.unsynced(changed_before=cutoff, now=now, limit=self._batch)
        if items:
            await self._indexer.items_changed(items)
        return len(items)
