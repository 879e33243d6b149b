"""Embeddings from any OpenAI-compatible ``POST /v1/embeddings`` endpoint.

Uses httpx directly rather than the ``openai`` SDK: httpx is already a dependency, the
request is one small JSON call, and owning the retry loop keeps the policy (which
failures are retried, how long to wait, what becomes an EmbedderError) in one place
instead of split between the SDK's own retries and ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import structlog

from memvault.adapters.embedder._vectors import unit_vectors
from memvault.adapters.loop_local import LoopLocal
from memvault.application.ports.embedder import Embedder, EmbedderError, Vector
from memvault.application.ports.failures import PermanentFailure, TransientFailure

_log = structlog.get_logger(__name__)


class EmbedderUnavailable(EmbedderError, TransientFailure):
    """The endpoint stayed down, slow or overloaded through this call's own retries."""


class EmbedderRefused(EmbedderError, PermanentFailure):
    """The endpoint refused the request for good (HTTP 4xx other than 408 and 429)."""


class _RetryableError(Exception):
    """A failure worth another attempt (5xx, 429, timeout, connection error)."""


class OpenAIEmbedder(Embedder):
    """Batches texts into requests of ``batch_size``; retries transient failures.

    A 5xx, a 429, a timeout or a connection error is retried ``max_retries`` times with
    exponential backoff starting at ``backoff`` seconds; any other 4xx, a malformed body,
    or a vector count or dimension that does not match the request is an EmbedderError
    at once. ``send_dimensions`` passes ``dimensions`` to models that can shorten their
    vectors (OpenAI text-embedding-3-*); most other servers reject the field.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        dimension: int,
        api_key: str | None = None,
        timeout: float = 10.0,
        batch_size: int = 64,
        max_retries: int = 2,
        backoff: float = 0.2,
        send_dimensions: bool = False,
    ) -> None:
        if dimension <= 0:
            raise ValueError("dimension must be positive")
        self._url = _embeddings_url(base_url)
        self._model = model
        self._dimension = dimension
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._batch_size = max(1, batch_size)
        self._max_retries = max(0, max_retries)
        self._backoff = backoff
        self._send_dimensions = send_dimensions
        self._clients = LoopLocal(self._new_client)

    @property
    def name(self) -> str:
        return f"openai:{self._model}@{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        vectors: list[Vector] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(await self._embed_batch(list(texts[start : start + self._batch_size])))
        return vectors

    async def embed_query(self, text: str) -> Vector:
        vectors = await self._embed_batch([text])
        return vectors[0]

    async def aclose(self) -> None:
        """Close the HTTP client of the current event loop."""
        client = self._clients.pop_current()
        if client is not None:
            await client.aclose()

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(headers=self._headers, timeout=self._timeout)

    async def _embed_batch(self, batch: list[str]) -> list[Vector]:
        body: dict[str, Any] = {"model": self._model, "input": batch, "encoding_format": "float"}
        if self._send_dimensions:
            body["dimensions"] = self._dimension
        failures = 0
        while True:
            try:
                answer = await self._post(body)
            except _RetryableError as error:
                failures += 1
                if failures > self._max_retries:
                    raise EmbedderUnavailable(
                        f"embeddings endpoint failed after {failures} attempts: {error}"
                    ) from error
                _log.warning("embedder_retry", url=self._url, failures=failures, reason=str(error))
                await asyncio.sleep(self._backoff * 2 ** (failures - 1))
                continue
            return unit_vectors(_parse_vectors(answer, len(batch)), dimension=self._dimension)

    async def _post(self, body: dict[str, Any]) -> Any:
        try:
            response = await self._clients.get().post(self._url, json=body)
        except httpx.TimeoutException as error:
            raise _RetryableError(f"timed out after {self._timeout} s") from error
        except httpx.TransportError as error:
            raise _RetryableError(f"{type(error).__name__}: {error}") from error
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise _RetryableError(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise EmbedderRefused(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as error:
            raise EmbedderError("the embeddings endpoint answered with invalid JSON") from error


def _parse_vectors(answer: Any, expected: int) -> list[list[float]]:
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list):
        raise EmbedderError("the embeddings answer has no 'data' list")
    if len(data) != expected:
        raise EmbedderError(f"asked for {expected} vectors, the endpoint returned {len(data)}")
    if all(isinstance(item, dict) and isinstance(item.get("index"), int) for item in data):
        data = sorted(data, key=lambda item: item["index"])
    vectors: list[list[float]] = []
    for item in data:
        embedding = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(embedding, list) or not all(
            isinstance(value, int | float) for value in embedding
        ):
            raise EmbedderError("an embedding in the answer is not a list of numbers")
        vectors.append([float(value) for value in embedding])
    return vectors


def _embeddings_url(base_url: str) -> str:
    """``https://host/v1`` → ``https://host/v1/embeddings`` (a full URL is kept as is)."""
    base = base_url.rstrip("/")
    if base.endswith("/embeddings"):
        return base
    return f"{base}/embeddings"
