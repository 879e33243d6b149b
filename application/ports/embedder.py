"""The embedder port: text in, vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Vector = list[float]


class EmbedderError(Exception):
    """The embedder could not produce vectors (model missing, endpoint down, timeout)."""


class Embedder(Protocol):
    """Turns text into unit-length vectors of a fixed dimension.

    Contract:
    - ``embed_documents`` returns exactly one vector per input text, in order, each of
      length ``dimension`` and L2 norm 1 (within 1e-3); an empty sequence gives ``[]``.
    - ``embed_query`` embeds a search query (models such as e5 prefix it differently).
    - The same text always gives the same vector (within 1e-5).
    - ``name`` identifies model and settings, so cached vectors of another model are
      never reused.
    - Failures raise :class:`EmbedderError`, never anything else.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]: ...

    async def embed_query(self, text: str) -> Vector: ...
