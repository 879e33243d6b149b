"""Page sizes and id cursors of the list endpoints."""

from __future__ import annotations

from memvault.domain.errors import InvalidValue

MAX_ID = 2**63
"""Ids are signed 64-bit integers on every dialect."""


def page_limit(limit: int | None, *, default: int, maximum: int) -> int:
    """Below 1 is an error; above the maximum is clamped to it (the upstream API does so)."""
    if limit is None:
        return default
    if limit < 1:
        raise InvalidValue("limit must be at least 1", field="limit")
    return min(limit, maximum)


def parse_id_cursor(cursor: str | None) -> int | None:
    """The id a ``cursor`` names (pages go backwards from it); ``None`` for the first page.
    Anything but a decimal id in 1..2^63-1 is an :class:`InvalidValue`."""
    if not cursor:
        return None
    if not cursor.isdigit() or not 0 < int(cursor) < MAX_ID:
        raise InvalidValue("cursor is not valid", field="cursor")
    return int(cursor)
