"""Export and import of memories: export → a new, empty database → import gives back
exactly the same memories, a second import changes nothing, and a bad line rejects the
whole file by its number. Through the use cases, the HTTP endpoints and the CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from memvault.application.memory_items.create_item import CreateItems, NewItem
from memvault.application.transfer.export_memories import ExportMemories
from memvault.application.transfer.import_memories import ImportMemories, ImportRejected
from memvault.application.transfer.lines import encode
from memvault.container import Container, Settings, build_infrastructure
from memvault.domain.audit import AuditTarget
from memvault.domain.memory import MemoryItem, MemoryStatus, MemoryType, Scope
from memvault.entrypoints.cli import app as cli
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.databases import fresh_database

SECRET = "transfer-secret-" + "t" * 48
T0 = datetime(2026, 3, 1, 8, 15, 30, 123456, tzinfo=UTC)
EXACT_FIELDS = (
    "id",
    "user_id",
    "scope",
    "memory_type",
    "title",
    "content",
    "content_hash",
    "confidence",
    "importance",
    "sensitivity_level",
    "source_message_id",
    "source_event_id",
    "is_explicit",
    "status",
    "ttl_at",
    "last_access_at",
    "created_at",
    "updated_at",
)


def settings_for(tmp: Path, url: str) -> Settings:
    return Settings(
        data_dir=tmp,
        database_url=url,
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        port=1,  # no server answers there: the CLI works directly on the database
    )


@asynccontextmanager
async def node(tmp: Path, url: str) -> AsyncIterator[Container]:
    infra = build_infrastructure(settings_for(tmp, url))
    try:
        yield infra.loops().current()
    finally:
        await infra.loops().close_current()


def memories(user: str) -> list[MemoryItem]:
    """Every kind of state an item can be in: scopes, scores, statuses, expiry, access."""
    return [
        MemoryItem(
            user_id=user,
            memory_type=MemoryType.PREFERENCE,
            title="Window seat",
            content="I prefer a window seat on long flights",
            confidence=0.93,
            importance=0.8125,
            is_explicit=True,
            created_at=T0,
            updated_at=T0 + timedelta(days=2),
            last_access_at=T0 + timedelta(days=3),
        ),
        MemoryItem(
            user_id=user,
            scope=Scope(conversation_id="trip", assistant_id="planner", run_id="r-1"),
            memory_type=MemoryType.FACT,
            title="Lisbon",
            content="Lives in Lisbon, 住在里斯本",
            confidence=0.61,
            importance=0.6,
            sensitivity_level=1,
            source_message_id="m-7",
            source_event_id="evt-7",
            ttl_at=T0 + timedelta(days=180),
            created_at=T0 + timedelta(seconds=1),
            updated_at=T0 + timedelta(seconds=1),
        ),
        MemoryItem(
            user_id=user,
            memory_type=MemoryType.CONSTRAINT,
            title="Peanuts",
            content="Allergic to peanuts",
            confidence=0.99,
            importance=0.95,
            status=MemoryStatus.ARCHIVED,
            created_at=T0 + timedelta(seconds=2),
            updated_at=T0 + timedelta(days=9),
        ),
        MemoryItem(
            user_id=user,
            memory_type=MemoryType.FACT,
            title="Old job",
            content="Works at Initech",
            status=MemoryStatus.DELETED,
            created_at=T0 + timedelta(seconds=3),
            updated_at=T0 + timedelta(days=10),
        ),
    ]


async def plant(container: Container, items: list[MemoryItem]) -> None:
    async with container.uow()() as tx:
        for item in items:
            await tx.items.add(item)
        await tx.commit()


async def stored(container: Container, user: str) -> list[dict[str, Any]]:
    """The user's items as comparable records (vector bookkeeping left out)."""
    async with container.uow()(read_only=True) as tx:
        items = await tx.transfer.page(user_id=user, after_id=0, limit=1000)
    return [{name: getattr(item, name) for name in EXACT_FIELDS} for item in items]


