from __future__ import annotations

import pytest

from memvault.application.indexing.chunking import chunk_id, chunk_text, normalize_window
from memvault.application.shared.documents import document_id


def test_short_text_is_one_trimmed_chunk() -> None:
    assert chunk_text("  I like tea.  ") == ["I like tea."]


def test_empty_or_blank_text_gives_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text("   \n\t ") == []


def test_windows_overlap_and_stop_after_the_chunk_reaching_the_end() -> None:
    text = "abcdefghij"  # 10 code points, step 3
    assert chunk_text(text, size=4, overlap=1) == ["abcd", "defg", "ghij"]


def test_text_exactly_one_window_long_is_not_repeated() -> None:
    assert chunk_text("abcd", size=4, overlap=2) == ["abcd"]


def test_window_counts_code_points_not_bytes() -> None:
    text = "我喜欢喝茶也喜欢咖啡"  # 10 code points, 30 UTF-8 bytes
    chunks = chunk_text(text, size=5, overlap=0)
    assert chunks == ["我喜欢喝茶", "也喜欢咖啡"]


def test_whitespace_only_windows_are_skipped_and_chunks_trimmed() -> None:
    text = "ab" + " " * 6 + "cd"
    assert chunk_text(text, size=4, overlap=0) == ["ab", "cd"]


def test_every_character_is_covered_by_some_chunk() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    chunks = chunk_text(text, size=400, overlap=80)
    assert len(chunks) == 3
    assert chunks[0] == text[:400]
    assert chunks[1] == text[320:720]
    assert chunks[2] == text[640:]


@pytest.mark.parametrize(
    ("size", "overlap", "expected"),
    [
        (0, 10, (400, 10)),
        (-5, 10, (400, 10)),
        (100, -1, (100, 0)),
        (100, 100, (100, 80)),
        (100, 500, (100, 80)),
        (50, 50, (50, 10)),
        (80, 80, (80, 16)),
        (3, 3, (3, 0)),
        (400, 80, (400, 80)),
    ],
)
def test_bad_window_settings_are_normalised(
    size: int, overlap: int, expected: tuple[int, int]
) -> None:
    assert normalize_window(size, overlap) == expected


def test_overlap_not_smaller_than_size_still_terminates() -> None:
    assert chunk_text("abcdefgh", size=2, overlap=2) == ["ab", "cd", "ef", "gh"]


def test_document_id_is_prefixed_memory_id() -> None:
    assert document_id(42) == "memory:42"


def test_single_chunk_keeps_the_plain_document_id() -> None:
    assert chunk_id("memory:42", 0, 1) == "memory:42"


def test_chunks_of_multi_chunk_documents_are_numbered_from_zero() -> None:
    assert [chunk_id("memory:42", n, 3) for n in range(3)] == [
        "memory:42#0",
        "memory:42#1",
        "memory:42#2",
    ]


@pytest.mark.parametrize(("order", "total"), [(-1, 2), (2, 2), (0, 0)])
def test_chunk_order_outside_the_document_is_rejected(order: int, total: int) -> None:
    with pytest.raises(ValueError, match="chunk order"):
        chunk_id("memory:1", order, total)


def test_empty_document_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="document_id"):
        chunk_id("", 0, 1)
