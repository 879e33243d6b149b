from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from memvault.domain.memory import MemoryItem


class ItemIndexer(Protocol):
    """Brings the search indexes in line with items that were just committed.

    Called *after* commit, never inside a transaction. It must not raise: an item it
    could not index keeps ``vector_status`` pending/failed and a sweeper retries it.
    """

    async def items_changed(self, items: Sequence[MemoryItem]) -> None: ...

    def sync_timeout(self, count: int) -> timedelta | None:
        """How long a call with ``count`` items may keep them: the deadline a write
        records with the items it hands over (``MemoryItemRepository.add``/``update``),
        so that no process's sweeper syncs them a second time meanwhile. ``None``: no
        sync runs on its own after commit (the sweeper's grace alone applies)."""
        return None


def sync_deadline(indexer: ItemIndexer, count: int, now: datetime) -> datetime | None:
    """``now`` plus the indexer's timeout for ``count`` items, if it has one."""
    timeout = indexer.sync_timeout(count)
    return None if timeout is None else now + timeout
