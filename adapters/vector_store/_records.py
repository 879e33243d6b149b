"""Rules every vector store adapter shares: ids, unset markers, dimension checks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from memvault.application.ports.embedder import Vector
from memvault.application.ports.vector_store import VectorHit, VectorRecord, VectorStoreError

UNSET = ""
"""Stored for a missing assistant/run/conversation id, so "equal or unset" is one match."""

_POINT_NAMESPACE = uuid.UUID("6f1c1f0e-3a3c-5b7e-9d55-5d6f0b8a4e21")

T = TypeVar("T")


def point_uuid(record_id: str) -> uuid.UUID:
    """A stable UUID for a record id, for engines that only take UUID or integer ids."""
    return uuid.uuid5(_POINT_NAMESPACE, record_id)


def or_unset(value: str | None) -> str:
    return UNSET if value is None else value


def check_vector(vector: Vector, dimension: int) -> None:
    if len(vector) != dimension:
        raise VectorStoreError(
            f"vector of dimension {len(vector)} given to a store of dimension {dimension}"
        )


def check_records(records: Sequence[VectorRecord], dimension: int) -> None:
    """Reject the whole batch before writing anything if one record is malformed."""
    for record in records:
        check_vector(record.vector, dimension)
        if not record.id or not record.document_id or not record.user_id:
            raise VectorStoreError(f"record {record.id!r} lacks an id, document_id or user_id")


def scope_values(value: str | None) -> list[str] | None:
    """Values an assistant/run filter accepts: the given one or unset; None = no filter."""
    return None if value is None else [value, UNSET]


def clamp_score(score: float) -> float:
    """Cosine similarity within [-1, 1] (engines return 1.0000001 for identical vectors)."""
    return max(-1.0, min(1.0, float(score)))


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def chunk_payload(record: VectorRecord) -> dict[str, Any]:
    """The payload of a point in engines whose ids are UUIDs (the string id goes here)."""
    return {
        "record_id": record.id,
        "document_id": record.document_id,
        "chunk_order": record.chunk_order,
        "text": record.text,
        "user_id": record.user_id,
        "memory_type": record.memory_type,
        "conversation_id": or_unset(record.conversation_id),
        "assistant_id": or_unset(record.assistant_id),
        "run_id": or_unset(record.run_id),
        "metadata": list(record.metadata_tokens),
    }


def hit_from_payload(payload: dict[str, Any], score: float) -> VectorHit:
    return VectorHit(
        id=str(payload["record_id"]),
        document_id=str(payload["document_id"]),
        chunk_order=int(payload["chunk_order"]),
        score=clamp_score(score),
        text=str(payload["text"]),
        user_id=str(payload["user_id"]),
        memory_type=str(payload["memory_type"]),
    )
