"""Item indexers used until a vector store is configured."""

from __future__ import annotations

from collections.abc import Sequence

from application.ports.indexer import ItemIndexer
from domain.memory import MemoryItem


class DeferredIndexer(ItemIndexer):
    """Indexes nothing now: items keep ``vector_status=pending`` for the re-sync sweeper."""

    async def items_changed(self, items: Sequence[MemoryItem]) -> None:
        return None
