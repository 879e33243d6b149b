"""Identifiers compare byte for byte on every dialect.

MySQL/MariaDB's default collations would make ``'alice' = 'ALICE' = 'alice ' = 'alicé'``;
SQLite and PostgreSQL never do. Each repository must return the same rows everywhere:
a user id, a key or a term that differs only by case, accent, Unicode normalisation or a
trailing space is a different one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.idempotency import SqlIdempotencyStore
from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from memvault.application.ports.idempotency import Claim
from memvault.application.ports.repositories import ItemQuery, ScopeQuery
from memvault.domain.audit import AuditEntry, AuditOperation, AuditTarget, OperatorType
from memvault.domain.conversation import AgentSnapshot, ChatMessage, Role
from memvault.domain.jobs import ExtractionJob
from memvault.domain.memory import MemoryStatus, MemoryType
from memvault.domain.settings import MemorySettings
from tests.contract.test_repositories import NOW, add, make_item


def lookalikes(base: str) -> list[str]:
    """Ids that a case- and accent-insensitive, space-padding collation calls ``base``.

    ``base`` must end in ``e`` (so that it has an accented twin).
    """
    assert base.endswith("e")
    return [
        base.upper(),
        base + " ",
        base[:-1] + "\u00e9",  # NFC é
        base[:-1] + "e\u0301",  # NFD é: e + combining acute
    ]


@pytest.fixture
def alice() -> str:
    return f"u{uuid.uuid4().hex[:10]}-alice"


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


async def test_item_reads_for_a_user_never_return_a_lookalike_users_items(
    uow: SqlUnitOfWorkFactory, alice: str
):
    others = await add(uow, *(make_item(other, "Drinks green tea") for other in lookalikes(alice)))
    (mine,) = await add(uow, make_item(alice, "Drinks green tea"))
    other_ids = {item.id or 0 for item in others}
    (hash_,) = {item.content_hash for item in [mine, *others]}
    scope = ScopeQuery(user_id=alice, now=NOW + timedelta(seconds=1))
    async with uow(read_only=True) as tx:
        page = await tx.items.page(ItemQuery(user_id=alice, statuses=frozenset(MemoryStatus)))
        many = await tx.items.get_many(alice, [mine.id or 0, *other_ids])
        by_hash = await tx.items.find_by_hash(alice, MemoryType.PREFERENCE, hash_ or "")
        visible = await tx.items.scope(scope)
        lexical = await tx.items.lexical(scope, ["green", "tea"])
        duplicated = await tx.items.duplicated(user_id=alice, limit=None)
        strangers = [await tx.items.get(alice, other) for other in other_ids]
    assert [i.id for i in page] == [mine.id]
    assert [i.id for i in many] == [mine.id]
    assert [i.id for i in by_hash] == [mine.id]
    assert [i.id for i in visible] == [mine.id]
    assert {p.item_id for p in lexical.postings} == {mine.id}
    assert lexical.documents == 1
    assert duplicated == []
    assert strangers == [None] * len(other_ids)
    for other, item in zip(lookalikes(alice), others, strict=True):
        async with uow(read_only=True) as tx:
            assert await tx.items.get(other, mine.id or 0) is None
            assert [i.id for i in await tx.items.get_many(other, [mine.id or 0])] == []
            assert (await tx.items.get(other, item.id or 0)) is not None


async def test_terms_that_differ_only_by_accent_are_two_postings(uow: SqlUnitOfWorkFactory):
    (item,) = await add(
        uow, make_item(f"u{uuid.uuid4().hex[:10]}", "cafe café CAFÉ", title="drinks")
    )
    scope = ScopeQuery(user_id=item.user_id, now=NOW + timedelta(seconds=1))
    async with uow(read_only=True) as tx:
        plain = await tx.items.lexical(scope, ["cafe"])
        accented = await tx.items.lexical(scope, ["café"])
    assert [(p.term, p.tf) for p in plain.postings] == [("cafe", 1)]
    assert [(p.term, p.tf) for p in accented.postings] == [("café", 2)]


async def test_settings_and_snapshots_of_lookalike_users_are_separate_rows(
    uow: SqlUnitOfWorkFactory, alice: str
):
    users = [alice, *lookalikes(alice)]
    async with uow() as tx:
        for n, user in enumerate(users):
            await tx.settings.upsert(
                MemorySettings(user_id=user, memory_enabled=n % 2 == 0, updated_at=NOW)
            )
            await tx.snapshots.upsert(
                AgentSnapshot(
                    user_id=user,
                    conversation_id="c-" + user,
                    phase=f"p{n}",
                    snapshot_json="{}",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        await tx.commit()
    async with uow(read_only=True) as tx:
        for n, user in enumerate(users):
            settings = await tx.settings.get(user)
            assert settings is not None
            assert (settings.user_id, settings.memory_enabled) == (user, n % 2 == 0)
            snapshot = await tx.snapshots.get(user, "c-" + user)
            assert snapshot is not None
            assert (snapshot.user_id, snapshot.phase) == (user, f"p{n}")
            if user != alice:
                assert await tx.snapshots.get(alice, "c-" + user) is None
                assert await tx.snapshots.get(user, "c-" + alice) is None


async def test_chat_messages_jobs_and_events_with_lookalike_keys_are_all_stored(
    uow: SqlUnitOfWorkFactory, alice: str
):
    keys = [alice, *lookalikes(alice)]
    async with uow() as tx:
        stored = [
            await tx.chat.add(
                ChatMessage(
                    user_id=user,
                    conversation_id=alice,
                    message_id=alice if user == alice else user,
                    role=Role.USER,
                    content="hi",
                    occurred_at=NOW,
                )
            )
            for user in keys
        ]
        job_ids = [
            await tx.jobs.add_unless_exists(
                ExtractionJob(
                    user_id=alice,
                    idempotency_key=key,
                    payload_json="{}",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            for key in keys
        ]
        events = [await tx.events.record_consumed(key, "t", now=NOW) for key in keys]
        await tx.commit()
    assert stored == [True] * len(keys)
    assert None not in job_ids
    assert len(set(job_ids)) == len(keys)
    assert events == [True] * len(keys)
    async with uow(read_only=True) as tx:
        assert [await tx.jobs.id_for_key(key) for key in keys] == job_ids


async def test_idempotency_keys_of_lookalike_users_and_keys_never_replay(
    engine: AsyncEngine, alice: str
):
    store = SqlIdempotencyStore(engine)
    now = datetime.now(UTC)
    first = [
        await store.begin(user, "key", "h", now=now, ttl=timedelta(hours=1))
        for user in [alice, *lookalikes(alice)]
    ]
    keys = [
        await store.begin(alice, key, "h", now=now, ttl=timedelta(hours=1))
        for key in lookalikes("same-key-e")
    ]
    assert {claim.outcome for claim in first + keys} == {Claim.STARTED}


async def test_audit_history_of_a_user_never_holds_a_lookalike_users_entries(
    uow: SqlUnitOfWorkFactory, alice: str
):
    users = [alice, *lookalikes(alice)]
    async with uow() as tx:
        for user in users:
            await tx.audit.add(
                AuditEntry(
                    target_type=AuditTarget.SETTINGS,
                    target_id=alice,
                    user_id=user,
                    operation=AuditOperation.UPDATE,
                    operator_type=OperatorType.USER,
                    operator_id=user,
                    reason=f"by {user}",
                    created_at=NOW,
                )
            )
        await tx.commit()
    async with uow(read_only=True) as tx:
        for user in users:
            entries = await tx.audit.history(user, AuditTarget.SETTINGS, alice)
            assert [(e.user_id, e.operator_id, e.reason) for e in entries] == [
                (user, user, f"by {user}")
            ]
        assert await tx.audit.history(alice, AuditTarget.SETTINGS, alice.upper()) == []
