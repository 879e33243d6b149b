"""memvault as an MCP server: tools a model calls to remember, recall and correct what it
knows about the user. The tools speak to memvault through ``memvault_client``: over HTTP
for ``memvault mcp`` (stdio), in-process for the ``/mcp`` mount of the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from memvault_client import AsyncClient, JobTimeout, Memory, MemvaultError
from pydantic import BaseModel, Field

from memvault.application.search.search_memories import MAX_LIMIT as SEARCH_MAX

Clients = Callable[[Context], AbstractAsyncContextManager[AsyncClient]]
"""Gives the client that acts for the caller of a tool call."""

INSTRUCTIONS = (
    "Long-term memory about the user. Call `context` (or `recall`) before answering when "
    "past preferences, constraints or facts could matter; call `remember` when the user "
    "states something durable about themselves or asks you to remember it; call `forget` "
    "when they say a memory is wrong or ask you to drop it."
)
MemoryType = Literal["fact", "preference", "constraint"]
WAIT_S = 20.0


class MemoryOut(BaseModel):
    id: int
    content: str
    memory_type: str
    status: str
    score: float | None = None
    conversation_id: str | None = None

    @classmethod
    def of(cls, memory: Memory) -> MemoryOut:
        return cls(
            id=memory.id,
            content=memory.content,
            memory_type=memory.memory_type,
            status=memory.status,
            score=round(memory.score, 3) if memory.score is not None else None,
            conversation_id=memory.conversation_id,
        )


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: Annotated[str, Field(min_length=1, max_length=100_000)]


class RememberOut(BaseModel):
    stored: list[MemoryOut]
    """Memories now stored (for turns: those extracted so far)."""
    pending_jobs: list[str]
    """Turns still being read in the background (their job keys)."""


class RecallOut(BaseModel):
    memories: list[MemoryOut]
    degraded: bool


class ContextOut(BaseModel):
    text: str
    memory_ids: list[int]


class ListOut(BaseModel):
    memories: list[MemoryOut]
    more: bool


class ChangeOut(BaseModel):
    operation: str
    operator: str
    at: str | None
    content_before: str | None
    content_after: str | None


class HistoryOut(BaseModel):
    changes: list[ChangeOut]


@asynccontextmanager
async def _tool_errors() -> AsyncIterator[None]:
    """memvault's problems reach the model as a short tool error naming the code."""
    try:
        yield
    except MemvaultError as error:
        raise ToolError(f"{error.code}: {error.detail}") from error


