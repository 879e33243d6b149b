"""Text rules: whitespace collapse, normalisation, rune and UTF-8 truncation, hashing."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memvault.domain.text import (
    clamp01,
    collapse_whitespace,
    normalize_content,
    sha256_hex,
    truncate_runes,
    truncate_utf8,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  I like   tea  ", "I like tea"),
        ("a\tb\nc\r\nd", "a b c d"),
        ("a \t\n\x0b\x0c b", "a b"),
        ("no\u00a0break", "no break"),
        ("ideographic\u3000space", "ideographic space"),
        ("em\u2003space and\u2009thin", "em space and thin"),
        ("line\u2028separator", "line separator"),
        ("", ""),
        (" \t\n\u3000 ", ""),
    ],
)
def test_collapse_whitespace_trims_and_turns_every_whitespace_run_into_one_space(
    raw: str, expected: str
) -> None:
    assert collapse_whitespace(raw) == expected


def test_collapse_whitespace_keeps_zero_width_characters_which_are_not_whitespace() -> None:
    assert collapse_whitespace("a\u200bb") == "a\u200bb"


@given(st.text())
def test_collapsed_text_has_no_edge_spaces_and_no_double_spaces(text: str) -> None:
    collapsed = collapse_whitespace(text)
    assert collapsed == collapsed.strip()
    assert "  " not in collapsed
    assert collapse_whitespace(collapsed) == collapsed


def test_normalized_content_is_collapsed_and_lower_cased() -> None:
    assert normalize_content("  I LOVE\n\tGreen   Tea ") == "i love green tea"


def test_truncate_runes_counts_code_points_not_bytes() -> None:
    assert truncate_runes("我喜欢喝茶", 3) == "我喜欢"
    assert truncate_runes("abc", 10) == "abc"
    assert truncate_runes("abc", 0) == ""


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("hello", 10, "hello"),
        ("hello", 5, "hello"),
        ("hello", 4, "hell"),
        ("hello", 0, ""),
        ("", 0, ""),
        ("我我", 6, "我我"),
        ("我我", 5, "我"),
        ("我我", 4, "我"),
        ("我我", 3, "我"),
        ("我我", 2, ""),
        ("a我", 3, "a"),
        ("a我", 4, "a我"),
        ("é", 1, ""),
        ("😀x", 3, ""),
        ("😀x", 4, "😀"),
        ("😀x", 5, "😀x"),
    ],
)
def test_truncate_utf8_never_splits_a_multi_byte_character(
    text: str, limit: int, expected: str
) -> None:
    assert truncate_utf8(text, limit) == expected


@given(st.text(), st.integers(min_value=0, max_value=64))
def test_truncate_utf8_keeps_the_longest_prefix_that_fits(text: str, limit: int) -> None:
    cut = truncate_utf8(text, limit)
    assert text.startswith(cut)
    assert len(cut.encode("utf-8")) <= limit
    if cut != text:
        next_char = text[len(cut)]
        assert len((cut + next_char).encode("utf-8")) > limit


def test_sha256_hex_is_the_hex_digest_of_the_utf8_bytes() -> None:
    assert sha256_hex("fact::我") == hashlib.sha256("fact::我".encode()).hexdigest()
    assert len(sha256_hex("")) == 64


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-0.5, 0.0), (0.0, 0.0), (0.42, 0.42), (1.0, 1.0), (7.0, 1.0)],
)
def test_clamp01_keeps_values_between_zero_and_one(value: float, expected: float) -> None:
    assert clamp01(value) == expected
