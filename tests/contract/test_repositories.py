"""The repository contract: every SQL dialect behaves the same (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from memvault.application.ports.repositories import ItemCursor, ItemQuery
from memvault.domain.audit import AuditEntry, AuditOperation, AuditTarget, OperatorType
from memvault.domain.memory import MemoryItem, MemoryStatus, MemoryType, Scope
from memvault.domain.settings import MemorySettings

NOW = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
ALL = frozenset(MemoryStatus)


def make_item(user_id: str, content: str = "I love sushi", **fields: object) -> MemoryItem:
    values: dict[str, object] = {
        "user_id": user_id,
        "memory_type": MemoryType.PREFERENCE,
        "title": content[:24],
        "content": content,
        "confidence": 0.8,
        "importance": 0.5,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return MemoryItem(**values)  # type: ignore[arg-type]


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


async def add(uow: SqlUnitOfWorkFactory, *items: MemoryItem) -> list[MemoryItem]:
    async with uow() as tx:
        for item in items:
            await tx.items.add(item)
        await tx.commit()
    return list(items)


async def test_an_added_item_reads_back_with_every_field(uow: SqlUnitOfWorkFactory, user_id: str):
    ttl = NOW + timedelta(days=180)
    (item,) = await add(
        uow,
        make_item(
            user_id,
            "住在 上海",
            scope=Scope(conversation_id="c1", assistant_id="a1", run_id="r1"),
            memory_type=MemoryType.FACT,
            confidence=0.1234,
            importance=0.9876,
            sensitivity_level=2,
            is_explicit=True,
            ttl_at=ttl,
            source_message_id="m-1",
            source_event_id="e-1",
        ),
    )
    async with uow() as tx:
        stored = await tx.items.get(user_id, item.id or 0)
    assert stored is not None
    assert stored.id == item.id
    assert stored.snapshot() == item.snapshot()
    assert stored.updated_at == NOW
    assert stored.updated_at.tzinfo is not None


async def test_another_users_item_is_not_found(uow: SqlUnitOfWorkFactory, user_id: str):
    (item,) = await add(uow, make_item(user_id))
    async with uow() as tx:
        assert await tx.items.get("someone-else", item.id or 0) is None


async def test_leaving_without_commit_rolls_back(uow: SqlUnitOfWorkFactory, user_id: str):
    async with uow() as tx:
        await tx.items.add(make_item(user_id))
    async with uow() as tx:
        assert await tx.items.page(ItemQuery(user_id=user_id, statuses=ALL)) == []


async def test_an_error_inside_the_block_rolls_back(uow: SqlUnitOfWorkFactory, user_id: str):
    with pytest.raises(RuntimeError):
        async with uow() as tx:
            await tx.items.add(make_item(user_id))
            raise RuntimeError("boom")
    async with uow() as tx:
        assert await tx.items.page(ItemQuery(user_id=user_id, statuses=ALL)) == []


async def test_update_writes_the_changed_item(uow: SqlUnitOfWorkFactory, user_id: str):
    (item,) = await add(uow, make_item(user_id))
    async with uow() as tx:
        loaded = await tx.items.get(user_id, item.id or 0, for_update=True)
        assert loaded is not None
        loaded.delete(now=NOW + timedelta(seconds=1))
        await tx.items.update(loaded)
        await tx.commit()
    async with uow() as tx:
        stored = await tx.items.get(user_id, item.id or 0)
    assert stored is not None
    assert stored.status is MemoryStatus.DELETED
    assert stored.updated_at == NOW + timedelta(seconds=1)


async def test_list_filters_by_status_type_and_conversation(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    scoped = Scope(conversation_id="c1")
    other = Scope(conversation_id="c2")
    items = await add(
        uow,
        make_item(user_id, "a", scope=scoped),
        make_item(user_id, "b", scope=other),
        make_item(user_id, "c"),
        make_item(user_id, "d", memory_type=MemoryType.FACT, status=MemoryStatus.ARCHIVED),
        make_item(user_id, "e", status=MemoryStatus.DELETED),
        make_item("not-" + user_id, "f"),
    )

    async def contents(**query: object) -> set[str]:
        async with uow() as tx:
            found = await tx.items.page(ItemQuery(user_id=user_id, **query))  # type: ignore[arg-type]
        return {i.content for i in found}

    assert await contents(statuses=ALL) == {"a", "b", "c", "d", "e"}
    assert await contents(statuses=frozenset({MemoryStatus.ACTIVE})) == {"a", "b", "c"}
    assert await contents(statuses=ALL, memory_types=frozenset({MemoryType.FACT})) == {"d"}
    assert await contents(statuses=ALL, conversation_id="c1") == {"a", "c", "d", "e"}
    assert len(items) == 6


async def test_keyset_pages_visit_every_item_once_in_order(uow: SqlUnitOfWorkFactory, user_id: str):
    items = [
        make_item(
            user_id,
            f"item {n}",
            is_explicit=n % 3 == 0,
            importance=(n % 4) / 4,
            updated_at=NOW + timedelta(seconds=n % 2),
        )
        for n in range(23)
    ]
    await add(uow, *items)
    expected = sorted(
        items, key=lambda i: (i.is_explicit, i.importance, i.updated_at, i.id), reverse=True
    )
    seen: list[int] = []
    after: ItemCursor | None = None
    while True:
        async with uow() as tx:
            page = await tx.items.page(
                ItemQuery(user_id=user_id, statuses=ALL, limit=5, after=after)
            )
        if not page:
            break
        seen += [i.id or 0 for i in page]
        last = page[-1]
        assert last.updated_at is not None
        after = ItemCursor(
            is_explicit=last.is_explicit,
            importance=last.importance,
            updated_at=last.updated_at,
            id=last.id or 0,
        )
    assert seen == [i.id for i in expected]


async def test_audit_history_is_per_target_and_oldest_first(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    def entry(target: str, operation: AuditOperation, minute: int) -> AuditEntry:
        return AuditEntry.record(
            target_type=AuditTarget.MEMORY_ITEM,
            target_id=target,
            user_id=user_id,
            operation=operation,
            operator_type=OperatorType.USER,
            reason=None,
            default_reason="why",
            before={"content": "前"},
            after={"content": "後"},
            now=NOW + timedelta(minutes=minute),
        )

    async with uow() as tx:
        await tx.audit.add(entry("1", AuditOperation.CREATE, 0))
        await tx.audit.add(entry("2", AuditOperation.CREATE, 1))
        await tx.audit.add(entry("1", AuditOperation.DELETE, 2))
        await tx.commit()
    async with uow() as tx:
        history = await tx.audit.history(user_id, AuditTarget.MEMORY_ITEM, "1")
        foreign = await tx.audit.history("x" + user_id, AuditTarget.MEMORY_ITEM, "1")
    assert [e.operation for e in history] == [AuditOperation.CREATE, AuditOperation.DELETE]
    assert history[0].before == {"content": "前"}
    assert history[1].created_at == NOW + timedelta(minutes=2)
    assert foreign == []


async def test_settings_are_absent_until_written_then_overwritten(
    uow: SqlUnitOfWorkFactory, user_id: str
):
    async with uow() as tx:
        assert await tx.settings.get(user_id) is None
        await tx.settings.upsert(MemorySettings(user_id=user_id, updated_at=NOW))
        await tx.commit()
    changed = MemorySettings(
        user_id=user_id, memory_enabled=False, sensitive_memory_enabled=True, updated_at=NOW
    )
    async with uow() as tx:
        await tx.settings.upsert(changed)
        await tx.commit()
    async with uow() as tx:
        assert await tx.settings.get(user_id) == changed
