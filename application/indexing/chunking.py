"""Chunking of memory text and the ids of the resulting vector records.

Rules follow the upstream pipeline (docs/behaviour.md, "Vectors"): a sliding window over Unicode
code points, each chunk trimmed and empty ones skipped, stopping after the chunk that
reaches the end of the text. Ids differ on purpose: a single-chunk document keeps the
plain document id (``memory:{id}``) and only multi-chunk documents get ``#{order}``.
"""

from __future__ import annotations

DEFAULT_CHUNK_SIZE = 400
DEFAULT_CHUNK_OVERLAP = 80


def normalize_window(size: int, overlap: int) -> tuple[int, int]:
    """Repair a bad window as the reference pipeline does.

    size ≤ 0 → 400; overlap < 0 → 0; overlap ≥ size → 80, or size // 5 when 80 would
    not fit either. The result always has ``0 ≤ overlap < size``.
    """
    if size <= 0:
        size = DEFAULT_CHUNK_SIZE
    if overlap < 0:
        overlap = 0
    if overlap >= size:
        overlap = DEFAULT_CHUNK_OVERLAP if size > DEFAULT_CHUNK_OVERLAP else size // 5
    return size, overlap


def chunk_text(
    text: str, *, size: int = DEFAULT_CHUNK_SIZE, overlap: int = DEFAULT_CHUNK_OVERLAP
) -> list[str]:
    """Split ``text`` into trimmed, non-empty windows of ``size`` code points.

    Consecutive windows start ``size - overlap`` code points apart; the walk stops
    after the window that reaches the end of the text. Empty text gives ``[]``.
    """
    size, overlap = normalize_window(size, overlap)
    step = size - overlap
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end == len(text):
            break
        start += step
    return chunks


def chunk_id(document_id: str, order: int, total: int) -> str:
    """The record id of chunk ``order`` (from 0) of a document split in ``total`` chunks.

    A document with one chunk keeps its plain id; otherwise the id is
    ``{document_id}#{order}``.
    """
    if not document_id:
        raise ValueError("document_id must not be empty")
    if not 0 <= order < total:
        raise ValueError(f"chunk order {order} is outside 0..{total - 1}")
    return document_id if total == 1 else f"{document_id}#{order}"
