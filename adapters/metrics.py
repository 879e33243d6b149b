"""Prometheus metrics (prometheus-client), exported with the HTTP metrics at /metrics."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from memvault.application.ports.embedder import Embedder, Vector
from memvault.application.ports.metrics import LABELS, Metric, Metrics
from memvault.application.search.search_memories import SearchMemoriesUseCase, SearchResult


class PrometheusMetrics(Metrics):
    """Registers every metric on ``registry``; one instance per registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counters = {
            metric: Counter(
                metric.value, metric.value.replace("_", " "), LABELS[metric], registry=registry
            )
            for metric in Metric
        }
        self._jobs = Gauge("memvault_jobs", "Jobs per status", ("status",), registry=registry)

    def count(self, metric: Metric, value: float = 1, /, **labels: str) -> None:
        if value <= 0:
            return
        counter = self._counters[metric]
        names = LABELS[metric]
        if names:
            counter.labels(**{name: labels.get(name, "") for name in names}).inc(value)
        else:
            counter.inc(value)

    def set_jobs(self, counts: dict[str, int]) -> None:
        for status, value in counts.items():
            self._jobs.labels(status=status).set(value)


@cache
def process_metrics() -> PrometheusMetrics:
    """The process's metrics on the default registry (made on first use, never twice)."""
    return PrometheusMetrics(REGISTRY)


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Latencies:
    """Latency histograms (seconds) of the work that is slow when something is wrong.

    HTTP requests are timed by Litestar's Prometheus middleware in the API process
    (``memvault_request_duration_seconds``); these cover the rest, in every process.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> Histogram:
            return Histogram(name, doc, labels, registry=registry, buckets=LATENCY_BUCKETS)

        self.search = histogram("memvault_search_seconds", "Memory searches", ())
        self.embedding = histogram("memvault_embedding_seconds", "Embedding calls", ("kind",))
        self.llm = histogram("memvault_llm_seconds", "LLM calls", ("outcome",))
        self.job = histogram("memvault_job_seconds", "Extraction job attempts", ("outcome",))
        self.job_messages = Counter(
            "memvault_job_messages", "Job queue messages sent", registry=registry
        )
        self.embedded_texts = Counter(
            "memvault_embedded_texts",
            "Texts the model embedded (cache hits not counted)",
            ("kind",),
            registry=registry,
        )


@cache
def latencies() -> Latencies:
    """The process's histograms on the default registry (made on first use, never twice)."""
    return Latencies(REGISTRY)


class TimedEmbedder(Embedder):
    """Times every call to the wrapped embedder and counts the texts it embedded (cache
    hits in front of it are neither): ``memvault_embedded_texts_total`` beside the items
    written shows whether anything was embedded twice."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        with latencies().embedding.labels(kind="documents").time():
            vectors = await self._inner.embed_documents(texts)
        latencies().embedded_texts.labels(kind="documents").inc(len(texts))
        return vectors

    async def embed_query(self, text: str) -> Vector:
        with latencies().embedding.labels(kind="query").time():
            vector = await self._inner.embed_query(text)
        latencies().embedded_texts.labels(kind="query").inc()
        return vector


class TimedSearch(SearchMemoriesUseCase):
    """The search use case, timed (``/search`` and the retrieval inside ``/context``)."""

    async def __call__(self, *args: Any, **kwargs: Any) -> SearchResult:
        with latencies().search.time():
            return await super().__call__(*args, **kwargs)


def observe_job(seconds: float, outcome: object) -> None:
    latencies().job.labels(outcome=str(getattr(outcome, "value", outcome))).observe(seconds)


def count_job_messages(sent: int) -> None:
    """Messages handed to the job queue: about one per job plus one per parked job,
    however long the backlog (docs/behaviour.md, "Extraction jobs")."""
    latencies().job_messages.inc(sent)


def observe_llm(seconds: float, *, ok: bool) -> None:
    latencies().llm.labels(outcome="ok" if ok else "error").observe(seconds)