def build_mcp_server(clients: Clients) -> MCPServer:
    server: MCPServer = MCPServer(name="memvault", instructions=INSTRUCTIONS)

    @server.tool()
    async def remember(
        ctx: Context,
        fact: Annotated[
            str | None,
            Field(description="One durable statement about the user, in their words."),
        ] = None,
        memory_type: Annotated[
            MemoryType, Field(description="preference, constraint (must/never) or fact.")
        ] = "fact",
        messages: Annotated[
            list[Turn] | None,
            Field(description="Chat turns to read; memvault extracts what is worth keeping."),
        ] = None,
        conversation_id: Annotated[str, Field(min_length=1, max_length=128)] = "mcp",
        wait: Annotated[
            bool, Field(description="Wait (up to 20 s) for memories extracted from messages.")
        ] = True,
    ) -> RememberOut:
        """Store a memory about the user: either `fact` (stored as given) or `messages`
        (the conversation's turns; durable facts are extracted from the user's turns).
        Use it when the user shares a lasting preference, constraint or personal fact,
        or asks you to remember something."""
        if (fact is None) == (messages is None):
            raise ToolError("give either `fact` or `messages`")
        async with clients(ctx) as mv, _tool_errors():
            if fact is not None:
                item = await mv.add(fact, memory_type=memory_type, is_explicit=True)
                return RememberOut(stored=[MemoryOut.of(item)], pending_jobs=[])
            turns = [turn.model_dump() for turn in messages or []]
            accepted = await mv.ingest_messages(conversation_id, turns)
            keys = [a.job_key for a in accepted if a.job_key]
            return await _extracted(mv, keys) if wait else RememberOut(stored=[], pending_jobs=keys)

    @server.tool()
    async def recall(
        ctx: Context,
        query: Annotated[str, Field(min_length=1, max_length=2000)],
        limit: Annotated[
            int,
            Field(ge=1, le=SEARCH_MAX, description="How many memories, at most (5 by default)."),
        ] = 5,
        memory_types: list[MemoryType] | None = None,
    ) -> RecallOut:
        """Search the user's memories for what bears on `query`, best first (score 0..1)."""
        async with clients(ctx) as mv, _tool_errors():
            options: dict[str, Any] = {"limit": limit}
            if memory_types:
                options["memory_types"] = memory_types
            found = await mv.search(query, **options)
        return RecallOut(memories=[MemoryOut.of(m) for m in found.items], degraded=found.degraded)

    @server.tool()
    async def context(
        ctx: Context,
        query: Annotated[str, Field(max_length=2000, description="The user's latest message.")],
        conversation_id: str | None = None,
        max_tokens: Annotated[int | None, Field(ge=1)] = None,
    ) -> ContextOut:
        """The memory block to keep in mind for answering `query`: a short text listing
        the relevant preferences, constraints and facts (empty when nothing applies)."""
        async with clients(ctx) as mv, _tool_errors():
            options: dict[str, Any] = {"conversation_id": conversation_id, "max_tokens": max_tokens}
            block = await mv.context(query, **{k: v for k, v in options.items() if v is not None})
        return ContextOut(text=block.text, memory_ids=[m.id for m in block.items])

    @server.tool(name="list")
    async def list_memories(
        ctx: Context,
        status: Literal["active", "deleted", "archived"] = "active",
        memory_type: MemoryType | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> ListOut:
        """List the user's memories (most important and recent first), e.g. to review
        them or to find the id of one to forget."""
        async with clients(ctx) as mv, _tool_errors():
            found: list[MemoryOut] = []
            async for memory in mv.list(status=status, memory_type=memory_type, page_size=limit):
                if len(found) == limit:
                    return ListOut(memories=found, more=True)
                found.append(MemoryOut.of(memory))
        return ListOut(memories=found, more=False)

    @server.tool()
    async def forget(
        ctx: Context, memory_id: int, reason: Annotated[str | None, Field(max_length=255)] = None
    ) -> MemoryOut:
        """Delete a memory that is wrong or that the user wants gone (it can be restored)."""
        async with clients(ctx) as mv, _tool_errors():
            return MemoryOut.of(await mv.delete(memory_id, reason=reason))

    @server.tool()
    async def restore(ctx: Context, memory_id: int) -> MemoryOut:
        """Bring back a memory that was forgotten by mistake."""
        async with clients(ctx) as mv, _tool_errors():
            return MemoryOut.of(await mv.restore(memory_id))

    @server.tool()
    async def history(ctx: Context, memory_id: int) -> HistoryOut:
        """How a memory came to be: every change, oldest first, with who made it."""
        async with clients(ctx) as mv, _tool_errors():
            entries = await mv.history(memory_id)
        return HistoryOut(
            changes=[
                ChangeOut(
                    operation=e.operation,
                    operator=f"{e.operator_type}:{e.operator_id or '-'}",
                    at=e.created_at.isoformat() if e.created_at else None,
                    content_before=(e.before or {}).get("content"),
                    content_after=(e.after or {}).get("content"),
                )
                for e in entries
            ]
        )

    return server


async def _extracted(mv: AsyncClient, keys: list[str]) -> RememberOut:
    stored: list[MemoryOut] = []
    pending: list[str] = []
    for key in keys:
        try:
            job = await mv.wait_for_job(key, timeout=WAIT_S)
        except JobTimeout:
            pending.append(key)
            continue
        stored += [MemoryOut.of(await mv.get(memory_id)) for memory_id in job.memory_ids]
    return RememberOut(stored=stored, pending_jobs=pending)
