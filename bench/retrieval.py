"""Retrieval quality and speed on the labelled set: dense, lexical and hybrid in one run.

Run: ``python -m bench.retrieval [--embedder local|hashing] [--store qdrant-edge|memory]
[--rrf-k K --dense-weight W --lexical-weight W --relevance-weight W --prior-weight W]
[--sweep] [--show-misses]``

The set (tests/data/retrieval/) is loaded into a fresh SQLite database and the
configured vector store in a temporary directory through the service's own code path:
items are created by ``CreateItemsUseCase`` (postings in the item's transaction, vectors
by the real ``VectorIndexer``) at their labelled age, and every question goes through
``SearchMemoriesUseCase`` as its user, in mode ``dense``, ``lexical`` and ``hybrid``.
A question is answered at k when one of its relevant memories is among the first k
results; MRR uses the first relevant one. The baseline of the hybrid ratios is the
better single method of the same run, metric by metric.

``--sweep`` then scores a grid of fusion and ranking weights on the same index (query
vectors cached), to choose the defaults in ``RetrievalWeights``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from dependency_injector import providers
from rich.console import Console
from rich.table import Table

from memvault.application.memory_items.create_item import CreateItems, NewItem
from memvault.application.ports.clock import Clock
from memvault.application.ports.embedder import Embedder, Vector
from memvault.application.search.search_memories import (
    RetrievalWeights,
    SearchMemoriesUseCase,
    SearchQuery,
)
from memvault.container import (
    Container,
    Settings,
    build_infrastructure,
    close_infrastructure,
    migrate,
    retrieval_weights,
)

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "retrieval"
MODES = ("dense", "lexical", "hybrid")
SINGLE = ("dense", "lexical")
CUTS = (1, 5, 10)
LIMIT = 10
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Memory:
    key: str
    user: str
    memory_type: str
    content: str
    importance: float
    confidence: float
    is_explicit: bool
    age_days: float


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    user: str
    query: str
    lang: str
    kind: str
    relevant: frozenset[str]
    needs_all: bool = False
    """True for a question that needs several memories: answered at k only when every
    relevant memory is among the first k (its rank is the worst of theirs)."""


@dataclass(frozen=True, slots=True)
class Scores:
    """Ranks of the first relevant memory (0: not returned), one per question."""

    ranks: tuple[int, ...]
    seconds_per_query: float
    degraded: int = 0

    def hit(self, k: int) -> float:
        return sum(0 < rank <= k for rank in self.ranks) / len(self.ranks)

    @property
    def mrr(self) -> float:
        return sum(1 / rank for rank in self.ranks if rank) / len(self.ranks)

    def metrics(self) -> dict[str, float]:
        return {**{f"hit@{k}": self.hit(k) for k in CUTS}, "MRR": self.mrr}


class BenchClock(Clock):
    """The clock the container's use cases read: set to each memory's labelled age."""

    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


class QueryCache(Embedder):
    """Embeds each query once, so a weight sweep measures ranking, not the model."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._queries: dict[str, Vector] = {}

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return await self._inner.embed_documents(texts)

    async def embed_query(self, text: str) -> Vector:
        if text not in self._queries:
            self._queries[text] = await self._inner.embed_query(text)
        return self._queries[text]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load_set(folder: Path = DATA) -> tuple[list[Memory], list[Question]]:
    memories = [
        Memory(
            row["id"],
            row["user"],
            row["memory_type"],
            row["content"],
            row["importance"],
            row["confidence"],
            row["is_explicit"],
            row["age_days"],
        )
        for row in read_jsonl(folder / "memories.jsonl")
    ]
    questions = [
        Question(
            row["id"],
            row["user"],
            row["query"],
            row["lang"],
            row["kind"],
            frozenset(row["relevant"]),
            bool(row.get("needs_all", False)),
        )
        for row in read_jsonl(folder / "questions.jsonl")
    ]
    return memories, questions


