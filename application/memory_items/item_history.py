from __future__ import annotations

from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.domain.audit import AuditEntry, AuditTarget
from memvault.domain.errors import MemoryItemNotFound


class ItemHistoryUseCase:
    """The audit entries of one of the caller's items, oldest first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: str, item_id: int) -> list[AuditEntry]:
        async with self._uow(read_only=True) as uow:
            if await uow.items.get(user_id, item_id) is None:
                raise MemoryItemNotFound(f"memory item {item_id} not found")
            return await uow.audit.history(user_id, AuditTarget.MEMORY_ITEM, str(item_id))
