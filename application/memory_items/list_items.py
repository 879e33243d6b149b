"""List a user's items a page at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from memvault.application.ports.repositories import ItemQuery, UnitOfWorkFactory
from memvault.application.shared.cursors import decode_item_cursor, encode_item_cursor
from memvault.application.shared.paging import page_limit
from memvault.domain.errors import InvalidValue
from memvault.domain.memory import MemoryItem, MemoryStatus, MemoryType
from memvault.domain.metadata import filter_tokens

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
DEFAULT_STATUSES = frozenset({MemoryStatus.ACTIVE, MemoryStatus.ARCHIVED})


@dataclass(frozen=True, slots=True, kw_only=True)
class ListItems:
    user_id: str
    statuses: Sequence[str] = ()
    memory_types: Sequence[str] = ()
    conversation_id: str | None = None
    limit: int | None = None
    cursor: str | None = None
    metadata: Mapping[str, Any] | None = None
    """Equality filter on metadata (every pair must match)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemPage:
    items: list[MemoryItem]
    next_cursor: str | None


def parse_statuses(values: Sequence[str]) -> frozenset[MemoryStatus]:
    statuses: set[MemoryStatus] = set()
    for value in values:
        try:
            statuses.add(MemoryStatus(value.strip().lower()))
        except ValueError as error:
            allowed = ", ".join(s.value for s in MemoryStatus)
            raise InvalidValue(
                f"status must be one of {allowed}, not {value!r}", field="status"
            ) from error
    return frozenset(statuses) or DEFAULT_STATUSES


class ListItemsUseCase:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: ListItems) -> ItemPage:
        limit = page_limit(query.limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        item_query = ItemQuery(
            user_id=query.user_id,
            statuses=parse_statuses(query.statuses),
            memory_types=frozenset(MemoryType.require(m) for m in query.memory_types),
            conversation_id=query.conversation_id or None,
            limit=limit + 1,
            after=decode_item_cursor(query.cursor) if query.cursor else None,
            metadata_tokens=filter_tokens(query.metadata),
        )
        async with self._uow(read_only=True) as uow:
            rows = await uow.items.page(item_query)
        items = rows[:limit]
        more = len(rows) > limit
        return ItemPage(items=items, next_cursor=encode_item_cursor(items[-1]) if more else None)
