"""A deterministic, dependency-free embedder for tests.

Texts are turned into hashed features (lower-cased word tokens, character trigrams of
each word, and single CJK characters plus bigrams), so texts sharing words are closer
than unrelated ones. It carries no real semantics: never use it in production.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import numpy as np

from memvault.adapters.embedder._vectors import unit_rows
from memvault.application.ports.embedder import Embedder, EmbedderError, Vector

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_EMPTY_FEATURE = "\x00empty"


class HashingEmbedder(Embedder):
    """Feature hashing into ``dimension`` signed buckets, L2-normalised."""

    def __init__(self, dimension: int = 256) -> None:
        if dimension < 8:
            raise ValueError("dimension must be at least 8")
        self._dimension = dimension

    @property
    def name(self) -> str:
        return f"hashing-v1-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        matrix = np.stack([self._embed(text) for text in texts])
        return unit_rows(matrix, dimension=self._dimension, count=len(texts))

    async def embed_query(self, text: str) -> Vector:
        vectors = await self.embed_documents([text])
        return vectors[0]

    def _embed(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise EmbedderError(f"expected text, got {type(text).__name__}")
        vector = np.zeros(self._dimension, dtype=np.float64)
        for feature, weight in _features(text.lower()):
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "big") % self._dimension
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[bucket] += sign * weight
        if not vector.any():
            return self._embed_feature(_EMPTY_FEATURE)
        return vector

    def _embed_feature(self, feature: str) -> np.ndarray:
        vector = np.zeros(self._dimension, dtype=np.float64)
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        vector[int.from_bytes(digest[:4], "big") % self._dimension] = 1.0
        return vector


def _features(text: str) -> Iterator[tuple[str, float]]:
    for word in _WORD.findall(text):
        if _CJK.search(word):
            yield from _cjk_features(word)
            continue
        yield f"w:{word}", 1.0
        padded = f"<{word}>"
        for start in range(len(padded) - 2):
            yield f"g:{padded[start : start + 3]}", 0.5


def _cjk_features(word: str) -> Iterator[tuple[str, float]]:
    for index, char in enumerate(word):
        yield f"c:{char}", 0.5
        if index + 1 < len(word):
            yield f"b:{word[index : index + 2]}", 1.0
