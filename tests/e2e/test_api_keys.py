"""API keys as credentials: scopes, revocation on every process, audit under the key's name."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from rich.console import Console
from sqlalchemy import select, text
from typer.testing import CliRunner

from memvault.adapters.sqlalchemy.api_keys import SqlApiKeyRepository
from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.tables import memvault_api_keys, metadata
from memvault.container import Settings
from memvault.domain.api_keys import KeyScope, hash_secret, mint
from memvault.entrypoints import cli_keys
from memvault.entrypoints.cli import app as cli
from memvault.entrypoints.http.app import create_app
from tests.e2e.conftest import Auth
from tests.e2e.test_items_api import ITEMS, assert_problem, create
from tests.e2e.test_tenancy_matrix import ROUTES, Admin

Client = AsyncTestClient  # type: ignore[type-arg]
KEYS = "/api/v1/admin/keys"


def bearer(secret: str, user: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {secret}"}
    return headers | ({"X-Memvault-User": user} if user is not None else {})


async def make_key(client: Client, auth: Auth, scope: str, **body: Any) -> dict[str, Any]:
    name = f"key-{uuid.uuid4().hex[:8]}"
    response = await client.post(
        KEYS, json={"name": name, "scope": scope, **body}, headers=auth("ops", admin=True)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_user_key_acts_for_its_user_only(client: Client, auth: Auth, user_id: str):
    other = f"other-{user_id}"
    theirs = await create(client, auth(other), content="the other user's secret")
    key = await make_key(client, auth, f"user:{user_id}")
    mine = await create(client, bearer(key["key"]), content="I love sushi")
    assert mine["user_id"] == user_id
    assert_problem(
        await client.get(f"{ITEMS}/{theirs['id']}", headers=bearer(key["key"])),
        404,
        "MemoryItemNotFound",
    )
    assert_problem(await client.get(ITEMS, headers=bearer(key["key"], other)), 403, "Forbidden")
    listed = (await client.get(ITEMS, headers=bearer(key["key"], user_id))).json()
    assert [i["id"] for i in listed["items"]] == [mine["id"]]


@pytest.mark.parametrize("header", [None, "", " padded ", "x" * 129])
async def test_a_service_key_must_name_a_valid_user(client: Client, auth: Auth, header: str | None):
    key = await make_key(client, auth, "service")
    problem = assert_problem(
        await client.get(ITEMS, headers=bearer(key["key"], header)), 400, "WrongParamType"
    )
    assert problem["field"] == "X-Memvault-User"


async def test_a_service_key_reaches_only_the_named_users_data(
    client: Client, auth: Auth, user_id: str
):
    key = await make_key(client, auth, "service")
    other = f"other-{user_id}"
    theirs = await create(client, bearer(key["key"], other), content="other's note")
    mine = await create(client, bearer(key["key"], user_id), content="my note")
    assert (mine["user_id"], theirs["user_id"]) == (user_id, other)
    as_me = bearer(key["key"], user_id)
    assert_problem(
        await client.get(f"{ITEMS}/{theirs['id']}", headers=as_me), 404, "MemoryItemNotFound"
    )
    listed = (await client.get(ITEMS, headers=as_me)).json()
    assert [i["id"] for i in listed["items"]] == [mine["id"]]
    own = (await client.get(ITEMS, headers=auth(user_id))).json()
    assert [i["id"] for i in own["items"]] == [mine["id"]]


async def test_changes_made_with_a_service_key_are_audited_under_its_name(
    client: Client, auth: Auth, user_id: str
):
    key = await make_key(client, auth, "service")
    as_user = bearer(key["key"], user_id)
    item = await create(client, as_user)
    await client.patch(f"{ITEMS}/{item['id']}", json={"content": "I love ramen"}, headers=as_user)
    await client.delete(f"{ITEMS}/{item['id']}", headers=as_user)
    await client.post(f"{ITEMS}/{item['id']}/restore", headers=as_user)
    history = (await client.get(f"{ITEMS}/{item['id']}/history", headers=as_user)).json()["items"]
    assert [e["operation"] for e in history] == ["create", "update", "delete", "restore"]
    assert {(e["operator_type"], e["operator_id"]) for e in history} == {("service", key["name"])}
    jwt_item = await create(client, auth(user_id))
    jwt_history = (
        await client.get(f"{ITEMS}/{jwt_item['id']}/history", headers=auth(user_id))
    ).json()
    assert [(e["operator_type"], e["operator_id"]) for e in jwt_history["items"]] == [
        ("user", user_id)
    ]


@pytest.mark.parametrize("scope", ["service", "user:someone"])
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/admin/jobs"), ("GET", KEYS), ("POST", KEYS)]
)
async def test_only_admin_keys_reach_admin_endpoints(
    client: Client, auth: Auth, scope: str, method: str, path: str
):
    key = await make_key(client, auth, scope)
    body = {"name": "escalate", "scope": "admin"}
    response = await client.request(
        method, path, json=body if method == "POST" else None, headers=bearer(key["key"], "someone")
    )
    assert_problem(response, 403, "Forbidden")


@pytest.mark.parametrize("scope", ["service", "user:someone"])
async def test_no_key_but_an_admin_key_reaches_any_operator_route(
    client: Client, auth: Auth, scope: str
):
    """Every operator route of the app (the tenancy matrix names them all)."""
    key = await make_key(client, auth, scope)
    operator_routes = [route for route in ROUTES.values() if isinstance(route, Admin)]
    assert len(operator_routes) >= 10
    for route in operator_routes:
        method = next(m for (m, _), r in ROUTES.items() if r is route)
        response = await client.request(
            method, route.probe, json={}, headers=bearer(key["key"], "someone")
        )
        assert_problem(response, 403, "Forbidden")


async def test_an_admin_key_manages_keys_and_is_audited_as_the_operator(client: Client, auth: Auth):
    admin = await make_key(client, auth, "admin")
    made = await client.post(
        KEYS, json={"name": "made-by-key", "scope": "service"}, headers=bearer(admin["key"])
    )
    assert made.status_code == 201, made.text
    listed = (await client.get(KEYS, headers=bearer(admin["key"]))).json()["items"]
    by_id = {k["id"]: k for k in listed}
    assert (
        by_id[made.json()["id"]]["prefix"]
        == made.json()["key"][: len(by_id[made.json()["id"]]["prefix"])]
    )
    assert all("key" not in k for k in listed)
    assert by_id[admin["id"]]["last_used_at"] is not None


async def test_keys_are_not_recoverable_from_the_database(
    client: Client, auth: Auth, settings: Settings
):
    key = await make_key(client, auth, "service", expires_in_seconds=3600)
    engine = create_engine(settings.effective_database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(memvault_api_keys).where(memvault_api_keys.c.id == key["id"])
                )
            ).one()
            dump = " ".join(str(v) for v in row)
            whole = " ".join(
                str(v)
                for r in (await conn.execute(text("SELECT * FROM memvault_api_keys")))
                for v in r
            )
    finally:
        await engine.dispose()
    assert key["key"] not in whole
    assert key["key"][len(key["prefix"]) :] not in dump
    assert row._mapping["secret_hash"] == hash_secret(key["key"])


async def every_stored_value(database_url: str) -> str:
    """Every value of every row of every table, as text (bytes decoded)."""
    engine = create_engine(database_url, pool_size=1)
    values: list[str] = []
    try:
        async with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in await conn.execute(select(table)):
                    values.extend(
                        v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                        for v in row
                    )
    finally:
        await engine.dispose()
    return "\n".join(values)


async def test_a_key_made_with_an_idempotency_key_is_kept_nowhere_in_the_database(
    client: Client, auth: Auth, settings: Settings
):
    """The secret is shown once: a retry with the same Idempotency-Key makes no second
    key and cannot replay the first answer (which would need the secret stored)."""
    headers = auth("ops", admin=True) | {"Idempotency-Key": f"mk-{uuid.uuid4().hex}"}
    body = {"name": f"idem-{uuid.uuid4().hex[:8]}", "scope": "service"}
    made = await client.post(KEYS, json=body, headers=headers)
    assert made.status_code == 201, made.text
    secret = made.json()["key"]
    stored = await every_stored_value(settings.effective_database_url)
    assert secret not in stored
    assert secret[len(made.json()["prefix"]) :] not in stored
    again = await client.post(KEYS, json=body, headers=headers)
    assert_problem(again, 409, "Conflict")
    assert secret not in again.text
    listed = (await client.get(KEYS, headers=auth("ops", admin=True))).json()["items"]
    assert [k["name"] for k in listed].count(body["name"]) == 1


@pytest.fixture
async def second_process(settings: Settings) -> AsyncIterator[Client]:
    """Another API process on the same database (its own app, engine and state)."""
    async with AsyncTestClient(create_app(settings)) as other:
        yield other


async def test_a_revoked_key_is_refused_at_once_by_every_process(
    client: Client, second_process: Client, auth: Auth, user_id: str
):
    key = await make_key(client, auth, f"user:{user_id}")
    assert (await second_process.get(ITEMS, headers=bearer(key["key"]))).status_code == 200
    revoked = await client.post(f"{KEYS}/{key['id']}/revoke", headers=auth("ops", admin=True))
    assert revoked.json()["revoked_at"] is not None
    for api in (client, second_process):
        assert_problem(await api.get(ITEMS, headers=bearer(key["key"])), 401, "Unauthorized")
    again = await client.delete(f"{KEYS}/{key['id']}", headers=auth("ops", admin=True))
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_an_expired_key_is_refused(
    client: Client, second_process: Client, settings: Settings, user_id: str
):
    long_ago = datetime.now(UTC) - timedelta(days=2)
    new = mint(
        "expired", KeyScope.parse(f"user:{user_id}"), now=long_ago, expires_in=timedelta(days=1)
    )
    engine = create_engine(settings.effective_database_url, pool_size=1)
    try:
        await SqlApiKeyRepository(engine).add(new.key)
    finally:
        await engine.dispose()
    for api in (client, second_process):
        assert_problem(await api.get(ITEMS, headers=bearer(new.secret)), 401, "Unauthorized")


async def test_unknown_and_malformed_keys_are_401(client: Client):
    for secret in ("mv_", "mv_" + "A" * 43, "mv_not a key"):
        assert_problem(
            await client.get(ITEMS, headers=bearer(secret, "alice")), 401, "Unauthorized"
        )


async def test_an_unknown_key_id_is_404(client: Client, auth: Auth):
    response = await client.post(f"{KEYS}/987654321/revoke", headers=auth("ops", admin=True))
    assert_problem(response, 404, "ApiKeyNotFound")


def test_the_cli_creates_lists_and_revokes_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from memvault.container import migrate

    settings = Settings(data_dir=tmp_path, database_url=None)
    migrate(settings)
    monkeypatch.setenv("MEMVAULT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MEMVAULT_DATABASE_URL", raising=False)
    # The table's width: the console is made at import, when COLUMNS was read (xdist's
    # workers run with COLUMNS=80), so a wide one replaces it rather than setting COLUMNS.
    monkeypatch.setattr(cli_keys, "console", Console(width=200))
    runner = CliRunner()
    made = runner.invoke(
        cli, ["keys", "create", "--name", "cli-backend", "--scope", "service", "--expires", "90d"]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("mv_")
    listed = runner.invoke(cli, ["keys", "list"])
    assert "cli-backend" in listed.stdout
    assert secret not in listed.stdout
    engine_url = settings.effective_database_url

    async def stored() -> Any:
        engine = create_engine(engine_url, pool_size=1)
        try:
            return await SqlApiKeyRepository(engine).by_hash(hash_secret(secret))
        finally:
            await engine.dispose()

    key = asyncio.run(stored())
    assert key is not None
    assert str(key.scope) == "service"
    assert key.expires_at is not None
    assert key.expires_at - key.created_at == timedelta(days=90)
    assert runner.invoke(cli, ["keys", "revoke", str(key.id)]).exit_code == 0
    assert asyncio.run(stored()).revoked_at is not None
    refused = runner.invoke(cli, ["keys", "create", "--name", "x", "--scope", "root"])
    assert refused.exit_code == 2


async def finished_job(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        jobs = (await client.get("/api/v1/memory/jobs", headers=headers)).json()["items"]
        if jobs and jobs[0]["status"] in ("success", "dead"):
            return dict(jobs[0])
        await asyncio.sleep(0.05)
    raise AssertionError("the extraction job did not finish")


async def extracted_history(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Send one chat turn with ``headers``, wait for its job, and return the audit
    entries of every memory extracted from it."""
    turn = {"role": "user", "content": "I live in Lisbon and I love hiking."}
    sent = await client.post(
        "/api/v1/memory/messages",
        json={"conversation_id": "trip", "messages": [turn]},
        headers=headers,
    )
    assert sent.status_code == 202, sent.text
    job = await finished_job(client, headers)
    assert job["status"] == "success", job
    items = (await client.get(ITEMS, headers=headers)).json()["items"]
    assert items
    return [
        entry
        for item in items
        for entry in (await client.get(f"{ITEMS}/{item['id']}/history", headers=headers)).json()[
            "items"
        ]
    ]


@pytest.mark.parametrize(("scope", "operator_type"), [("service", "service"), ("user:", "user")])
async def test_memories_extracted_from_a_keys_turns_are_audited_under_its_name(
    client: Client, auth: Auth, user_id: str, scope: str, operator_type: str
):
    key = await make_key(client, auth, scope + (user_id if scope == "user:" else ""))
    history = await extracted_history(client, bearer(key["key"], user_id))
    assert {(e["operator_type"], e["operator_id"]) for e in history} == {
        (operator_type, key["name"])
    }


async def test_memories_extracted_from_a_users_own_turns_are_audited_as_the_system(
    client: Client, auth: Auth, user_id: str
):
    history = await extracted_history(client, auth(user_id) | {"X-Request-Id": "turn-42"})
    assert {(e["operator_type"], e["operator_id"]) for e in history} == {("system", "turn-42")}
