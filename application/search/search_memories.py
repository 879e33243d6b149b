"""Hybrid search (docs/behaviour.md, "Search and ranking").

Candidates come from the vector store (dense) and from the lexical index in the
database (BM25), fused by reciprocal rank. Every candidate is then re-read from the
database and kept only if it is active, unexpired, this user's, in scope and allowed by
the user's settings; duplicates are dropped; the final score combines the fused
relevance with the reference's prior; the type budget applies. If the embedder or the
vector store fails or is slow, the answer comes from the database alone, ``degraded``.

A search never writes and never takes a write lock: the settings, the lexical matches
and the candidates are read in one read-only transaction (so they are one consistent
snapshot, and there is no settings cache to invalidate in other processes), while the
query is embedded and the vector store searched concurrently. The returned items' access
times are only recorded in memory (:mod:`application.search.access_times`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from memvault.application.ports.clock import Clock
from memvault.application.ports.embedder import Embedder, Vector
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.repositories import ScopeQuery, UnitOfWork, UnitOfWorkFactory
from memvault.application.ports.vector_store import (
    VectorFilter,
    VectorHit,
    VectorStore,
)
from memvault.application.search.access_times import AccessTimes
from memvault.application.search.bm25 import bm25_ranking
from memvault.application.search.timing import Stages
from memvault.application.shared.documents import document_item_id
from memvault.application.shared.nearest import nearest
from memvault.application.shared.paging import page_limit
from memvault.domain.errors import InvalidValue
from memvault.domain.lexical import terms
from memvault.domain.memory import MemoryItem, MemoryType
from memvault.domain.metadata import filter_tokens, tokens
from memvault.domain.ranking import Scored, apply_budget, dedupe, prior, reciprocal_rank_fusion
from memvault.domain.settings import CONSENTED_SENSITIVITY, MemorySettings

log = structlog.get_logger(__name__)
DEFAULT_LIMIT = 5
MAX_LIMIT = 100
MAX_QUERY = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrievalWeights:
    """Fusion and ranking weights, chosen on the labelled set (bench/retrieval.py).

    With ``rrf_k`` 60 the fused relevance of ranks 1 and 10 differs by 13% only, so a
    prior weighted 0.2 reordered the results; with ``rrf_k`` 5, dense ranks counting three
    times the lexical ones and a prior of 0.1, hybrid beat both single methods at hit@5
    with either local model (e5, USE).
    """

    rrf_k: float = 5.0
    dense_weight: float = 3.0
    lexical_weight: float = 1.0
    relevance_weight: float = 0.9
    prior_weight: float = 0.1
    candidates: int = 50
    dense_min_score: float = 0.0
    dense_timeout_s: float = 1.5


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchQuery:
    user_id: str
    query: str
    limit: int | None = None
    memory_types: Sequence[str] = ()
    assistant_id: str | None = None
    run_id: str | None = None
    mode: str = "hybrid"
    """``hybrid``, ``dense`` or ``lexical`` (the last two for measurement)."""
    type_budget: Mapping[str, int] | None = None
    """At most so many results of each named type; ``None``: none, ``limit`` in all
    (``/context`` passes the reference's 5/5/5)."""
    metadata: Mapping[str, Any] | None = None
    """Equality filter on metadata (every pair must match), applied inside the vector
    store's and the lexical index's queries."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    hits: list[Scored]
    degraded: bool
    stages: Mapping[str, float] = field(default_factory=dict)
    """Milliseconds per stage (``settings``, ``embed``, ``vector``, ``lexical``,
    ``dense_wait``, ``recheck``, ``rank``, ``total``): the server's own timing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """How many results, under which per-type budget, from how many candidates."""

    limit: int
    budget: Mapping[MemoryType, int] | None
    candidates: int


def type_budget(value: Mapping[str, int] | None) -> dict[MemoryType, int] | None:
    """The per-type budget by type; a bad type or a negative count is refused."""
    if value is None:
        return None
    budget: dict[MemoryType, int] = {}
    for name, count in value.items():
        kind = MemoryType.parse(name)
        if kind is None:
            raise InvalidValue(f"type_budget: unknown memory type {name!r}", field="type_budget")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidValue("type_budget counts must be integers >= 0", field="type_budget")
        budget[kind] = count
    return budget


def in_scope(item: MemoryItem, scope: ScopeQuery) -> bool:
    """The database re-check every candidate passes, whatever index produced it."""
    if item.user_id != scope.user_id or not item.is_visible(scope.now):
        return False
    if scope.memory_types and item.memory_type not in scope.memory_types:
        return False
    if scope.assistant_id and item.scope.assistant_id not in (None, scope.assistant_id):
        return False
    if scope.run_id and item.scope.run_id not in (None, scope.run_id):
        return False
    if scope.explicit_only and not item.is_explicit:
        return False
    if scope.metadata_tokens and not scope.metadata_tokens.issubset(tokens(item.metadata)):
        return False
    if scope.max_sensitivity is None or item.sensitivity_level <= scope.max_sensitivity:
        return True
    return item.is_explicit and item.sensitivity_level <= CONSENTED_SENSITIVITY


class SearchMemoriesUseCase:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        embedder: Embedder,
        store: VectorStore,
        weights: RetrievalWeights,
        *,
        access: AccessTimes | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._access = access
        self._uow = uow
        self._clock = clock
        self._embedder = embedder
        self._store = store
        self._weights = weights

    async def __call__(self, query: SearchQuery) -> SearchResult:
        text = query.query.strip()
        if not text:
            raise InvalidValue("query must not be empty", field="query")
        if len(text) > MAX_QUERY:
            raise InvalidValue(f"query must be at most {MAX_QUERY} characters", field="query")
        limit = page_limit(query.limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        types = frozenset(MemoryType.require(t) for t in query.memory_types)
        budget = type_budget(query.type_budget)
        candidates = max(self._weights.candidates, limit)
        wanted = filter_tokens(query.metadata)
        stages = Stages()
        started = time.perf_counter()
        dense: asyncio.Task[list[int]] | None = None
        if query.mode in ("hybrid", "dense"):
            where = VectorFilter(
                user_id=query.user_id,
                memory_types=frozenset(t.value for t in types),
                assistant_id=query.assistant_id,
                run_id=query.run_id,
                metadata_tokens=wanted,
            )
            dense = asyncio.create_task(self._dense(text, where, stages, candidates))
            # Let it start (and hand its embedding or store call to a thread) before the
            # database reads, which may run on this thread without yielding.
            await asyncio.sleep(0)
        try:
            page = Page(limit=limit, budget=budget, candidates=candidates)
            result = await self._read(query, text, types, wanted, page, dense, stages, started)
        finally:
            if dense is not None:
                _forget(dense)
        stages.add("total", (time.perf_counter() - started) * 1000)
        if self._access is not None and result.hits:
            self._access.record((h.item.id for h in result.hits if h.item.id), at=self._clock.now())
        return SearchResult(hits=result.hits, degraded=result.degraded, stages=stages.ms)

    async def _read(
        self,
        query: SearchQuery,
        text: str,
        types: frozenset[MemoryType],
        wanted: frozenset[str],
        page: Page,
        dense: asyncio.Task[list[int]] | None,
        stages: Stages,
        started: float,
    ) -> SearchResult:
        """Everything the database answers, in one read-only transaction; the dense
        ranking is awaited at most ``dense_timeout_s`` after ``started``."""
        async with self._uow(read_only=True) as uow:
            with stages.stage("settings"):
                settings = await uow.settings.get(query.user_id) or MemorySettings(
                    user_id=query.user_id
                )
            if not settings.memory_enabled:
                return SearchResult(hits=[], degraded=False)
            scope = ScopeQuery(
                user_id=query.user_id,
                now=self._clock.now(),
                memory_types=types,
                assistant_id=query.assistant_id,
                run_id=query.run_id,
                explicit_only=not settings.implicit_memory_enabled,
                max_sensitivity=None if settings.sensitive_memory_enabled else 0,
                limit=page.candidates,
                metadata_tokens=wanted,
            )
            lexical: list[int] = []
            if query.mode in ("hybrid", "lexical"):
                with stages.stage("lexical"):
                    query_terms = terms(text)
                    matches = await uow.items.lexical(scope, query_terms)
                    ranking = bm25_ranking(matches, query_terms)
                    lexical = [i for i, _ in ranking][: page.candidates]
            ranked: list[int] = []
            degraded = False
            if dense is not None:
                with stages.stage("dense_wait"):
                    try:
                        left = self._weights.dense_timeout_s - (time.perf_counter() - started)
                        ranked = await asyncio.wait_for(dense, max(left, 0.0))
                    except Exception as error:  # any vector-side failure degrades, never fails
                        log.warning(
                            "dense_retrieval_failed", error=f"{type(error).__name__}: {error}"
                        )
                        degraded = True
            return await self._rank(uow, scope, ranked, lexical, page, degraded, query.mode, stages)

    async def _dense(self, text: str, where: VectorFilter, stages: Stages, limit: int) -> list[int]:
        with stages.stage("embed"):
            vector = await self._embedder.embed_query(text)
        with stages.stage("vector"):
            hits = await self._nearest(vector, where, limit)
        ranked: list[int] = []
        for hit in hits:
            item_id = document_item_id(hit.document_id)
            fresh = item_id is not None and item_id not in ranked
            if fresh and hit.score >= self._weights.dense_min_score:
                ranked.append(item_id)  # type: ignore[arg-type]
        return ranked

    async def _nearest(self, vector: Vector, where: VectorFilter, limit: int) -> list[VectorHit]:
        return await nearest(
            self._store, self._embedder.dimension, vector, limit=limit, where=where
        )

    async def _rank(
        self,
        uow: UnitOfWork,
        scope: ScopeQuery,
        dense: list[int],
        lexical: list[int],
        page: Page,
        degraded: bool,
        mode: str,
        stages: Stages,
    ) -> SearchResult:
        w = self._weights
        fused = {
            item_id: w.dense_weight * score
            for item_id, score in reciprocal_rank_fusion([dense], k=w.rrf_k).items()
        }
        for item_id, score in reciprocal_rank_fusion([lexical], k=w.rrf_k).items():
            fused[item_id] = fused.get(item_id, 0.0) + w.lexical_weight * score
        with stages.stage("recheck"):
            if fused:
                candidates = await uow.items.get_many(scope.user_id, list(fused))
            else:
                candidates = await uow.items.scope(scope) if degraded else []
            allowed = sorted(
                (item for item in candidates if in_scope(item, scope)),
                key=lambda item: fused.get(item.id or 0, 0.0),
                reverse=True,
            )
        with stages.stage("rank"):
            visible = dedupe(allowed)
            top = max(fused.values(), default=0.0) or 1.0
            ranked = sorted(
                (
                    Scored(
                        item=item,
                        score=w.relevance_weight * fused.get(item.id or 0, 0.0) / top
                        + w.prior_weight * prior(item, scope.now),
                    )
                    for item in visible
                ),
                key=lambda entry: (entry.score, entry.item.id or 0),
                reverse=True,
            )
            chosen = apply_budget(ranked, limit=page.limit, budget=page.budget)
        self._metrics.count(Metric.RETRIEVE_HIT_TOTAL, len(chosen), read_mode=mode)
        self._metrics.count(
            Metric.RETRIEVE_DEDUP_DROP_TOTAL, len(allowed) - len(visible), read_mode=mode
        )
        if degraded:
            self._metrics.count(Metric.RAG_FALLBACK_TOTAL, read_mode=mode)
        return SearchResult(hits=chosen, degraded=degraded)


def _forget(task: asyncio.Task[list[int]]) -> None:
    """A dense search the answer no longer waits for: cancelled, or its error retrieved
    (so asyncio does not report it as never retrieved)."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()
