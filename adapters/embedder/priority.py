"""Queries first: one model, two lanes (docs/adr/0006 keeps the embedder port unchanged).

A CPU model runs one inference at a time. Without a scheduler a search's query
embedding waits behind a whole bulk-indexing batch (seconds for 500 items) and the
dense retriever times out. :class:`PriorityEmbedder` cuts document batches into slices
of ``slice_size`` texts and, whenever the model frees, hands it to a waiting query
before the next document slice: a query waits at most for one slice.

A model that answers queries from a second instance of its own (``queries_apart``, the
local e5 model) needs no lane: queries never wait for documents there, so both pass
straight through, and documents are embedded in the model's own batches. Measured in
``bench.ingest``: during bulk indexing a query behind the lane waited about one slice
(p50 8-10× the idle model's), on its own instance it took about its idle time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Awaitable, Sequence
from enum import Enum
from typing import Any, Protocol, TypeVar, runtime_checkable

from memvault.application.ports.embedder import Embedder, Vector

T = TypeVar("T")


@runtime_checkable
class QueriesApart(Protocol):
    @property
    def queries_apart(self) -> bool:
        """True when queries run on a model instance of their own."""


class Lane(Enum):
    QUERY = "query"
    DOCUMENT = "document"


class PriorityGate:
    """A mutex whose waiters in the query lane always go before the document lane.

    Within a lane, first come first served. Thread-safe: the waiters may sit on
    different event loops (each is woken on its own loop).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = False
        self._waiting: dict[Lane, deque[asyncio.Future[None]]] = {
            Lane.QUERY: deque(),
            Lane.DOCUMENT: deque(),
        }

    def waiting(self, lane: Lane) -> int:
        with self._lock:
            return len(self._waiting[lane])

    async def acquire(self, lane: Lane) -> None:
        with self._lock:
            if not self._busy:
                self._busy = True
                return
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting[lane].append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            with self._lock:
                queued = turn in self._waiting[lane]
                if queued:
                    self._waiting[lane].remove(turn)
            # Handed over just as we gave up: a grant still on its way sees the
            # cancelled turn and passes the gate on; one already granted is ours to pass.
            if not queued and not turn.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Hand the gate to the next waiter, queries first, or free it."""
        with self._lock:
            turn = self._next()
            if turn is None:
                self._busy = False
                return
        with contextlib.suppress(RuntimeError):  # its loop closed: nobody left to wake
            turn.get_loop().call_soon_threadsafe(_grant, turn, self)

    def _next(self) -> asyncio.Future[None] | None:
        for lane in (Lane.QUERY, Lane.DOCUMENT):
            if self._waiting[lane]:
                return self._waiting[lane].popleft()
        return None


def _grant(turn: asyncio.Future[None], gate: PriorityGate) -> None:
    if turn.done():  # cancelled meanwhile: the gate goes to the next one
        gate.release()
    else:
        turn.set_result(None)


class PriorityEmbedder(Embedder):
    """The wrapped embedder behind a :class:`PriorityGate`.

    ``embed_documents`` embeds one slice per turn of the gate and queues again between
    slices, so queries overtake bulk indexing. A slice is at most ``slice_size`` texts
    and, once the model's speed is known (a moving average of seconds per text), no
    more than it embeds in ``slice_seconds``: on a loaded machine slices shrink, down
    to one text, so a query's wait stays short whatever the speed. A caller cancelled
    mid-slice (a sync timeout) returns at once, but the gate stays held until the
    slice really ends: the model thread cannot be interrupted, and the next caller
    would only wait for it inside the model instead.
    """

    def __init__(
        self, inner: Embedder, *, slice_size: int = 16, slice_seconds: float = 0.25
    ) -> None:
        if slice_size <= 0 or slice_seconds <= 0:
            raise ValueError("slice_size and slice_seconds must be positive")
        self._inner = inner
        self._max_slice = slice_size
        self._slice_seconds = slice_seconds
        self._per_text: float | None = None
        self.gate = PriorityGate()

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def _bypass(self) -> bool:
        inner = self._inner
        return isinstance(inner, QueriesApart) and inner.queries_apart

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if self._bypass():
            return await self._inner.embed_documents(texts)
        vectors: list[Vector] = []
        while len(vectors) < len(texts):
            piece = list(texts[len(vectors) : len(vectors) + self._slice()])
            vectors += await self._turn(Lane.DOCUMENT, self._timed(piece))
        return vectors

    async def _timed(self, piece: list[str]) -> list[Vector]:
        started = time.perf_counter()
        vectors = await self._inner.embed_documents(piece)
        self._learn((time.perf_counter() - started) / len(piece))
        return vectors

    def _slice(self) -> int:
        if self._per_text is None:
            return self._max_slice
        return max(1, min(self._max_slice, int(self._slice_seconds / self._per_text)))

    def _learn(self, per_text: float) -> None:
        known = self._per_text
        self._per_text = per_text if known is None else 0.7 * known + 0.3 * per_text

    async def embed_query(self, text: str) -> Vector:
        if self._bypass():
            return await self._inner.embed_query(text)
        return await self._turn(Lane.QUERY, self._inner.embed_query(text))

    async def _turn(self, lane: Lane, work: Awaitable[T]) -> T:
        try:
            await self.gate.acquire(lane)
        except BaseException:
            if asyncio.iscoroutine(work):
                work.close()
            raise
        task = asyncio.ensure_future(work)
        task.add_done_callback(self._finished)
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled():
            task.exception()  # observed here too, should its caller have gone
        self.gate.release()
