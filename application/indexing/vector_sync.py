"""Vector sync (docs/behaviour.md, "Vectors"; docs/adr/0006).

After commit, an active and unexpired item's document is replaced: every old chunk is
deleted by document id, then the current text is chunked, embedded and upserted. Any
other item's document is deleted. ``vector_status``/``vector_id`` record the outcome
without touching ``updated_at``, and only if the item has not changed meanwhile (one
that has goes back to ``pending``: this write may have landed after the newer one's). A
failure is never raised: the item stays ``pending``/``failed`` and the re-sync sweeper
tries again. Whoever starts a sync records its deadline with the items (the write that
sets them ``pending``; the sweeper when it takes them); until it passes no process's
sweeper takes them, and a recorded outcome ends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from datetime import datetime, timedelta

import structlog

from memvault.application.indexing.chunking import chunk_id, chunk_text
from memvault.application.indexing.ledger import MAX_EXCLUDED, SyncLedger
from memvault.application.ports.clock import Clock
from memvault.application.ports.embedder import Embedder
from memvault.application.ports.indexer import ItemIndexer
from memvault.application.ports.repositories import UnitOfWork, UnitOfWorkFactory, VectorState
from memvault.application.ports.vector_store import VectorRecord, VectorStore
from memvault.application.shared.documents import document_id
from memvault.domain.memory import MemoryItem, VectorStatus
from memvault.domain.metadata import tokens

log = structlog.get_logger(__name__)


class VectorIndexer(ItemIndexer):
    """Syncs after commit and waits at most ``timeout + per_item × items`` for it
    (:meth:`sync_timeout`): the deadline the write recorded with the items, before which
    no process's sweeper takes them.

    A sync that takes longer is not cancelled: it goes on in the background and
    records its outcome when it ends, while the caller returns (the items stay
    ``pending``). Until it ends this process's :class:`SyncLedger` marks its items
    running, so this process's sweeper does not embed them a second time meanwhile;
    another process's sweeper may take them once the deadline passed (the sync is then
    presumed crashed).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        embedder: Embedder,
        store: VectorStore,
        *,
        timeout: timedelta = timedelta(seconds=30),
        per_item: timedelta = timedelta(seconds=0.2),
        ledger: SyncLedger | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._embedder = embedder
        self._store = store
        self._timeout = timeout.total_seconds()
        self._per_item = per_item.total_seconds()
        self._ledger = ledger or SyncLedger()
        self._ready = False
        self._background: set[asyncio.Task[None]] = set()

    def sync_timeout(self, count: int) -> timedelta:
        return timedelta(seconds=self._timeout + self._per_item * count)

    async def items_changed(self, items: Sequence[MemoryItem]) -> None:
        stored = [item for item in items if item.id is not None]
        if not stored:
            return
        item_ids = [item.id or 0 for item in stored]
        self._ledger.started(item_ids)
        work = asyncio.create_task(self._sync(stored))
        work.add_done_callback(lambda _: self._ledger.finished(item_ids))
        limit = self.sync_timeout(len(stored)).total_seconds()
        done, _ = await asyncio.wait({work}, timeout=limit)
        if not done:  # not cancelled: the work so far is not wasted, nor done twice
            log.warning("vector_sync_slow", items=len(stored), waited_s=round(limit, 1))
            self._background.add(work)
            work.add_done_callback(self._background.discard)

    async def settled(self) -> None:
        """Wait for the syncs still running in the background (shutdown, tests)."""
        while self._background:
            await asyncio.wait(set(self._background))

    async def _sync(self, stored: list[MemoryItem]) -> None:
        now = self._clock.now()
        keep = [item for item in stored if item.is_visible(now)]
        drop = [item for item in stored if not item.is_visible(now)]
        states: list[VectorState] = []
        if keep:
            states += await self._guarded(self._upsert(keep), keep, VectorStatus.SYNCED)
        if drop:
            states += await self._guarded(self._delete(drop), drop, VectorStatus.DELETED)
        failed = [
            (s.item_id, s.expected_updated_at) for s in states if s.status is VectorStatus.FAILED
        ]
        self._ledger.failed(failed, now=self._clock.now())
        self._ledger.succeeded(s.item_id for s in states if s.status is not VectorStatus.FAILED)
        await self._record(states, stored)

    async def _guarded(
        self, work: Coroutine[object, object, None], items: list[MemoryItem], done: VectorStatus
    ) -> list[VectorState]:
        try:
            await work
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
    that expired while indexed lose their vectors.

    One call takes at most ``batch`` items, oldest change first, leaving out every item
    whose sync some process started and whose deadline (in the database) has not passed,
    and every item this process's :class:`SyncLedger` marks running or resting (the
    first ``max_excluded`` in the query, any others after it). It claims the items it
    takes with a deadline of its own (``hold_vector_syncs``: of two sweepers, one gets
    each item), so that no other process embeds them meanwhile. Items never tried by
    this process are synced together; those that failed before one per call, so an item
    that always fails costs only its own attempt and then rests (backoff) instead of
    heading every slice; at most ``retries`` of those calls run at once, so items that
    hang cost one timeout together, not one each. Returns how many items were taken.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        indexer: ItemIndexer,
        *,
        grace: timedelta = timedelta(seconds=30),
        batch: int = 50,
        ledger: SyncLedger | None = None,
        max_excluded: int = MAX_EXCLUDED,
        retries: int = 4,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._indexer = indexer
        self._grace = grace
        self._batch = batch
        self._ledger = ledger or SyncLedger()
        self._max_excluded = max_excluded
        self._retries = max(1, retries)

    async def __call__(self, *, immediately: bool = False) -> int:
        now = self._clock.now()
        cutoff = now - (timedelta() if immediately else self._grace)
        skip = self._ledger.skipped(now=now)
        # The database skips the first ``max_excluded``; this sweep the rest, reading as
        # many more rows as it may have to drop.
        beyond = set(skip[self._max_excluded :])
        async with self._uow(read_only=True) as uow:
            found = await uow.items.unsynced(
                changed_before=cutoff,
                now=now,
                limit=self._batch + len(beyond),
                exclude=skip[: self._max_excluded],
            )
        items = [item for item in found if item.id not in beyond][: self._batch]
        fresh = [item for item in items if self._ledger.attempts(item.id or 0) == 0]
        again = [item for item in items if self._ledger.attempts(item.id or 0) > 0]
        held = await self._hold(fresh, again, now)
        fresh = [item for item in fresh if item.id in held]
        again = [item for item in again if item.id in held]
        gate = asyncio.Semaphore(self._retries)

        async def retry(item: MemoryItem) -> None:
            async with gate:
                await self._indexer.items_changed([item])

        syncs = [retry(item) for item in again]
        if fresh:
            syncs.append(self._indexer.items_changed(fresh))
        await asyncio.gather(*syncs)
        return len(fresh) + len(again)

    async def _hold(
        self, fresh: list[MemoryItem], again: list[MemoryItem], now: datetime
    ) -> set[int]:
        """The ids of the items this sweep holds until its syncs' deadline: the fresh
        batch's timeout, or as many single-item timeouts as rounds of retries, the
        longer."""
        ids = {item.id or 0 for item in (*fresh, *again)}
        if not ids:
            return ids
        timeouts: list[timedelta] = []
        if fresh:
            timeouts.append(self._indexer.sync_timeout(len(fresh)) or timedelta())
        if again:
            rounds = -(-len(again) // self._retries)
            timeouts.append((self._indexer.sync_timeout(1) or timedelta()) * rounds)
        if max(timeouts) <= timedelta():  # an indexer without a timeout: nothing to hold
            return ids
        async with self._uow() as uow:
            held = await uow.items.hold_vector_syncs(list(ids), now=now, until=now + max(timeouts))
            await uow.commit()
        return held
