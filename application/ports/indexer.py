from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from memvault.domain.memory import MemoryItem


class ItemIndexer(Protocol):
    """Brings the search indexes in line with items that were just committed.

    Called *after* commit, never inside a transaction. It must not raise: an item it
    could not index keeps ``vector_status`` pending/failed and a sweeper retries it.
    """

    async def items_changed(self, items: Sequence[MemoryItem]) -> None: ...
