"""Text rules shared by every path that stores or compares memory text."""

from __future__ import annotations

import hashlib
import re

# The one rule for text that reaches the database, the same on every dialect
# (PostgreSQL refuses NUL in text): NUL and the C0 control characters other than tab,
# line feed and carriage return are refused, never stripped. docs/input-rules.md.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f"
TEXT_PATTERN = rf"^[^{_CONTROLS}]*$"
"""Text without forbidden control characters (a JSON Schema / Python regex)."""
IDENTIFIER_PATTERN = rf"^[^\S{_CONTROLS}]*[^\s{_CONTROLS}][^{_CONTROLS}]*$"
"""An identifier: text without forbidden control characters that is not blank after
trimming. The three parts are disjoint classes, so matching is linear."""
_FORBIDDEN = re.compile(f"[{_CONTROLS}]")


def has_forbidden_control(text: str) -> bool:
    """Whether ``text`` holds a character that ``TEXT_PATTERN`` refuses."""
    return _FORBIDDEN.search(text) is not None


def collapse_whitespace(text: str) -> str:
    """Trim and collapse every run of whitespace to a single space."""
    return " ".join(text.split())


def normalize_content(text: str) -> str:
    """The comparison form of memory text: whitespace collapsed, lower-cased."""
    return collapse_whitespace(text).lower()


def truncate_runes(text: str, limit: int) -> str:
    """Cut to ``limit`` Unicode code points (Python ``str`` indexes code points)."""
    return text[:limit]


def truncate_utf8(text: str, limit: int) -> str:
    """Cut to at most ``limit`` UTF-8 bytes without splitting a character."""
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= limit:
        return encoded.decode("utf-8")
    return encoded[:limit].decode("utf-8", errors="ignore")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clamp01(value: float) -> float:
    return min(1.0, max(0.0, value))
