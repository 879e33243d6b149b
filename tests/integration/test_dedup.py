"""Offline dedup cleanup (docs/behaviour.md, "Dedup"): active items repeating another one of
the same user, type and content hash are archived, all but one, through the use case, the
admin endpoint and ``memvault dedup``.

Duplicates are planted straight through the repository (the write path would never
make them) and indexed, so that the archived items' vectors can be seen to go.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from memvault.application.maintenance.dedup import DEFAULT_REASON, Dedup, DedupReport
from memvault.application.memory_items.change_item import SetItemStatus
from memvault.application.ports.repositories import ItemQuery
from memvault.application.ports.vector_store import VectorStore
from memvault.application.shared.documents import document_id
from memvault.container import Container, Infrastructure, Settings, build_infrastructure
from memvault.domain.audit import AuditEntry, AuditTarget, OperatorType
from memvault.domain.memory import MemoryItem, MemoryStatus, MemoryType, VectorStatus
from memvault.entrypoints.cli import app as cli
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.databases import fresh_database

SECRET = "dedup-secret-" + "d" * 64
DEDUP = "/api/v1/admin/dedup"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Node:
    infra: Infrastructure
    container: Container

    @property
    def store(self) -> VectorStore:
        return self.infra.vector_store()  # type: ignore[no-any-return]


def settings_for(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
    )


@pytest.fixture
async def node(tmp_path: Path, database_urls: dict[str, str]) -> AsyncIterator[Node]:
    infra = build_infrastructure(settings_for(tmp_path, database_urls["sqlite"]))
    yield Node(infra, infra.loops().current())
    await infra.loops().close_current()


@dataclass(frozen=True, slots=True, kw_only=True)
class Copy:
    """One planted item: its age in hours and its scores."""

    hours_ago: float = 1.0
    confidence: float = 0.8
    importance: float = 0.8
    content: str = "I love sushi"
    memory_type: MemoryType = MemoryType.PREFERENCE


async def plant(container: Container, user_id: str, *copies: Copy) -> list[int]:
    """Store the copies in order (ids ascending) and index them."""
    items: list[MemoryItem] = []
    async with container.uow()() as tx:
        for copy in copies:
            stamp = NOW - timedelta(hours=copy.hours_ago)
            item = MemoryItem(
                user_id=user_id,
                memory_type=copy.memory_type,
                title=copy.content,
                content=copy.content,
                confidence=copy.confidence,
                importance=copy.importance,
                created_at=stamp,
                updated_at=stamp,
            )
            items.append(await tx.items.add(item))
        await tx.commit()
    await container.indexer().items_changed(items)
    return [item.id or 0 for item in items]


async def items_of(container: Container, user_id: str) -> dict[int, MemoryItem]:
    async with container.uow()() as tx:
        page = await tx.items.page(
            ItemQuery(user_id=user_id, statuses=frozenset(MemoryStatus), limit=100)
        )
    return {item.id or 0: item for item in page}


async def statuses(container: Container, user_id: str) -> dict[int, MemoryStatus]:
    return {i: item.status for i, item in (await items_of(container, user_id)).items()}


async def history(container: Container, user_id: str, item_id: int) -> list[AuditEntry]:
    async with container.uow()() as tx:
        return await tx.audit.history(user_id, AuditTarget.MEMORY_ITEM, str(item_id))


async def indexed(store: VectorStore, user_id: str | None) -> set[str]:
    return await store.document_ids(user_id=user_id)


def documents(*ids: int) -> set[str]:
    return {document_id(i) for i in ids}


async def dedup(container: Container, user_id: str, *, dry_run: bool = False) -> DedupReport:
    return await container.dedup()(
        Dedup(user_id=user_id, dry_run=dry_run, reason="duplicates found in review")
    )


# --- the use case --------------------------------------------------------------------------


async def test_a_dry_run_reports_the_duplicates_and_changes_nothing(
    node: Node, user_id: str
) -> None:
    first, second, keeper = await plant(node.container, user_id, Copy(), Copy(), Copy())
    (other,) = await plant(node.container, user_id, Copy(content="I love jazz"))

    report = await dedup(node.container, user_id, dry_run=True)

    assert report.dry_run is True
    assert (report.deduped_group_count, report.kept_count, report.archived_count) == (1, 1, 2)
    assert report.archived_ids == [second, first]
    assert set((await statuses(node.container, user_id)).values()) == {MemoryStatus.ACTIVE}
    assert await history(node.container, user_id, first) == []
    assert await indexed(node.store, user_id) == documents(first, second, keeper, other)


async def test_applying_archives_all_but_the_keeper_audits_it_and_drops_their_vectors(
    node: Node, user_id: str
) -> None:
    ids = await plant(node.container, user_id, Copy(), Copy(confidence=0.9), Copy())
    (other,) = await plant(node.container, user_id, Copy(content="I love jazz"))
    keeper, archived = ids[1], sorted({ids[0], ids[2]})

    report = await dedup(node.container, user_id)

    assert (report.dry_run, report.kept_count, sorted(report.archived_ids)) == (
        False,
        1,
        archived,
    )
    items = await items_of(node.container, user_id)
    assert {i: item.status for i, item in items.items()} == {
        keeper: MemoryStatus.ACTIVE,
        archived[0]: MemoryStatus.ARCHIVED,
        archived[1]: MemoryStatus.ARCHIVED,
        other: MemoryStatus.ACTIVE,
    }
    assert [items[i].vector_status for i in archived] == [VectorStatus.DELETED] * 2
    assert await indexed(node.store, user_id) == documents(keeper, other)
    for item_id in archived:
        (entry,) = await history(node.container, user_id, item_id)
        assert (entry.operation, entry.operator_type) == ("archive", OperatorType.SYSTEM)
        assert entry.reason == "duplicates found in review"
        assert entry.before is not None
        assert entry.before["status"] == "active"
        assert entry.after is not None
        assert entry.after["status"] == "archived"
    assert await history(node.container, user_id, keeper) == []


async def test_a_second_run_finds_nothing_left_to_archive(node: Node, user_id: str) -> None:
    await plant(node.container, user_id, Copy(), Copy())
    await dedup(node.container, user_id)

    report = await dedup(node.container, user_id)

    assert (report.deduped_group_count, report.archived_ids) == (0, [])


@pytest.mark.parametrize(
    ("copies", "kept"),
    [
        pytest.param(
            [Copy(hours_ago=30, confidence=0.99, importance=0.99), Copy(hours_ago=1)],
            1,
            id="a copy newer by more than 24 h wins",
        ),
        pytest.param(
            [Copy(hours_ago=20, confidence=0.9), Copy(hours_ago=1, confidence=0.8)],
            0,
            id="within 24 h the higher confidence wins",
        ),
        pytest.param(
            [Copy(hours_ago=20, importance=0.9), Copy(hours_ago=1, importance=0.8)],
            0,
            id="then the higher importance",
        ),
        pytest.param([Copy(hours_ago=2), Copy(hours_ago=3)], 0, id="then the newer"),
        pytest.param([Copy(), Copy()], 1, id="then the higher id"),
        pytest.param(
            [Copy(hours_ago=40, confidence=0.9), Copy(hours_ago=20, confidence=0.5), Copy()],
            2,
            id="the newest beats an old confident copy, and its own recent rival",
        ),
    ],
)
async def test_the_keeper_follows_the_keep_rule(
    node: Node, user_id: str, copies: list[Copy], kept: int
) -> None:
    ids = await plant(node.container, user_id, *copies)

    await dedup(node.container, user_id)

    survivors = [i for i, s in (await statuses(node.container, user_id)).items() if s == "active"]
    assert survivors == [ids[kept]]


async def test_only_active_items_of_the_same_type_and_content_are_duplicates(
    node: Node, user_id: str
) -> None:
    preference, fact = await plant(
        node.container, user_id, Copy(), Copy(memory_type=MemoryType.FACT)
    )
    (deleted,) = await plant(node.container, user_id, Copy())
    await node.container.delete_item()(SetItemStatus(user_id=user_id, item_id=deleted))

    report = await dedup(node.container, user_id)

    assert report.deduped_group_count == 0
    assert (await statuses(node.container, user_id))[preference] is MemoryStatus.ACTIVE
    assert (await statuses(node.container, user_id))[fact] is MemoryStatus.ACTIVE


async def test_a_dedup_of_one_user_leaves_other_users_alone(node: Node, user_id: str) -> None:
    other_user = f"{user_id}-other"
    mine = await plant(node.container, user_id, Copy(), Copy())
    theirs = await plant(node.container, other_user, Copy(), Copy())

    report = await dedup(node.container, user_id)

    assert report.archived_ids == [mine[0]]
    assert set((await statuses(node.container, other_user)).values()) == {MemoryStatus.ACTIVE}
    assert await indexed(node.store, other_user) == documents(*theirs)


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> Iterator[str]:
    """A database of its own, for a dedup of every user."""
    with fresh_database("sqlite", tmp_path) as url:
        yield url


async def test_without_a_user_every_users_duplicates_are_archived(
    tmp_path: Path, fresh_sqlite: str, user_id: str
) -> None:
    other_user = f"{user_id}-other"
    infra = build_infrastructure(settings_for(tmp_path, fresh_sqlite))
    container = infra.loops().current()
    try:
        mine = await plant(container, user_id, Copy(), Copy())
        theirs = await plant(container, other_user, Copy(), Copy(), Copy())

        report = await container.dedup()(Dedup(user_id=None, dry_run=False))

        assert (report.deduped_group_count, report.kept_count) == (2, 2)
        assert sorted(report.archived_ids) == [mine[0], theirs[0], theirs[1]]
        assert await indexed(infra.vector_store(), None) == documents(mine[1], theirs[2])
    finally:
        await infra.loops().close_current()


# --- the admin endpoint --------------------------------------------------------------------


@pytest.fixture
async def api(
    tmp_path: Path, database_urls: dict[str, str]
) -> AsyncIterator[tuple[AsyncTestClient, Node]]:  # type: ignore[type-arg]
    """The app on this loop, sharing its container (and vector store) with the test."""
    settings = settings_for(tmp_path, database_urls["sqlite"])
    infra = build_infrastructure(settings)
    async with AsyncTestClient(create_app(settings, infra=infra)) as client:
        yield client, Node(infra, infra.loops().current())


def bearer(user: str, *, admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user, admin=admin)}"}


async def test_only_an_admin_may_run_dedup(
    api: tuple[AsyncTestClient, Node],  # type: ignore[type-arg]
    user_id: str,
) -> None:
    client, node = api
    await plant(node.container, user_id, Copy(), Copy())

    response = await client.post(
        DEDUP, json={"user_id": user_id, "dry_run": False}, headers=bearer(user_id)
    )

    assert response.status_code == 403
    assert set((await statuses(node.container, user_id)).values()) == {MemoryStatus.ACTIVE}


async def test_an_admin_previews_then_applies_dedup_over_http(
    api: tuple[AsyncTestClient, Node],  # type: ignore[type-arg]
    user_id: str,
) -> None:
    client, node = api
    stale, keeper = await plant(node.container, user_id, Copy(hours_ago=30), Copy())
    admin = bearer("ops-admin", admin=True)

    preview = await client.post(DEDUP, json={"user_id": user_id}, headers=admin)
    applied = await client.post(DEDUP, json={"user_id": user_id, "dry_run": False}, headers=admin)

    assert preview.status_code == applied.status_code == 200, applied.text
    expected = {"deduped_group_count": 1, "kept_count": 1, "archived_ids": [stale]}
    assert preview.json() == preview.json() | expected | {"dry_run": True, "archived_count": 1}
    assert applied.json() == applied.json() | expected | {"dry_run": False, "archived_count": 1}
    assert await statuses(node.container, user_id) == {
        stale: MemoryStatus.ARCHIVED,
        keeper: MemoryStatus.ACTIVE,
    }
    assert await indexed(node.store, user_id) == documents(keeper)
    (entry,) = await history(node.container, user_id, stale)
    assert (entry.operation, entry.reason) == ("archive", DEFAULT_REASON)
    assert (entry.operator_type, entry.operator_id) == (OperatorType.ADMIN, "ops-admin")


# --- the command line ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def plant_apart(settings: Settings, user_id: str, *copies: Copy) -> list[int]:
    """Plant from a loop of its own, as another process would have."""

    async def run() -> list[int]:
        infra = build_infrastructure(settings)
        try:
            return await plant(infra.loops().current(), user_id, *copies)
        finally:
            await infra.loops().close_current()

    return asyncio.run(run())


def read_apart(settings: Settings, user_id: str) -> dict[int, MemoryItem]:
    async def run() -> dict[int, MemoryItem]:
        infra = build_infrastructure(settings)
        try:
            return await items_of(infra.loops().current(), user_id)
        finally:
            await infra.loops().close_current()

    return asyncio.run(run())


def history_apart(settings: Settings, user_id: str, item_id: int) -> list[AuditEntry]:
    async def run() -> list[AuditEntry]:
        infra = build_infrastructure(settings)
        try:
            return await history(infra.loops().current(), user_id, item_id)
        finally:
            await infra.loops().close_current()

    return asyncio.run(run())


def test_the_cli_works_on_the_data_directly_when_no_server_answers(
    tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> None:
    settings = settings_for(tmp_path, database_urls["sqlite"])
    stale, keeper = plant_apart(settings, user_id, Copy(hours_ago=30), Copy())
    env = {
        "MEMVAULT_DATA_DIR": str(tmp_path),
        "MEMVAULT_DATABASE_URL": database_urls["sqlite"],
        "MEMVAULT_PORT": str(free_port()),
        "MEMVAULT_EMBEDDER": "hashing",
        "MEMVAULT_VECTOR_STORE": "memory",
    }
    runner = CliRunner()

    preview = runner.invoke(cli, ["dedup", "--user", user_id], env=env)
    untouched = read_apart(settings, user_id)
    applied = runner.invoke(
        cli, ["dedup", "--user", user_id, "--apply", "--reason", "weekly cleanup"], env=env
    )

    assert preview.exit_code == 0, preview.output
    assert "dry run" in preview.output
    assert {i: item.status for i, item in untouched.items()} == {
        stale: MemoryStatus.ACTIVE,
        keeper: MemoryStatus.ACTIVE,
    }
    assert applied.exit_code == 0, applied.output
    assert f"[{stale}]" in applied.output
    items = read_apart(settings, user_id)
    assert (items[stale].status, items[stale].vector_status) == (
        MemoryStatus.ARCHIVED,
        VectorStatus.DELETED,
    )
    assert items[keeper].status is MemoryStatus.ACTIVE
    (entry,) = history_apart(settings, user_id, stale)
    assert (entry.operation, entry.reason) == ("archive", "weekly cleanup")
    assert (entry.operator_type, entry.operator_id) == (OperatorType.ADMIN, "cli")
