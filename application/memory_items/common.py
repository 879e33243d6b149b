"""What the item use cases share: loading a user's item for a change."""

from __future__ import annotations

from memvault.application.ports.repositories import UnitOfWork
from memvault.domain.errors import MemoryItemNotFound
from memvault.domain.memory import MemoryItem


async def load_item(uow: UnitOfWork, user_id: str, item_id: int) -> MemoryItem:
    """The user's item, locked for update. Another user's id is simply not found."""
    item = await uow.items.get(user_id, item_id, for_update=True)
    if item is None:
        raise MemoryItemNotFound(f"memory item {item_id} not found")
    return item
