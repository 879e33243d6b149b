"""Ranking rules of the read path (docs/behaviour.md, "Search and ranking")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from memvault.domain.memory import MemoryItem, MemoryType
from memvault.domain.text import clamp01, normalize_content

TYPE_BONUS = {MemoryType.CONSTRAINT: 0.15, MemoryType.PREFERENCE: 0.10, MemoryType.FACT: 0.0}
PRIOR_MAX = 0.35 + 0.30 + 0.20 + 0.10 + 0.15
TYPE_BUDGET = {MemoryType.CONSTRAINT: 5, MemoryType.PREFERENCE: 5, MemoryType.FACT: 5}
TYPE_LABEL = {MemoryType.PREFERENCE: "偏好", MemoryType.CONSTRAINT: "约束", MemoryType.FACT: "事实"}


def recency(item: MemoryItem, now: datetime) -> float:
    """Upstream's recency buckets on when the item was said (``occurred_at``); rows older
    than that column fall back to ``updated_at``, else ``created_at``."""
    moment = item.occurred_at or item.updated_at or item.created_at
    if moment is None or moment > now:
        return 0.5
    age = now - moment
    for limit, score in (
        (timedelta(hours=24), 1.0),
        (timedelta(days=7), 0.85),
        (timedelta(days=30), 0.65),
        (timedelta(days=90), 0.45),
    ):
        if age <= limit:
            return score
    return 0.25


def prior(item: MemoryItem, now: datetime) -> float:
    """The reference's hybrid score, scaled to 0..1."""
    raw = (
        0.35 * clamp01(item.importance)
        + 0.30 * clamp01(item.confidence)
        + 0.20 * recency(item, now)
        + 0.10 * (1.0 if item.is_explicit else 0.0)
        + TYPE_BONUS[item.memory_type]
    )
    return raw / PRIOR_MAX


@dataclass(frozen=True, slots=True, kw_only=True)
class Scored:
    item: MemoryItem
    score: float


def dedupe(items: Iterable[MemoryItem]) -> list[MemoryItem]:
    """Drop repeats by id, then by content hash, then by type and text (upstream's rule): of
    two copies the one with higher importance, then confidence, stays, in the place of the
    first."""
    result: list[MemoryItem] = []
    position: dict[tuple[MemoryType, str], int] = {}
    seen_ids: set[int] = set()
    for item in items:
        if item.id is not None:
            if item.id in seen_ids:
                continue
            seen_ids.add(item.id)
        keys = [
            (item.memory_type, "#" + (item.content_hash or "")),
            (item.memory_type, item.normalized_content or normalize_content(item.title)),
        ]
        at = next((position[k] for k in keys if k in position), None)
        if at is None:
            at = len(result)
            result.append(item)
        elif (item.importance, item.confidence) > (result[at].importance, result[at].confidence):
            result[at] = item
        for key in keys:
            position.setdefault(key, at)
    return result


def apply_budget(
    ranked: Sequence[Scored],
    *,
    limit: int,
    budget: Mapping[MemoryType, int] | None = TYPE_BUDGET,
) -> list[Scored]:
    """The first ``limit`` entries, at most ``budget[type]`` of each type the budget
    names, and, when it names every type, at most the budget's sum in all (the
    reference's 5/5/5, total 15, for ``/context``). ``None``: no per-type budget."""
    budget = budget or {}
    cap = limit
    if set(budget) >= set(MemoryType):
        cap = min(limit, sum(budget.values()))
    taken = dict.fromkeys(MemoryType, 0)
    chosen: list[Scored] = []
    for entry in ranked:
        kind = entry.item.memory_type
        if kind in budget and taken[kind] >= budget[kind]:
            continue
        taken[kind] += 1
        chosen.append(entry)
        if len(chosen) >= cap:
            break
    return chosen


def reciprocal_rank_fusion(
    rankings: Iterable[Sequence[int]], *, k: float = 60.0
) -> dict[int, float]:
    """``Σ 1/(k + rank)`` over every ranking an id appears in (ranks from 1)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item_id in enumerate(ranking, start=1):
            fused[item_id] = fused.get(item_id, 0.0) + 1.0 / (k + rank)
    return fused
