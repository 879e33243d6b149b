"""Vector-store document ids of memory items: ``memory:{id}``, chunks ``memory:{id}#{n}``."""

from __future__ import annotations

DOCUMENT_PREFIX = "memory:"


def document_id(memory_id: int) -> str:
    """The vector-store document id of a memory item: ``memory:{id}``."""
    return f"{DOCUMENT_PREFIX}{memory_id}"


def document_item_id(document_id: str) -> int | None:
    """The memory id a document or chunk id names, or ``None`` for a foreign id."""
    if not document_id.startswith(DOCUMENT_PREFIX):
        return None
    tail = document_id[len(DOCUMENT_PREFIX) :].split("#", 1)[0]
    return int(tail) if tail.isdigit() else None
