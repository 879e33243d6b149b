"""``/search`` and ``/context``: ranked memories for the caller (docs/behaviour.md, "Search
and ranking")."""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Response, post
from litestar.params import JSONBody

from memvault.application.search.build_context import ContextQuery
from memvault.application.search.search_memories import SearchQuery
from memvault.entrypoints.http.deps import ContainerDep, PrincipalDep
from memvault.entrypoints.http.schemas import ContextIn, ContextOut, SearchIn, SearchOut, scored


@post(
    "/api/v1/memory/search",
    operation_id="search_memories",
    status_code=200,
    summary="Ranked memories",
    tags=("retrieval",),
)
async def search(
    data: JSONBody[SearchIn], container: ContainerDep, principal: PrincipalDep
) -> Response[SearchOut]:
    result = await container.search()(
        SearchQuery(
            user_id=principal.user_id,
            query=data.query,
            limit=data.limit,
            memory_types=data.memory_types or (),
            assistant_id=data.assistant_id,
            run_id=data.run_id,
            type_budget=None
            if data.type_budget is None
            else {kind.value: count for kind, count in data.type_budget.items()},
            metadata=data.metadata,
        )
    )
    return Response(
        SearchOut(items=[scored(hit) for hit in result.hits], degraded=result.degraded),
        headers=server_timing(result.stages),
    )


@post(
    "/api/v1/memory/context",
    operation_id="build_context",
    status_code=200,
    summary="The memory block to pin into the agent's prompt",
    tags=("retrieval",),
)
async def context(
    data: JSONBody[ContextIn], container: ContainerDep, principal: PrincipalDep
) -> Response[ContextOut]:
    result = await container.build_context()(
        ContextQuery(
            user_id=principal.user_id,
            query=data.query,
            conversation_id=data.conversation_id,
            assistant_id=data.assistant_id,
            run_id=data.run_id,
            limit=data.limit,
            render_mode=data.render_mode,
            max_tokens=data.max_tokens,
            language=data.language,
            metadata=data.metadata,
        )
    )
    return Response(
        ContextOut(
            text=result.text,
            items=[scored(hit) for hit in result.hits],
            degraded=result.degraded,
            skipped=result.skipped,
        ),
        headers=server_timing(result.stages),
    )


def server_timing(stages: Mapping[str, float]) -> dict[str, str]:
    """The search's own stage timings as a ``Server-Timing`` header (milliseconds):
    durations only, so it tells a client nothing it could not time itself."""
    if not stages:
        return {}
    return {"Server-Timing": ", ".join(f"{name};dur={ms:.3f}" for name, ms in stages.items())}