async def index(
    container: Container, clock: BenchClock, memories: Iterable[Memory]
) -> dict[int, str]:
    """Creates every memory at its age; returns the labelled key of each item id."""
    keys: dict[int, str] = {}
    create = container.create_items()
    for memory in memories:
        clock.at = NOW - timedelta(days=memory.age_days)
        new = NewItem(
            memory_type=memory.memory_type,
            content=memory.content,
            importance=memory.importance,
            confidence=memory.confidence,
            is_explicit=memory.is_explicit,
        )
        (item,) = await create(CreateItems(user_id=memory.user, items=[new]))
        keys[item.id or 0] = memory.key
    clock.at = NOW
    return keys


async def evaluate(
    search: SearchMemoriesUseCase, questions: Sequence[Question], keys: dict[int, str], mode: str
) -> Scores:
    await search(SearchQuery(user_id=questions[0].user, query=questions[0].query, mode=mode))
    ranks: list[int] = []
    degraded = 0
    started = time.perf_counter()
    for question in questions:
        result = await search(
            SearchQuery(user_id=question.user, query=question.query, limit=LIMIT, mode=mode)
        )
        degraded += result.degraded
        found = [keys.get(hit.item.id or 0, "") for hit in result.hits]
        ranks.append(rank_of(question, found))
    elapsed = time.perf_counter() - started
    return Scores(tuple(ranks), elapsed / len(questions), degraded)


def rank_of(question: Question, found: Sequence[str]) -> int:
    """Rank at which ``question`` is answered by the ``found`` keys, 0 when it is not."""
    ranks = {key: n for n, key in reversed(list(enumerate(found, 1)))}
    if question.needs_all:
        if not question.relevant <= ranks.keys():
            return 0
        return max(ranks[key] for key in question.relevant)
    return min((ranks[key] for key in question.relevant if key in ranks), default=0)