async def export_lines(container: Container, user: str | None, history: bool = False) -> list[str]:
    command = ExportMemories(user_id=user, with_history=history)
    return [encode(memory) async for memory in container.export_memories()(command)]


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Where the memories live, and a new empty database to import them into."""
    with (
        fresh_database(request.param, tmp_path) as source,
        fresh_database(request.param, tmp_path) as target,
    ):
        yield source, target


async def test_export_then_import_into_a_new_database_round_trips_exactly(
    two_databases: tuple[str, str], tmp_path: Path, user_id: str
) -> None:
    source_url, target_url = two_databases
    async with node(tmp_path, source_url) as source:
        await plant(source, memories(user_id))
        await plant(source, memories("someone-else"))
        before = await stored(source, user_id)
        lines = await export_lines(source, user_id, history=True)
    assert len(lines) == 4

    async with node(tmp_path, target_url) as target:
        report = await target.import_memories()(ImportMemories(lines=lines))
        assert (report.inserted, report.skipped, report.renumbered) == (4, 0, 0)
        assert await stored(target, user_id) == before
        assert await stored(target, "someone-else") == []

        again = await target.import_memories()(ImportMemories(lines=lines))
        assert (again.inserted, again.skipped) == (0, 4)
        assert await stored(target, user_id) == before
        assert await export_lines(target, user_id) == await export_lines_of(source_url, tmp_path)

        # New items continue after the imported ids (PostgreSQL's sequence moved on).
        extra = memories(user_id)[0]
        extra.content = "Something new"
        await plant(target, [extra])
        assert extra.id is not None
        assert extra.id > max(record["id"] for record in before)


async def export_lines_of(url: str, tmp: Path) -> list[str]:
    async with node(tmp, url) as container:
        user = (await container_users(container))[0]
        return await export_lines(container, user)


async def container_users(container: Container) -> list[str]:
    async with container.uow()(read_only=True) as tx:
        items = await tx.transfer.page(user_id=None, after_id=0, limit=1)
    return [item.user_id for item in items]


async def test_imported_items_are_audited_after_their_exported_history(
    tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> None:
    async with node(tmp_path, database_urls["sqlite"]) as container:
        created = await container.create_items()(
            CreateItems(
                user_id=user_id, items=[NewItem(memory_type="fact", content="Speaks Portuguese")]
            )
        )
        lines = await export_lines(container, user_id, history=True)
        record = json.loads(lines[0])
        assert [entry["operation"] for entry in record["history"]] == ["create"]
        record["id"] = None  # as if from another installation
        record["user_id"] = user_id + "-copy"
        await container.import_memories()(ImportMemories(lines=[json.dumps(record)]))
        async with container.uow()(read_only=True) as tx:
            (copy,) = await tx.transfer.page(user_id=user_id + "-copy", after_id=0, limit=5)
            entries = await tx.audit.history(
                user_id + "-copy", AuditTarget.MEMORY_ITEM, str(copy.id)
            )
    assert created[0].id != copy.id
    assert [e.operation for e in entries] == ["create", "create"]
    assert entries[0].after == json.loads(lines[0])["history"][0]["after"]
    assert (entries[1].reason, entries[1].after and entries[1].after["content"]) == (
        "imported",
        "Speaks Portuguese",
    )


async def test_a_memory_already_there_with_another_id_is_skipped_by_its_content(
    tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> None:
    async with node(tmp_path, database_urls["sqlite"]) as container:
        await plant(container, memories(user_id)[:1])
        line = json.loads((await export_lines(container, user_id))[0])
        line["id"] = 10**12  # an id nobody has: only the content hash matches
        report = await container.import_memories()(ImportMemories(lines=[json.dumps(line)]))
        assert (report.inserted, report.skipped) == (0, 1)


async def test_an_id_held_by_another_user_is_imported_under_a_new_id(
    tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> None:
    async with node(tmp_path, database_urls["sqlite"]) as container:
        await plant(container, memories(user_id)[:1])
        line = json.loads((await export_lines(container, user_id))[0])
        line["user_id"] = user_id + "-b"
        report = await container.import_memories()(ImportMemories(lines=[json.dumps(line)]))
        assert (report.inserted, report.renumbered) == (1, 1)
        (moved,) = await stored(container, user_id + "-b")
        assert moved["id"] != line["id"]
        assert moved["content"] == line["content"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"importance": 1.5}, "importance must be between 0 and 1"),
        ({"version": 9}, "version 9 is not supported"),
        ({"memory_type": "opinion"}, "memory_type must be one of"),
        ({"created_at": "yesterday"}, "created_at is not an ISO 8601 time"),
        ({"created_at": "2026-01-01T10:00:00"}, "created_at must carry a time zone"),
        ({"colour": "blue"}, "unknown field 'colour'"),
        ({"content": "  "}, "content must not be blank"),
    ],
)
async def test_a_bad_line_is_named_by_its_number_and_nothing_is_written(
    tmp_path: Path,
    database_urls: dict[str, str],
    user_id: str,
    change: dict[str, Any],
    message: str,
) -> None:
    async with node(tmp_path, database_urls["sqlite"]) as container:
        await plant(container, memories(user_id))
        lines = await export_lines(container, user_id)
        target = user_id + "-target"
        lines = [line.replace(user_id, target) for line in lines]
        lines = [json.dumps(json.loads(line) | {"id": None}) for line in lines]
        lines.insert(2, "")  # blank lines are allowed and still counted
        lines[3] = json.dumps(json.loads(lines[3]) | change)

        with pytest.raises(ImportRejected) as rejected:
            await container.import_memories()(ImportMemories(lines=lines))

        assert [p.line for p in rejected.value.problems] == [4]
        assert "line 4: " + message in rejected.value.detail
        assert await stored(container, target) == []


async def test_a_line_that_is_not_json_is_named(
    tmp_path: Path, database_urls: dict[str, str]
) -> None:
    async with node(tmp_path, database_urls["sqlite"]) as container:
        with pytest.raises(ImportRejected) as rejected:
            await container.import_memories()(ImportMemories(lines=["{", "[1]"]))
    assert [p.line for p in rejected.value.problems] == [1, 2]
    assert "line 2: not a JSON object" in rejected.value.detail


# --- HTTP --------------------------------------------------------------------------------


def bearer(user: str, *, admin: bool = False) -> dict[str, str]:
    token = issue_token(SECRET, user, admin=admin, ttl=timedelta(minutes=5))
    return {"Authorization": f"Bearer {token}"}


async def test_a_user_exports_only_their_own_memories_over_http(
    tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> None:
    settings = settings_for(tmp_path, database_urls["sqlite"])
    async with AsyncTestClient(create_app(settings)) as client:
        container: Container = client.app.state.container
        await plant(container, memories(user_id))
        await plant(container, memories(user_id + "-other"))

        lines = await client.get("/api/v1/memory/export", headers=bearer(user_id))
        array = await client.get(
            "/api/v1/memory/export", params={"format": "json"}, headers=bearer(user_id)
        )
        refused = await client.get("/api/v1/admin/export", headers=bearer(user_id))

    assert lines.status_code == 200
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in lines.text.splitlines()]
    assert [r["user_id"] for r in records] == [user_id] * 4
    assert array.json() == records
    assert refused.status_code == 403


async def test_operators_export_and_import_over_http(
    tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> None:
    settings = settings_for(tmp_path, database_urls["sqlite"])
    async with AsyncTestClient(create_app(settings)) as client:
        container: Container = client.app.state.container
        await plant(container, memories(user_id))
        exported = await client.get(
            "/api/v1/admin/export", params={"user_id": user_id}, headers=bearer("op", admin=True)
        )
        moved = "\n".join(
            json.dumps(json.loads(line) | {"id": None, "user_id": user_id + "-moved"})
            for line in exported.text.splitlines()
        )
        imported = await client.post(
            "/api/v1/admin/import", content=moved, headers=bearer("op", admin=True)
        )
        bad = await client.post(
            "/api/v1/admin/import", content=moved + "\n{oops", headers=bearer("op", admin=True)
        )
        binary = await client.post(
            "/api/v1/admin/import", content=b"\xff\xfe", headers=bearer("op", admin=True)
        )

    assert imported.status_code == 200, imported.text
    assert imported.json() == {"lines": 4, "inserted": 4, "skipped": 0, "renumbered": 4}
    assert bad.status_code == 400
    assert "line 5: not JSON" in bad.json()["detail"]
    assert binary.status_code == 400
    assert "not UTF-8" in binary.json()["detail"]


# --- CLI ---------------------------------------------------------------------------------


def test_the_cli_exports_and_imports_a_stopped_data_directory(
    tmp_path: Path, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    with (
        fresh_database("sqlite", tmp_path) as source_url,
        fresh_database("sqlite", tmp_path) as target_url,
    ):

        async def seed() -> list[dict[str, Any]]:
            async with node(tmp_path, source_url) as container:
                await plant(container, memories(user_id))
                return await stored(container, user_id)

        before = asyncio.run(seed())
        env = {
            "MEMVAULT_DATA_DIR": str(tmp_path),
            "MEMVAULT_AUTH_JWT_SECRET": SECRET,
            "MEMVAULT_EMBEDDER": "hashing",
            "MEMVAULT_VECTOR_STORE": "memory",
            "MEMVAULT_PORT": "1",
        }
        runner = CliRunner()
        file = tmp_path / "export.jsonl"
        exported = runner.invoke(
            cli,
            ["export", "--user", user_id, "--history", "-o", str(file)],
            env=env | {"MEMVAULT_DATABASE_URL": source_url},
        )
        assert exported.exit_code == 0, exported.output
        assert len(file.read_text().splitlines()) == 4

        target_env = env | {"MEMVAULT_DATABASE_URL": target_url}
        first = runner.invoke(cli, ["import", str(file)], env=target_env)
        second = runner.invoke(cli, ["import", str(file)], env=target_env)
        assert first.exit_code == 0, first.output
        assert second.exit_code == 0, second.output
        assert "skipped" in second.output

        bad = tmp_path / "bad.jsonl"
        bad.write_text(file.read_text() + '{"format": "memvault.memory"}\n')
        rejected = runner.invoke(cli, ["import", str(bad)], env=target_env)
        assert rejected.exit_code == 1
        assert "line 5:" in rejected.output

        async def after() -> list[dict[str, Any]]:
            async with node(tmp_path, target_url) as container:
                return await stored(container, user_id)

        assert asyncio.run(after()) == before
