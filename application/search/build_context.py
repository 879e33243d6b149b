"""``/context``: retrieval for the agent's next turn, rendered (docs/behaviour.md, "Search
and ranking")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from memvault.application.ports.clock import Clock
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.search.render import RenderMode, language_of, render_within
from memvault.application.search.search_memories import SearchMemoriesUseCase, SearchQuery
from memvault.domain.errors import InvalidValue
from memvault.domain.ranking import Scored

ACKNOWLEDGEMENTS = frozenset(
    {
        *("好", "好的", "嗯", "嗯嗯", "行", "可以", "收到", "明白", "确认", "取消"),
        *("是", "不是", "对", "不对", "ok", "okay", "yes", "no"),
        *("thanks", "thank you", "thx", "sure", "k", "yep", "nope", "got it", "cool"),
    }
)
DEFAULT_LIMIT = 10
CONTEXT_TYPE_BUDGET = {"constraint": 5, "preference": 5, "fact": 5}
"""A prompt block keeps the reference's budget: at most 5 of each type, 15 in all."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextQuery:
    user_id: str
    query: str
    conversation_id: str | None = None
    assistant_id: str | None = None
    run_id: str | None = None
    limit: int | None = None
    render_mode: str = "flat"
    max_tokens: int | None = None
    language: str | None = None
    metadata: Mapping[str, Any] | None = None
    """Equality filter on metadata (every pair must match)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    text: str
    hits: list[Scored]
    degraded: bool
    skipped: bool = False
    stages: Mapping[str, float] = field(default_factory=dict)
    """The search's stage timings (see ``SearchResult.stages``)."""


def is_acknowledgement(text: str) -> bool:
    return text.strip().lower().rstrip("!.。！~ ") in ACKNOWLEDGEMENTS or not text.strip()


class BuildContextUseCase:
    def __init__(
        self,
        search: SearchMemoriesUseCase,
        *,
        type_budget: Mapping[str, int] = CONTEXT_TYPE_BUDGET,
        clock: Clock | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._type_budget = dict(type_budget)
        self._search = search
        self._clock = clock
        self._metrics = metrics

    async def __call__(self, query: ContextQuery) -> Context:
        try:
            mode = RenderMode("typed" if query.render_mode == "typed_v2" else query.render_mode)
        except ValueError as error:
            raise InvalidValue("render_mode must be flat or typed", field="render_mode") from error
        if query.max_tokens is not None and query.max_tokens < 1:
            raise InvalidValue("max_tokens must be at least 1", field="max_tokens")
        if query.language not in (None, "zh", "en"):
            raise InvalidValue("language must be zh or en", field="language")
        if is_acknowledgement(query.query):
            return Context(text="", hits=[], degraded=False, skipped=True)
        result = await self._search(
            SearchQuery(
                user_id=query.user_id,
                query=query.query,
                limit=DEFAULT_LIMIT if query.limit is None else query.limit,
                assistant_id=query.assistant_id,
                run_id=query.run_id,
                type_budget=self._type_budget,
                metadata=query.metadata,
            )
        )
        language = query.language or language_of(query.query)
        text, kept = render_within(
            result.hits,
            mode,
            language,
            query.max_tokens,
            None if self._clock is None else self._clock.now(),
        )
        self._metrics.count(
            Metric.INJECT_ITEM_TOTAL, len(kept), inject_mode=mode.value, source="retrieve"
        )
        return Context(text=text, hits=kept, degraded=result.degraded, stages=result.stages)
