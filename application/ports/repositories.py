"""Repository ports. Every method is scoped to one user unless its name says otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.audit import AuditEntry, AuditTarget
from domain.memory import MemoryItem, MemoryStatus, MemoryType
from domain.settings import MemorySettings


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemCursor:
    """Keyset position in the list order (explicit, importance, updated_at, id; all desc)."""

    is_explicit: bool
    importance: float
    updated_at: datetime
    id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemQuery:
    """A page of one user's items (reference §7.2)."""

    user_id: str
    statuses: frozenset[MemoryStatus]
    memory_types: frozenset[MemoryType] = frozenset()
    conversation_id: str | None = None
    """When set: items of that conversation *and* global items (no conversation)."""
    limit: int = 20
    after: ItemCursor | None = None


class MemoryItemRepository(Protocol):
    """Stores memory items. ``add`` assigns ``id``; ``update`` writes every column."""

    async def add(self, item: MemoryItem) -> MemoryItem: ...

    async def get(
        self, user_id: str, item_id: int, *, for_update: bool = False
    ) -> MemoryItem | None: ...

    async def update(self, item: MemoryItem) -> None: ...

    async def list(self, query: ItemQuery) -> list[MemoryItem]: ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def history(
        self, user_id: str, target_type: AuditTarget, target_id: str
    ) -> list[AuditEntry]:
        """The target's entries, oldest first."""
        ...


class SettingsRepository(Protocol):
    async def get(self, user_id: str) -> MemorySettings | None:
        """The stored row, or ``None``: defaults are never written on read."""
        ...

    async def upsert(self, settings: MemorySettings) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction and the repositories that work inside it.

    ``async with uow:`` begins; leaving the block rolls back whatever was not committed,
    so a forgotten commit can only lose work, never half-write it.
    """

    items: MemoryItemRepository
    audit: AuditRepository
    settings: SettingsRepository

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


Ids = Sequence[int]
