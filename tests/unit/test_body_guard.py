"""The JSON depth scan that runs before msgspec decodes a request body."""

from __future__ import annotations

from memvault.entrypoints.http.body_guard import too_deep


def test_brackets_inside_strings_do_not_count() -> None:
    body = b'{"content": "' + b"[" * 500 + b'\\"[[[", "x": []}'
    assert too_deep(body, limit=3) is None


def test_the_scan_names_the_top_level_field_that_nests_too_deep() -> None:
    body = b'{"phase": "p", "snapshot": ' + b"[" * 5 + b"]" * 5 + b"}"
    assert too_deep(body, limit=4) == "snapshot"
    assert too_deep(body, limit=6) is None


def test_a_deep_body_without_a_key_is_named_body() -> None:
    assert too_deep(b"[" * 20_000 + b"]" * 20_000, limit=100) == "body"


def test_a_wide_shallow_body_passes() -> None:
    assert too_deep(b"[" + b"[],".join([b""] * 10_000) + b"[]]", limit=2) is None
