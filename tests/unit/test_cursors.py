"""Page cursors round-trip and anything else is a 400 on ``cursor``."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from memvault.application.shared.cursors import (
    MAX_ID,
    decode_id_cursor,
    decode_item_cursor,
    encode_id_cursor,
    encode_item_cursor,
)
from memvault.domain.errors import InvalidValue
from memvault.domain.memory import MemoryItem


def test_an_id_cursor_round_trips() -> None:
    assert decode_id_cursor(encode_id_cursor(MAX_ID)) == MAX_ID
    assert decode_id_cursor(None) is None
    assert decode_id_cursor("") is None


@pytest.mark.parametrize(
    "cursor", ["\u00b2", "\u0661", "0", "01", "-1", "+1", " 1", "1.0", str(MAX_ID + 1)]
)
def test_a_malformed_id_cursor_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        decode_id_cursor(cursor)
    assert caught.value.field == "cursor"


def test_an_item_cursor_round_trips() -> None:
    item = MemoryItem.create_manual(
        user_id="u", memory_type="fact", content="lives in Oslo", now=datetime.now(UTC)
    )
    item.id = 42
    decoded = decode_item_cursor(encode_item_cursor(item))
    assert decoded.id == 42
    assert decoded.updated_at == item.updated_at


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        '[false, 0.5, "2026-01-01T00:00:00+00:00", 1e999]',
        '[false, 0.5, "2026-01-01T00:00:00+00:00", 10000000000000000000000]',
        '[false, NaN, "2026-01-01T00:00:00+00:00", 1]',
        '[false, 0.5, "0001-01-01T00:00:00+01:00", 1]',
        '[false, 0.5, "2026-01-01T00:00:00", 1]',
        '[false, 0.5, "2026-01-01T00:00:00+00:00", true]',
        '[1, 0.5, "2026-01-01T00:00:00+00:00", 1]',
        '{"id": 1}',
        "not json",
    ],
)
def test_a_malformed_item_cursor_is_invalid(text: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        decode_item_cursor(raw_cursor(text))
    assert caught.value.field == "cursor"


@pytest.mark.parametrize("cursor", ["a b", "abc=", "x" * 513, "\u00e9"])
def test_an_item_cursor_outside_base64url_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidValue):
        decode_item_cursor(cursor)
