"""Export memories (one user's or every user's) as a stream, oldest id first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.application.transfer.lines import ExportedMemory
from memvault.domain.audit import AuditTarget

PAGE = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportMemories:
    user_id: str | None
    """``None`` exports every user (operators only)."""
    with_history: bool = False


class ExportMemoriesUseCase:
    """Every item in every status, read page by page (each page its own read-only
    transaction), so an export of any size streams in constant memory."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, command: ExportMemories) -> AsyncIterator[ExportedMemory]:
        after = 0
        while True:
            async with self._uow(read_only=True) as uow:
                page = await uow.transfer.page(user_id=command.user_id, after_id=after, limit=PAGE)
                memories = []
                for item in page:
                    history = None
                    if command.with_history and item.id is not None:
                        history = await uow.audit.history(
                            item.user_id, AuditTarget.MEMORY_ITEM, str(item.id)
                        )
                    memories.append(ExportedMemory(item=item, history=history))
            for memory in memories:
                yield memory
            if len(page) < PAGE:
                return
            after = page[-1].id or after
