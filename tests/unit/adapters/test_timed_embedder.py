"""The embedder's metrics count the texts the model embedded, so double work shows."""

from __future__ import annotations

from prometheus_client import REGISTRY

from memvault.adapters.embedder.caching import CachingEmbedder
from memvault.adapters.embedder.hashing import HashingEmbedder
from memvault.adapters.metrics import TimedEmbedder


def embedded(kind: str) -> float:
    return REGISTRY.get_sample_value("memvault_embedded_texts_total", {"kind": kind}) or 0.0


async def test_texts_the_model_embedded_are_counted_and_cache_hits_are_not() -> None:
    embedder = CachingEmbedder(TimedEmbedder(HashingEmbedder(16)))
    documents, queries = embedded("documents"), embedded("query")

    await embedder.embed_documents(["plays the cello", "likes green tea"])
    await embedder.embed_documents(["plays the cello", "lives in Oslo"])
    await embedder.embed_query("what does she play?")

    assert embedded("documents") - documents == 3
    assert embedded("query") - queries == 1
