"""The decision step applied inside a real transaction (docs/behaviour.md, "Decisions").

The writer gets a scripted judge, so each test chooses how the fact relates to each old
memory; the assertions read what was committed. One fact's failure is rolled back to
its SAVEPOINT on every dialect, leaving the other facts of the job written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.embedder.hashing import HashingEmbedder
from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.items import SqlMemoryItemRepository
from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from memvault.adapters.vector_store.memory import MemoryVectorStore
from memvault.application.extraction.deterministic_judge import DeterministicJudge
from memvault.application.extraction.write_memories import DecisionPolicy, JudgeFailed, MemoryWriter
from memvault.application.ports.memory_writer import WriteResult
from memvault.application.ports.metrics import Metric, NoMetrics
from memvault.application.ports.relation_judge import (
    Comparison,
    JudgeError,
    Judgement,
    Relation,
    RelationJudge,
)
from memvault.application.ports.repositories import ItemQuery, UnitOfWorkFactory
from memvault.domain.audit import AuditEntry, AuditTarget
from memvault.domain.decisions import Action
from memvault.domain.facts import CandidateFact, Fact, normalize_fact
from memvault.domain.jobs import ExtractPayload
from memvault.domain.memory import MemoryItem, MemoryStatus, MemoryType, VectorStatus

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
POISON = "I don't like sushi anymore"


class ScriptedJudge(RelationJudge):
    """Answers per old memory content; a memory it was not told about is unrelated."""

    def __init__(self, answers: dict[str, Judgement | Exception]) -> None:
        self._answers = answers
        self.asked: list[Comparison] = []

    async def judge(self, comparison: Comparison) -> Judgement:
        self.asked.append(comparison)
        answer = self._answers.get(
            comparison.memory_content, Judgement(relation=Relation.UNRELATED)
        )
        if isinstance(answer, Exception):
            raise answer
        return answer


class PoisonedItems(SqlMemoryItemRepository):
    """Inserting the poisoned content fails inside the database, after the fact's
    earlier statements ran (on PostgreSQL that aborts the transaction, savepoint aside)."""

    async def add(self, item: MemoryItem, *, sync_until: datetime | None = None) -> MemoryItem:
        if item.content == POISON:
            await self._conn.execute(text("SELECT no_such_column FROM memory_items"))
        return await super().add(item, sync_until=sync_until)


class PoisonedUnitOfWork(SqlUnitOfWork):
    async def __aenter__(self) -> PoisonedUnitOfWork:
        await super().__aenter__()
        self.items = PoisonedItems(self.connection)
        return self


@pytest.fixture
async def sqlite_uow(database_urls: dict[str, str]) -> AsyncIterator[SqlUnitOfWorkFactory]:
    engine = create_engine(database_urls["sqlite"], pool_size=2)
    yield SqlUnitOfWorkFactory(engine)
    await engine.dispose()


def fact(content: str, *, confidence: float = 0.8, importance: float = 0.85) -> Fact:
    normalised = normalize_fact(
        CandidateFact(
            memory_type="preference",
            content=content,
            title=content[:20],
            confidence=confidence,
            importance=importance,
        )
    )
    assert normalised is not None
    return normalised


def payload(user_id: str) -> ExtractPayload:
    return ExtractPayload(
        user_id=user_id,
        conversation_id="conv-new",
        source_role="user",
        source_text="(the message)",
        occurred_at=NOW,
        idempotency_key="memory_extract_test",
    )


async def plant(
    uow: UnitOfWorkFactory, user_id: str, *contents: str, importance: Sequence[float] = ()
) -> list[int]:
    """Active preferences of the user, oldest first, each a minute newer than the last."""
    ids: list[int] = []
    async with uow() as tx:
        for n, content in enumerate(contents):
            stamp = NOW - timedelta(hours=1) + timedelta(minutes=n)
            item = MemoryItem(
                user_id=user_id,
                memory_type=MemoryType.PREFERENCE,
                title=content,
                content=content,
                confidence=0.7,
                importance=importance[n] if importance else 0.85,
                created_at=stamp,
                updated_at=stamp,
                vector_status=VectorStatus.SYNCED,
            )
            await tx.items.add(item)
            ids.append(item.id or 0)
        await tx.commit()
    return ids


async def write(
    uow: UnitOfWorkFactory, judge: RelationJudge, user_id: str, *facts: Fact
) -> WriteResult:
    writer = MemoryWriter(HashingEmbedder(64), MemoryVectorStore(), judge, DecisionPolicy())
    async with uow(read_only=True) as reader:
        decided = await writer.decide(reader, facts, payload(user_id), now=NOW)
    async with uow() as tx:
        result = await writer.apply(tx, decided, payload(user_id), source_event_id="evt-1", now=NOW)
        await tx.commit()
    return result


async def items_of(uow: UnitOfWorkFactory, user_id: str) -> list[MemoryItem]:
    """Every item of the user, whatever its status, oldest first."""
    async with uow() as tx:
        page = await tx.items.page(
            ItemQuery(user_id=user_id, statuses=frozenset(MemoryStatus), limit=100)
        )
    return sorted(page, key=lambda item: item.id or 0)


async def history(uow: UnitOfWorkFactory, user_id: str, item_id: int) -> list[AuditEntry]:
    async with uow() as tx:
        return await tx.audit.history(user_id, AuditTarget.MEMORY_ITEM, str(item_id))


async def by_id(uow: UnitOfWorkFactory, user_id: str, item_id: int) -> MemoryItem:
    async with uow() as tx:
        item = await tx.items.get(user_id, item_id)
    assert item is not None
    return item


async def test_a_fact_with_the_same_hash_as_an_active_memory_is_not_written_nor_judged(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    (old,) = await plant(sqlite_uow, user_id, "I love sushi")
    judge = ScriptedJudge({})

    result = await write(sqlite_uow, judge, user_id, fact("  I LOVE   sushi "))

    assert result.actions == [Action.NONE]
    assert [i.id for i in await items_of(sqlite_uow, user_id)] == [old]
    assert judge.asked == []


async def test_a_conflict_deletes_the_first_conflicting_memory_then_adds_the_fact(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    first, second = await plant(
        sqlite_uow, user_id, "I love sushi", "Sushi is my favourite food", importance=[0.9, 0.5]
    )
    conflict = Judgement(relation=Relation.CONFLICT, reason="changed her mind")
    judge = ScriptedJudge({"I love sushi": conflict, "Sushi is my favourite food": conflict})

    result = await write(sqlite_uow, judge, user_id, fact("I don't like sushi anymore"))

    assert result.actions == [Action.DELETE]
    assert (await by_id(sqlite_uow, user_id, first)).status is MemoryStatus.DELETED
    assert (await by_id(sqlite_uow, user_id, second)).status is MemoryStatus.ACTIVE
    (added,) = [i for i in await items_of(sqlite_uow, user_id) if i.id not in (first, second)]
    assert (added.content, added.status) == ("I don't like sushi anymore", MemoryStatus.ACTIVE)
    assert result.memory_ids == (added.id,)
    (deleted,) = await history(sqlite_uow, user_id, first)
    assert deleted.operation == "delete"
    assert deleted.after is None
    assert (
        deleted.reason
        == f"决策层删除: 旧记忆(id={first})与新事实冲突，删除后新增: changed her mind"
    )
    (created,) = await history(sqlite_uow, user_id, added.id or 0)
    assert (created.operation, created.reason) == (
        "create",
        "决策层新增: 冲突旧记忆已删除，写入新事实",
    )


async def test_an_update_rewrites_the_memory_in_place_with_the_merged_text(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    (old,) = await plant(sqlite_uow, user_id, "Likes coffee")
    merged = Judgement(
        relation=Relation.UPDATE,
        updated_content="  Likes   coffee, black  with no sugar ",
        updated_title="Black coffee",
        reason="more precise",
    )
    judge = ScriptedJudge({"Likes coffee": merged})

    result = await write(
        sqlite_uow, judge, user_id, fact("Likes black coffee", confidence=0.95, importance=0.9)
    )

    assert result.actions == [Action.UPDATE]
    item = await by_id(sqlite_uow, user_id, old)
    assert (item.content, item.title) == ("Likes coffee, black with no sugar", "Black coffee")
    assert (item.confidence, item.importance) == (0.95, 0.9)
    assert (item.vector_status, item.updated_at) == (VectorStatus.PENDING, NOW)
    assert [i.id for i in await items_of(sqlite_uow, user_id)] == [old]
    (updated,) = await history(sqlite_uow, user_id, old)
    assert updated.operation == "update"
    assert updated.reason == f"决策层更新: 更新旧记忆(id={old}): more precise"
    assert updated.before is not None
    assert updated.before["content"] == "Likes coffee"
    assert updated.after is not None
    assert updated.after["content"] == item.content


async def test_an_update_without_merged_content_is_ignored(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    (old,) = await plant(sqlite_uow, user_id, "Likes coffee")
    judge = ScriptedJudge(
        {"Likes coffee": Judgement(relation=Relation.UPDATE, updated_content=" ")}
    )

    result = await write(sqlite_uow, judge, user_id, fact("Likes black coffee"))

    assert result.actions == [Action.ADD]
    assert (await by_id(sqlite_uow, user_id, old)).content == "Likes coffee"
    assert len(await items_of(sqlite_uow, user_id)) == 2


async def test_a_failed_judgement_fails_the_decision_so_the_job_retries(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    failing, other = await plant(sqlite_uow, user_id, "Likes coffee", "Enjoys coffee")
    judge = ScriptedJudge(
        {
            "Likes coffee": JudgeError("LLM call timed out after 30 s"),
            "Enjoys coffee": Judgement(relation=Relation.CONFLICT, reason="no more coffee"),
        }
    )

    with pytest.raises(JudgeFailed, match="timed out"):
        await write(sqlite_uow, judge, user_id, fact("Likes coffee a lot"))

    assert [i.id for i in await items_of(sqlite_uow, user_id)] == [failing, other]
    assert all(i.status is MemoryStatus.ACTIVE for i in await items_of(sqlite_uow, user_id))


async def test_an_expired_duplicate_is_replaced_by_the_new_fact_and_audited(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    (old,) = await plant(sqlite_uow, user_id, "Likes coffee")
    async with sqlite_uow() as tx:
        item = await tx.items.get(user_id, old)
        assert item is not None
        item.ttl_at = NOW - timedelta(seconds=1)
        await tx.items.update(item)
        await tx.commit()
    judge = ScriptedJudge({})  # an expired item is never a candidate: never judged

    result = await write(sqlite_uow, judge, user_id, fact("Likes coffee"))

    assert result.actions == [Action.ADD]
    (new,) = result.memory_ids
    assert [(o.outcome, o.memory_id) for o in result.outcomes] == [("added", new)]
    assert (await by_id(sqlite_uow, user_id, old)).status is MemoryStatus.DELETED
    (deleted,) = await history(sqlite_uow, user_id, old)
    assert "过期" in deleted.reason
    assert judge.asked == []


async def test_each_fact_gets_its_outcome(sqlite_uow: SqlUnitOfWorkFactory, user_id: str) -> None:
    (old,) = await plant(sqlite_uow, user_id, "Likes coffee")
    judge = ScriptedJudge({"Likes coffee": Judgement(relation=Relation.UNRELATED, reason="")})

    result = await write(sqlite_uow, judge, user_id, fact("Likes coffee"), fact("Loves jazz"))

    (jazz,) = result.memory_ids
    assert [(o.outcome, o.memory_id) for o in result.outcomes] == [
        ("duplicate", None),
        ("added", jazz),
    ]
    assert old != jazz


async def test_audit_reasons_are_cut_to_255_characters(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    (old,) = await plant(sqlite_uow, user_id, "Likes coffee")
    judge = ScriptedJudge(
        {"Likes coffee": Judgement(relation=Relation.CONFLICT, reason="理" * 400)}
    )

    await write(sqlite_uow, judge, user_id, fact("Hates coffee now"))

    (deleted,) = await history(sqlite_uow, user_id, old)
    assert len(deleted.reason) == 255
    assert deleted.reason.startswith(f"决策层删除: 旧记忆(id={old})与新事实冲突，删除后新增: 理理")


async def test_one_failing_fact_is_rolled_back_alone_and_the_others_are_written(
    engine: AsyncEngine, user_id: str
) -> None:
    uow = lambda read_only=False: PoisonedUnitOfWork(engine, read_only=read_only)  # noqa: E731
    (sushi,) = await plant(uow, user_id, "I love sushi")
    judge = DeterministicJudge(duplicate_threshold=0.9)

    result = await write(uow, judge, user_id, fact(POISON), fact("I love jazz"))

    assert result.actions == [Action.ADD]
    assert (await by_id(uow, user_id, sushi)).status is MemoryStatus.ACTIVE
    assert await history(uow, user_id, sushi) == []
    contents = sorted(i.content for i in await items_of(uow, user_id))
    assert contents == ["I love jazz", "I love sushi"]
    (jazz,) = result.memory_ids
    assert [e.operation for e in await history(uow, user_id, jazz)] == ["create"]


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(64)
        self.documents: list[str] = []

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.documents.extend(texts)
        return await super().embed_documents(texts)


async def test_a_fact_of_a_type_the_user_has_no_memory_of_is_decided_without_the_embedder(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    """Nothing visible of that type: no candidate can come back, so the model is not run
    on the job's critical path (the vector sync embeds the new memory after commit)."""
    embedder = CountingEmbedder()
    writer = MemoryWriter(embedder, MemoryVectorStore(), ScriptedJudge({}), DecisionPolicy())
    async with sqlite_uow(read_only=True) as reader:
        decided = await writer.decide(reader, [fact("I love sushi")], payload(user_id), now=NOW)
    assert [decision.action for _, decision in decided] == [Action.ADD]
    assert embedder.documents == []

    await plant(sqlite_uow, user_id, "I like green tea")
    async with sqlite_uow(read_only=True) as reader:
        await writer.decide(reader, [fact("I love sushi")], payload(user_id), now=NOW)
    assert embedder.documents[0] == "I love sushi", "a user with memories is recalled as before"


class RecordingMetrics(NoMetrics):
    def __init__(self) -> None:
        self.counted: list[tuple[Metric, dict[str, str]]] = []

    def count(self, metric: Metric, value: float = 1, /, **labels: str) -> None:
        self.counted.append((metric, labels))


async def test_a_store_this_process_has_not_prepared_is_prepared_not_skipped(
    sqlite_uow: SqlUnitOfWorkFactory, user_id: str
) -> None:
    """A fresh worker (or a restarted service) has written nothing yet, so its store is not
    prepared: recall prepares it and asks again instead of falling back to the database."""
    await plant(sqlite_uow, user_id, "I like green tea")
    metrics = RecordingMetrics()
    writer = MemoryWriter(
        HashingEmbedder(64),
        MemoryVectorStore(),
        ScriptedJudge({}),
        DecisionPolicy(),
        metrics=metrics,
    )
    async with sqlite_uow(read_only=True) as reader:
        await writer.decide(reader, [fact("I love sushi")], payload(user_id), now=NOW)
    assert Metric.DECISION_FALLBACK_TOTAL not in [metric for metric, _ in metrics.counted]
