"""Every page cursor memvault hands out, and the one strict parser for each shape.

A cursor is opaque to clients but not trusted: anything that is not exactly what
``encode_*`` produces is ``InvalidValue`` on the field ``cursor`` (a 400), never a
database error. Ids are bounded to the signed 64-bit range of the id columns and
timestamps to the stored range (``domain.instants``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import datetime
from typing import Any, NoReturn

from memvault.application.ports.repositories import ItemCursor
from memvault.domain.errors import InvalidValue
from memvault.domain.instants import utc_instant
from memvault.domain.memory import MemoryItem

MAX_ID = 2**63 - 1
_ID = re.compile(r"[1-9][0-9]{0,18}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]{1,512}")


def _invalid(cause: BaseException | None = None) -> NoReturn:
    raise InvalidValue("cursor is not valid", field="cursor") from cause


def encode_id_cursor(row_id: int | None) -> str:
    if row_id is None:
        raise ValueError("a cursor needs a stored row")
    return str(row_id)


def decode_id_cursor(cursor: str | None) -> int | None:
    """The id of an id-ordered page's last row (ASCII decimal, 1..2**63-1); ``None``
    for the first page."""
    if not cursor:
        return None
    if _ID.fullmatch(cursor) is None or int(cursor) > MAX_ID:
        _invalid()
    return int(cursor)


def encode_item_cursor(item: MemoryItem) -> str:
    if item.id is None or item.updated_at is None:
        raise ValueError("a cursor needs a stored item")
    key = [item.is_explicit, round(item.importance, 4), item.updated_at.isoformat(), item.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number")


def decode_item_cursor(cursor: str) -> ItemCursor:
    """The sort key of an items page's last row: base64url of
    ``[is_explicit, importance, updated_at, id]``."""
    if _BASE64URL.fullmatch(cursor) is None:
        _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key: Any = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, binascii.Error) as error:
        _invalid(error)
    if not isinstance(key, list) or len(key) != 4:
        _invalid()
    explicit, importance, updated_at, item_id = key
    if not isinstance(explicit, bool) or not isinstance(updated_at, str):
        _invalid()
    if isinstance(importance, bool) or not isinstance(importance, int | float):
        _invalid()
    if not math.isfinite(importance) or not 0.0 <= importance <= 1.0:
        _invalid()
    if isinstance(item_id, bool) or not isinstance(item_id, int) or not 1 <= item_id <= MAX_ID:
        _invalid()
    return ItemCursor(
        is_explicit=explicit,
        importance=float(importance),
        updated_at=_cursor_time(updated_at),
        id=item_id,
    )


def _cursor_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        _invalid(error)
    if parsed.tzinfo is None:
        _invalid()
    try:
        return utc_instant(parsed, field="cursor")
    except InvalidValue as error:
        _invalid(error)
