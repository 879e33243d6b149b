from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class JobQueue(Protocol):
    """Hands job ids to workers. Messages carry only the id; the database is the truth.

    A lost message costs latency only (a sweeper re-enqueues due jobs); a duplicated one
    costs nothing (the claim is compare-and-set).
    """

    async def enqueue(self, job_ids: Sequence[int], *, delay_ms: int = 0) -> None: ...
