"""Metadata filters run inside the SQL of every dialect (docs/behaviour.md, "Metadata"):
a lexical search, a scope read and a list page filtered to 1% of a user's memories
find every matching memory (recall 1.0) and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from memvault.application.ports.repositories import ItemQuery, ScopeQuery
from memvault.application.search.bm25 import bm25_ranking
from memvault.domain.lexical import terms
from memvault.domain.memory import MemoryItem, MemoryStatus
from memvault.domain.metadata import filter_tokens

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TOTAL = 400


def item(user_id: str, n: int, metadata: dict[str, str | int | bool]) -> MemoryItem:
    return MemoryItem.create_manual(
        user_id=user_id,
        memory_type="fact",
        content=f"green tea note number {n} {'rare' if n % 7 == 0 else 'common'}",
        metadata=metadata,
        now=NOW - timedelta(minutes=n),
    )


def tags(n: int) -> dict[str, str | int | bool]:
    return {"project": "rare" if n % 100 == 0 else "common", "n": n % 3, "pinned": n % 200 == 0}


async def test_filtered_lexical_scope_and_list_keep_exactly_the_matching_items(
    engine: AsyncEngine, user_id: str
) -> None:
    other = user_id + "-other"
    ids: dict[int, int] = {}
    async with SqlUnitOfWork(engine) as uow:
        for n in range(TOTAL):
            added = await uow.items.add(item(user_id, n, tags(n)))
            assert added.id is not None
            ids[n] = added.id
        for n in range(0, TOTAL, 100):  # another user's matching items never leak
            await uow.items.add(item(other, n, tags(n)))
        await uow.commit()

    for wanted in ({"project": "rare"}, {"project": "rare", "pinned": True}, {"n": 1.0}):
        tokens = filter_tokens(wanted)
        expected = {ids[n] for n in range(TOTAL) if all(tags(n)[k] == v for k, v in wanted.items())}
        scope = ScopeQuery(user_id=user_id, now=NOW, metadata_tokens=tokens, limit=1000)
        async with SqlUnitOfWork(engine, read_only=True) as uow:
            listed = await uow.items.page(
                ItemQuery(
                    user_id=user_id,
                    statuses=frozenset({MemoryStatus.ACTIVE}),
                    metadata_tokens=tokens,
                    limit=1000,
                )
            )
            scoped = await uow.items.scope(scope)
            query_terms = terms("green tea rare")
            matches = await uow.items.lexical(scope, query_terms)
        assert {i.id for i in listed} == expected
        assert {i.id for i in scoped} == expected
        assert matches.documents == len(expected)
        ranked = [item_id for item_id, _ in bm25_ranking(matches, query_terms)]
        assert set(ranked) == expected  # every kept item holds "green tea": recall 1.0

    async with SqlUnitOfWork(engine) as uow:  # an edit rewrites the index
        first = await uow.items.get(user_id, ids[0], for_update=True)
        assert first is not None
        first.metadata = {"project": "moved"}
        await uow.items.update(first)
        await uow.commit()
    scope = ScopeQuery(user_id=user_id, now=NOW, metadata_tokens=filter_tokens({"project": "rare"}))
    async with SqlUnitOfWork(engine, read_only=True) as uow:
        assert ids[0] not in {i.id for i in await uow.items.scope(scope)}
        moved = ScopeQuery(
            user_id=user_id, now=NOW, metadata_tokens=filter_tokens({"project": "moved"})
        )
        assert [i.id for i in await uow.items.scope(moved)] == [ids[0]]
        stored = await uow.items.get(user_id, ids[0])
        assert stored is not None
        assert stored.metadata == {"project": "moved"}
