"""Opaque keyset cursors: base64url of the last row's sort key."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from application.ports.repositories import ItemCursor
from domain.errors import InvalidValue
from domain.memory import MemoryItem


def encode_cursor(item: MemoryItem) -> str:
    if item.id is None or item.updated_at is None:
        raise ValueError("a cursor needs a stored item")
    key = [item.is_explicit, round(item.importance, 4), item.updated_at.isoformat(), item.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> ItemCursor:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        explicit, importance, updated_at, item_id = json.loads(base64.urlsafe_b64decode(padded))
        parsed = ItemCursor(
            is_explicit=bool(explicit),
            importance=float(importance),
            updated_at=datetime.fromisoformat(updated_at),
            id=int(item_id),
        )
    except (ValueError, TypeError, binascii.Error) as error:
        raise InvalidValue("cursor is not valid", field="cursor") from error
    if parsed.updated_at.tzinfo is None:
        raise InvalidValue("cursor is not valid", field="cursor")
    return parsed
