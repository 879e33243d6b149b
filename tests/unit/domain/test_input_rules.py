"""The domain's input rules: stored instants, forbidden control characters, snapshots."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from memvault.domain.conversation import MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_DEPTH, encode_snapshot
from memvault.domain.errors import InvalidValue, TooLarge
from memvault.domain.instants import MAX_INSTANT, MIN_INSTANT, utc_instant
from memvault.domain.text import IDENTIFIER_PATTERN, TEXT_PATTERN, has_forbidden_control

PLUS_ONE = timezone(timedelta(hours=1))
MINUS_ONE = timezone(timedelta(hours=-1))


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=PLUS_ONE),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_ONE),
        datetime(999, 12, 31, 23, 59, tzinfo=UTC),
        datetime.max,
    ],
)
def test_an_instant_outside_the_stored_range_is_refused_naming_the_field(value: datetime) -> None:
    with pytest.raises(InvalidValue) as caught:
        utc_instant(value, field="items[2].ttl_at")
    assert caught.value.field == "items[2].ttl_at"


def test_an_instant_in_range_comes_back_in_utc() -> None:
    assert utc_instant(datetime(2026, 1, 1, 1, tzinfo=PLUS_ONE), field="t") == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    assert utc_instant(datetime(2026, 1, 1), field="t").tzinfo is UTC
    assert utc_instant(MIN_INSTANT, field="t") == MIN_INSTANT
    assert utc_instant(MAX_INSTANT, field="t") == MAX_INSTANT


@pytest.mark.parametrize("char", [chr(c) for c in range(32) if chr(c) not in "\t\n\r"])
def test_every_c0_control_but_tab_and_line_breaks_is_forbidden(char: str) -> None:
    assert has_forbidden_control(f"a{char}b")
    assert re.search(TEXT_PATTERN, f"a{char}b") is None
    assert re.search(IDENTIFIER_PATTERN, f"a{char}b") is None


def test_tabs_line_breaks_and_del_are_allowed_text() -> None:
    assert not has_forbidden_control("a\tb\nc\r\nd\x7f")
    assert re.search(TEXT_PATTERN, "a\tb\nc\r\nd\x7f")


@pytest.mark.parametrize("blank", ["", " ", "\t\n", "\u00a0\u3000"])
def test_an_identifier_blank_after_trimming_breaks_the_pattern(blank: str) -> None:
    assert blank.strip() == ""
    assert re.search(IDENTIFIER_PATTERN, blank) is None


@pytest.mark.parametrize("value", ["c1", " c1 ", "conversation 7", "\u00e9t\u00e9"])
def test_an_identifier_with_a_visible_character_matches(value: str) -> None:
    assert re.search(IDENTIFIER_PATTERN, value)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_a_snapshot_at_the_depth_limit_is_encoded() -> None:
    assert encode_snapshot(nested(MAX_SNAPSHOT_DEPTH)).count("[") == MAX_SNAPSHOT_DEPTH


def test_a_snapshot_one_level_deeper_is_refused_without_recursing() -> None:
    with pytest.raises(InvalidValue) as caught:
        encode_snapshot(nested(MAX_SNAPSHOT_DEPTH + 1))
    assert caught.value.field == "snapshot"
    with pytest.raises(InvalidValue):
        encode_snapshot(nested(50_000))


@pytest.mark.parametrize("snapshot", [{"k": "a\x00b"}, {"a\x01": 1}, [[{"x": ["\x1f"]}]]])
def test_a_snapshot_with_a_forbidden_control_is_refused(snapshot: Any) -> None:
    with pytest.raises(InvalidValue) as caught:
        encode_snapshot(snapshot)
    assert caught.value.field == "snapshot"


def test_a_snapshot_over_the_size_limit_is_too_large() -> None:
    with pytest.raises(TooLarge) as caught:
        encode_snapshot({"blob": "é" * (MAX_SNAPSHOT_BYTES // 2)})
    assert caught.value.field == "snapshot"
    assert caught.value.code == "PayloadTooLarge"
