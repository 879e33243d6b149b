"""Shared vector hygiene for every embedder adapter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from memvault.application.ports.embedder import EmbedderError, Vector


def unit_rows(matrix: npt.ArrayLike, *, dimension: int, count: int) -> list[Vector]:
    """Check shape and finiteness, then scale every row to L2 norm 1.

    Raises EmbedderError when the model answered ``count`` × ``dimension`` wrongly or
    produced a zero or non-finite vector (which cannot be normalised).
    """
    rows = np.asarray(matrix, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] != count:
        raise EmbedderError(f"expected {count} vectors, got shape {rows.shape}")
    if rows.shape[1] != dimension:
        raise EmbedderError(f"expected dimension {dimension}, got {rows.shape[1]}")
    if not np.isfinite(rows).all():
        raise EmbedderError("the model produced a non-finite vector")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if (norms == 0).any():
        raise EmbedderError("the model produced a zero vector")
    unit: list[Vector] = (rows / norms).tolist()
    return unit


def unit_vectors(vectors: Sequence[Sequence[float]], *, dimension: int) -> list[Vector]:
    """:func:`unit_rows` for a list of lists (ragged input is a dimension error)."""
    if any(len(vector) != dimension for vector in vectors):
        bad = next(len(vector) for vector in vectors if len(vector) != dimension)
        raise EmbedderError(f"expected dimension {dimension}, got {bad}")
    if not vectors:
        return []
    return unit_rows(vectors, dimension=dimension, count=len(vectors))
