"""Test doubles shared by several suites (they subclass the real ports)."""

from __future__ import annotations

from collections.abc import Sequence

from memvault.application.ports.embedder import Vector
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.vector_store import (
    VectorFilter,
    VectorHit,
    VectorRecord,
    VectorStore,
    VectorStoreError,
)


class SwitchableStore(VectorStore):
    """A real store behind a switch: while ``down``, every call but ``close`` fails."""

    def __init__(self, inner: VectorStore, *, down: bool = False) -> None:
        self.inner = inner
        self.down = down

    def _check(self) -> None:
        if self.down:
            raise VectorStoreError("connection refused")

    async def ensure_ready(self, dimension: int) -> None:
        self._check()
        await self.inner.ensure_ready(dimension)

    async def upsert(self, records: Sequence[VectorRecord]) -> None:
        self._check()
        await self.inner.upsert(records)

    async def delete_documents(self, document_ids: Sequence[str]) -> None:
        self._check()
        await self.inner.delete_documents(document_ids)

    async def search(self, vector: Vector, *, limit: int, filter: VectorFilter) -> list[VectorHit]:
        self._check()
        return await self.inner.search(vector, limit=limit, filter=filter)

    async def document_ids(self, *, user_id: str | None = None) -> set[str]:
        self._check()
        return await self.inner.document_ids(user_id=user_id)

    async def close(self) -> None:
        await self.inner.close()


class RecordingQueue(JobQueue):
    """A job queue that only remembers what was enqueued, in order, repeats kept."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []
        """(job id, delay in ms) per enqueued id."""

    async def enqueue(self, job_ids: Sequence[int], *, delay_ms: int = 0) -> None:
        self.sent.extend((job_id, delay_ms) for job_id in job_ids)

    def ids(self) -> list[int]:
        return [job_id for job_id, _ in self.sent]

    @property
    def job_ids(self) -> list[int]:
        return self.ids()
