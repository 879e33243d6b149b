"""An LRU cache of document vectors in front of any embedder."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

from memvault.application.ports.embedder import Embedder, EmbedderError, Vector


class CachingEmbedder(Embedder):
    """Never embeds the same document text twice while it is cached.

    Keys are ``(inner.name, sha256(text))``, so vectors of another model are never
    reused. ``embed_documents`` sends only the misses (each distinct text once) to the
    inner embedder, in one call, and keeps at most ``max_entries`` vectors, evicting the
    least recently used. Queries pass straight through: they are embedded differently
    (e5 prefixes them) and rarely repeat.
    """

    def __init__(self, inner: Embedder, *, max_entries: int = 10_000) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._inner = inner
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], Vector] = OrderedDict()

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        model = self._inner.name
        keys = [(model, hashlib.sha256(text.encode("utf-8")).hexdigest()) for text in texts]
        found: dict[tuple[str, str], Vector] = {}
        misses: dict[tuple[str, str], str] = {}
        for key, text in zip(keys, texts, strict=True):
            vector = self._lookup(key)
            if vector is None:
                misses[key] = text
            else:
                found[key] = vector
        if misses:
            vectors = await self._inner.embed_documents(list(misses.values()))
            if len(vectors) != len(misses):
                raise EmbedderError(f"asked for {len(misses)} vectors, got {len(vectors)}")
            for key, vector in zip(misses, vectors, strict=True):
                found[key] = vector
                self._store(key, vector)
        return [list(found[key]) for key in keys]

    async def embed_query(self, text: str) -> Vector:
        return await self._inner.embed_query(text)

    def _lookup(self, key: tuple[str, str]) -> Vector | None:
        vector = self._entries.get(key)
        if vector is not None:
            self._entries.move_to_end(key)
        return vector

    def _store(self, key: tuple[str, str], vector: Vector) -> None:
        self._entries[key] = list(vector)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