def paired_difference(
    a: Sequence[int], b: Sequence[int], *, k: int = 5, samples: int = 4000, seed: int = 5
) -> tuple[float, float, float]:
    """hit@k of ``a`` minus that of ``b`` on the same questions, with a 95% paired
    bootstrap interval (questions resampled with replacement, both methods together)."""
    if len(a) != len(b) or not a:
        raise ValueError("paired rank lists must be equally long and not empty")
    diff = np.array([float(0 < x <= k) - float(0 < y <= k) for x, y in zip(a, b, strict=True)])
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(samples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def subset(scores: Scores, members: Sequence[int]) -> Scores:
    return Scores(tuple(scores.ranks[n] for n in members), scores.seconds_per_query)


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "n/a"


def quality_table(runs: dict[str, Scores], title: str) -> Table:
    table = Table(title=title)
    table.add_column("method")
    names = list(runs["hybrid"].metrics())
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("ms/query", justify="right")
    for mode, scores in runs.items():
        values = [f"{value:.3f}" for value in scores.metrics().values()]
        table.add_row(mode, *values, f"{scores.seconds_per_query * 1000:.1f}")
    best = {name: max(runs[mode].metrics()[name] for mode in SINGLE) for name in names}
    table.add_row(
        "best single (baseline)", *[f"{best[name]:.3f}" for name in names], "", style="dim"
    )
    hybrid = runs["hybrid"].metrics()
    table.add_row("hybrid vs best single", *[ratio(hybrid[name], best[name]) for name in names], "")
    return table


def slice_table(runs: dict[str, Scores], questions: Sequence[Question]) -> Table:
    table = Table(title="hit@5 by question kind and language")
    for column in ("kind", "lang", "questions", *MODES):
        table.add_column(column, justify="left" if column in ("kind", "lang") else "right")
    groups: dict[tuple[str, str], list[int]] = {}
    for n, question in enumerate(questions):
        groups.setdefault((question.kind, question.lang), []).append(n)
    for (kind, lang), members in sorted(groups.items()):
        cells = [
            f"{sum(0 < runs[mode].ranks[n] <= 5 for n in members) / len(members):.3f}"
            for mode in MODES
        ]
        table.add_row(kind, lang, str(len(members)), *cells)
    return table


def language_table(runs: dict[str, Scores], questions: Sequence[Question]) -> Table:
    table = Table(title="hit@5 / MRR by the question's language")
    for column in ("lang", "questions", *MODES):
        table.add_column(column, justify="left" if column == "lang" else "right")
    for lang in sorted({question.lang for question in questions}):
        members = [n for n, question in enumerate(questions) if question.lang == lang]
        cells = [
            f"{subset(runs[mode], members).hit(5):.3f} / {subset(runs[mode], members).mrr:.3f}"
            for mode in MODES
        ]
        table.add_row(lang, str(len(members)), *cells)
    return table


def separation_table(runs: dict[str, Scores]) -> Table:
    """Whether the set tells the methods apart: paired hit@5 differences with 95% CIs."""
    table = Table(title="hit@5 differences, paired bootstrap 95% CI (separated: CI excludes 0)")
    for column in ("comparison", "difference", "95% CI", "separated"):
        table.add_column(column, justify="left" if column == "comparison" else "right")
    for first, second in (("hybrid", "dense"), ("hybrid", "lexical"), ("dense", "lexical")):
        mean, low, high = paired_difference(runs[first].ranks, runs[second].ranks)
        table.add_row(
            f"{first} - {second}",
            f"{mean:+.3f}",
            f"[{low:+.3f}, {high:+.3f}]",
            "yes" if low > 0 or high < 0 else "no",
        )
    return table


async def score_embedder(
    settings: Settings,
    embedder: Embedder,
    memories: Sequence[Memory],
    questions: Sequence[Question],
    modes: Sequence[str] = ("dense", "hybrid"),
) -> dict[str, Scores]:
    """The labelled set indexed and searched with ``embedder`` in place of the configured
    one (same service code path as :func:`bench`); ``settings.data_dir`` must be migrated
    and empty."""
    infra = build_infrastructure(settings)
    clock = BenchClock(NOW)
    infra.clock.override(providers.Object(clock))
    infra.embedder.override(providers.Object(embedder))
    container = infra.loops().current()
    try:
        keys = await index(container, clock, memories)
        search = container.search()
        return {mode: await evaluate(search, questions, keys, mode) for mode in modes}
    finally:
        await infra.loops().close_current()
        await close_infrastructure(infra)


def sweep_grid() -> list[RetrievalWeights]:
    grid: list[RetrievalWeights] = []
    for rrf_k, dense, prior in itertools.product(
        (2.0, 5.0, 10.0, 20.0, 60.0), (1.0, 1.5, 2.0, 3.0, 4.0), (0.0, 0.05, 0.1, 0.2, 0.3)
    ):
        grid.append(
            RetrievalWeights(
                rrf_k=rrf_k,
                dense_weight=dense,
                lexical_weight=1.0,
                relevance_weight=round(1.0 - prior, 2),
                prior_weight=prior,
            )
        )
    return grid


async def sweep(
    container: Container, questions: Sequence[Question], keys: dict[int, str], top: int
) -> Table:
    embedder = QueryCache(container.infra.embedder())
    runs: list[tuple[RetrievalWeights, Scores]] = []
    base = container.infra.retrieval_weights()
    for weights in sweep_grid():
        search = SearchMemoriesUseCase(
            container.uow(),
            container.clock(),
            embedder,
            container.infra.vector_store(),
            replace(weights, dense_timeout_s=base.dense_timeout_s),
        )
        runs.append((weights, await evaluate(search, questions, keys, "hybrid")))
    runs.sort(key=lambda run: (run[1].hit(5), run[1].mrr, run[1].hit(1)), reverse=True)
    table = Table(title=f"Hybrid weight sweep: best {top} of {len(runs)} by hit@5, then MRR")
    for column in ("rrf_k", "dense w", "lexical w", "relevance w", "prior w"):
        table.add_column(column, justify="right")
    for name in ("hit@1", "hit@5", "hit@10", "MRR"):
        table.add_column(name, justify="right")
    for weights, scores in runs[:top]:
        table.add_row(
            f"{weights.rrf_k:g}",
            f"{weights.dense_weight:g}",
            f"{weights.lexical_weight:g}",
            f"{weights.relevance_weight:g}",
            f"{weights.prior_weight:g}",
            *[f"{value:.3f}" for value in scores.metrics().values()],
        )
    return table


def misses(runs: dict[str, Scores], questions: Sequence[Question]) -> list[str]:
    return [
        f"  {question.key} [{question.kind}] {question.query} "
        f"(dense {runs['dense'].ranks[n]}, lexical {runs['lexical'].ranks[n]}, "
        f"hybrid {runs['hybrid'].ranks[n]})"
        for n, question in enumerate(questions)
        if not 0 < runs["hybrid"].ranks[n] <= 5
    ]


async def bench(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    memories, questions = load_set(args.data)
    infra = build_infrastructure(settings)
    clock = BenchClock(NOW)
    infra.clock.override(providers.Object(clock))
    container = infra.loops().current()
    try:
        started = time.perf_counter()
        keys = await index(container, clock, memories)
        loading = time.perf_counter() - started
        search = container.search()
        runs = {mode: await evaluate(search, questions, keys, mode) for mode in MODES}
        weights = retrieval_weights(settings)
        console.print(
            f"embedder {infra.embedder().name}, store {settings.vector_store}, "
            f"{len(memories)} memories of {len({m.user for m in memories})} users indexed "
            f"in {loading:.1f} s\nweights: rrf_k {weights.rrf_k:g}, dense/lexical "
            f"{weights.dense_weight:g}/{weights.lexical_weight:g}, relevance/prior "
            f"{weights.relevance_weight:g}/{weights.prior_weight:g}",
            markup=False,
        )
        title = f"Retrieval on {len(questions)} questions, limit {LIMIT}"
        console.print(quality_table(runs, title))
        console.print(slice_table(runs, questions))
        console.print(language_table(runs, questions))
        console.print(separation_table(runs))
        for mode, scores in runs.items():
            if scores.degraded:
                console.print(f"warning: {scores.degraded} {mode} answers were degraded")
        best = max(runs[mode].hit(5) for mode in SINGLE)
        verdict = "PASS" if runs["hybrid"].hit(5) >= best else "FAIL"
        console.print(
            f"acceptance (hybrid hit@5 >= best single): {verdict} "
            f"({runs['hybrid'].hit(5):.3f} vs {best:.3f})"
        )
        if args.show_misses:
            for line in misses(runs, questions):
                console.print(line, markup=False)
        if args.sweep:
            console.print(await sweep(container, questions, keys, args.top))
        return 0 if verdict == "PASS" else 1
    finally:
        await infra.loops().close_current()
        await close_infrastructure(infra)


def settings_from(args: argparse.Namespace, data_dir: Path) -> Settings:
    defaults = RetrievalWeights()
    return Settings(
        data_dir=data_dir,
        embedder=args.embedder,
        vector_store=args.store,
        retrieval_rrf_k=pick(args.rrf_k, defaults.rrf_k),
        retrieval_dense_weight=pick(args.dense_weight, defaults.dense_weight),
        retrieval_lexical_weight=pick(args.lexical_weight, defaults.lexical_weight),
        retrieval_relevance_weight=pick(args.relevance_weight, defaults.relevance_weight),
        retrieval_prior_weight=pick(args.prior_weight, defaults.prior_weight),
        retrieval_dense_timeout_s=30.0,
    )


def pick(value: float | None, default: float) -> float:
    return default if value is None else value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--embedder", choices=("local", "hashing"), default="local")
    parser.add_argument("--store", choices=("qdrant-edge", "memory"), default="qdrant-edge")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the labelled set")
    parser.add_argument("--rrf-k", type=float, help="reciprocal rank fusion constant")
    parser.add_argument("--dense-weight", type=float)
    parser.add_argument("--lexical-weight", type=float)
    parser.add_argument("--relevance-weight", type=float)
    parser.add_argument("--prior-weight", type=float)
    parser.add_argument("--sweep", action="store_true", help="score a grid of hybrid weights")
    parser.add_argument("--top", type=int, default=15, help="sweep rows to print")
    parser.add_argument("--show-misses", action="store_true", help="hybrid misses at 5")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        settings = settings_from(args, Path(tmp))
        migrate(settings)
        return asyncio.run(bench(settings, args, Console(width=max(Console().width, 132))))


if __name__ == "__main__":
    raise SystemExit(main())
