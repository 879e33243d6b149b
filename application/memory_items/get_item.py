from __future__ import annotations

from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.domain.errors import MemoryItemNotFound
from memvault.domain.memory import MemoryItem


class GetItemUseCase:
    """One of the caller's items; another user's id is reported as not found."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: str, item_id: int) -> MemoryItem:
        async with self._uow(read_only=True) as uow:
            item = await uow.items.get(user_id, item_id)
        if item is None:
            raise MemoryItemNotFound(f"memory item {item_id} not found")
        return item
