"""Hostile input answers a precise 4xx, never a 500, on SQLite and PostgreSQL (issue 11).

The rule for text (docs/input-rules.md): NUL and the C0 control characters other than
tab, line feed and carriage return are refused with a 400 naming the field, wherever
the text would reach the database; identifiers blank after trimming are refused too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from tests.e2e.conftest import SECRET, Auth
from tests.e2e.test_items_api import ITEMS, assert_problem

Client = AsyncTestClient  # type: ignore[type-arg]
MESSAGES = "/api/v1/memory/messages"
JOBS = "/api/v1/memory/jobs"
SNAPSHOTS = "/api/v1/agent/snapshots"
ITEM = {"memory_type": "fact", "content": "has a cat named Miso"}
OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.fixture(params=["sqlite", "postgresql"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path, database_urls: dict[str, str]
) -> AsyncIterator[Client]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_urls[str(request.param)],
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
    )
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


def field_of(response: Any, status: int = 400) -> str:
    body = assert_problem(response, status, "WrongParamType")
    return str(body["field"])


def item_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize("when", OUT_OF_RANGE)
async def test_a_ttl_out_of_range_after_utc_conversion_is_400(
    client: Client, auth: Auth, user_id: str, when: str
):
    me = auth(user_id)
    assert field_of(await client.post(ITEMS, json=ITEM | {"ttl_at": when}, headers=me)) == "ttl_at"
    batch = await client.post(
        ITEMS + "/batch", json={"items": [ITEM | {"ttl_at": when}]}, headers=me
    )
    assert field_of(batch) == "items[0].ttl_at"
    created = (await client.post(ITEMS, json=ITEM, headers=me)).json()
    patched = await client.patch(f"{ITEMS}/{created['id']}", json={"ttl_at": when}, headers=me)
    assert field_of(patched) == "ttl_at"


@pytest.mark.parametrize("when", OUT_OF_RANGE)
async def test_an_occurred_at_out_of_range_is_400(
    client: Client, auth: Auth, user_id: str, when: str
):
    body = {
        "conversation_id": "c1",
        "messages": [{"role": "user", "content": "hi", "occurred_at": when}],
    }
    response = await client.post(MESSAGES, json=body, headers=auth(user_id))
    assert field_of(response) == "messages[0].occurred_at"


@pytest.mark.parametrize(
    ("path", "admin"),
    [
        (JOBS, False),
        ("/api/v1/admin/jobs", True),
        ("/api/v1/admin/outbox", True),
        ("/api/v1/admin/dead-events", True),
    ],
)
@pytest.mark.parametrize("cursor", ["%C2%B2", "0", "-1", "1e3", str(2**63), "9" * 30, "%200", "+1"])
async def test_a_malformed_id_cursor_is_400(
    client: Client, auth: Auth, user_id: str, path: str, admin: bool, cursor: str
):
    response = await client.get(f"{path}?cursor={cursor}", headers=auth(user_id, admin=admin))
    assert field_of(response) == "cursor"


@pytest.mark.parametrize(
    "key",
    [
        [False, 0.5, "2026-01-01T00:00:00+00:00", 10**22],
        [False, 0.5, "2026-01-01T00:00:00+00:00", 0],
        [False, 0.5, "2026-01-01T00:00:00+00:00", 1.5],
        [False, 0.5, "0001-01-01T00:00:00+01:00", 1],
        [False, 0.5, "2026-01-01T00:00:00", 1],
        [False, "nan", "2026-01-01T00:00:00+00:00", 1],
        ["yes", 0.5, "2026-01-01T00:00:00+00:00", 1],
        [False, 0.5, "2026-01-01T00:00:00+00:00"],
        {"id": 1},
    ],
)
async def test_a_malformed_items_cursor_is_400(
    client: Client, auth: Auth, user_id: str, key: list[Any]
):
    response = await client.get(ITEMS, params={"cursor": item_cursor(key)}, headers=auth(user_id))
    assert field_of(response) == "cursor"


async def test_an_items_cursor_with_an_infinite_id_is_400(client: Client, auth: Auth, user_id: str):
    raw = b'[false, 0.5, "2026-01-01T00:00:00+00:00", 1e999]'
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await client.get(ITEMS, params={"cursor": cursor}, headers=auth(user_id))
    assert field_of(response) == "cursor"


async def test_an_items_cursor_round_trips(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    for n in range(3):
        await client.post(ITEMS, json=ITEM | {"content": f"fact number {n}"}, headers=me)
    first = (await client.get(ITEMS, params={"limit": 2}, headers=me)).json()
    rest = await client.get(ITEMS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=me)
    assert rest.status_code == 200
    assert len(first["items"]) + len(rest.json()["items"]) == 3


CONTROL = ["\x00", "\x01", "\x0b", "\x1b", "\x1f"]


@pytest.mark.parametrize("char", CONTROL)
async def test_control_characters_in_body_text_are_400(
    client: Client, auth: Auth, user_id: str, char: str
):
    me = auth(user_id)
    bad = f"a{char}b"
    assert field_of(await client.post(ITEMS, json=ITEM | {"content": bad}, headers=me)) == "content"
    assert field_of(await client.post(ITEMS, json=ITEM | {"title": bad}, headers=me)) == "title"
    scoped = ITEM | {"conversation_id": bad}
    assert field_of(await client.post(ITEMS, json=scoped, headers=me)) == "conversation_id"
    body = {"conversation_id": "c1", "messages": [{"role": "user", "content": bad}]}
    assert field_of(await client.post(MESSAGES, json=body, headers=me)) == "messages[0].content"
    search = await client.post("/api/v1/memory/search", json={"query": bad}, headers=me)
    assert field_of(search) == "query"
    snapshot = {"phase": "p", "snapshot": {"k": [bad]}}
    assert field_of(await client.put(f"{SNAPSHOTS}/c1", json=snapshot, headers=me)) == "snapshot"
    keyed = {"phase": "p", "snapshot": {bad: 1}}
    assert field_of(await client.put(f"{SNAPSHOTS}/c1", json=keyed, headers=me)) == "snapshot"


async def test_tabs_and_newlines_are_kept(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    response = await client.post(ITEMS, json=ITEM | {"content": "a\tb\nc\r\nd"}, headers=me)
    assert response.status_code == 201, response.text
    assert response.json()["content"]


@pytest.mark.parametrize("char", ["\x00", "\x07"])
async def test_control_characters_in_query_path_and_headers_are_400(
    client: Client, auth: Auth, user_id: str, char: str
):
    me = auth(user_id)
    encoded = quote(f"a{char}b")
    listed = await client.get(f"{ITEMS}?conversation_id={encoded}", headers=me)
    assert field_of(listed) == "conversation_id"
    jobs = await client.get(f"{JOBS}?job_key={encoded}", headers=me)
    assert field_of(jobs) == "job_key"
    snapshot = await client.get(f"{SNAPSHOTS}/{encoded}", headers=me)
    assert field_of(snapshot) == "conversation_id"
    keyed = await client.post(
        ITEMS, json=ITEM, headers=me | {"Idempotency-Key": f"k{char}k".encode("latin-1").decode()}
    )
    # h11 refuses a raw NUL in a header before the app sees it; BEL reaches the app.
    if char != "\x00":
        assert field_of(keyed) == "Idempotency-Key"


async def test_identifiers_blank_after_trimming_are_400(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    message = {"role": "user", "content": "I live in Lyon"}
    blank = await client.post(
        MESSAGES, json={"conversation_id": " ", "messages": [message]}, headers=me
    )
    assert field_of(blank) == "conversation_id"
    for field in ("assistant_id", "run_id"):
        body = {"conversation_id": "c1", field: "\t ", "messages": [message]}
        assert field_of(await client.post(MESSAGES, json=body, headers=me)) == field
    body = {"conversation_id": "c1", "messages": [message | {"message_id": "  "}]}
    assert field_of(await client.post(MESSAGES, json=body, headers=me)) == "messages[0].message_id"
    for field in ("conversation_id", "assistant_id", "run_id"):
        response = await client.post(ITEMS, json=ITEM | {field: " "}, headers=me)
        assert field_of(response) == field
    put = await client.put(f"{SNAPSHOTS}/%20", json={"phase": "p", "snapshot": {}}, headers=me)
    assert field_of(put) == "conversation_id"
    phase = await client.put(f"{SNAPSHOTS}/c1", json={"phase": " ", "snapshot": {}}, headers=me)
    assert field_of(phase) == "phase"


async def test_a_deeply_nested_snapshot_is_400(client: Client, auth: Auth, user_id: str):
    deep = b'{"phase": "p", "snapshot": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    headers = auth(user_id) | {"content-type": "application/json"}
    response = await client.put(f"{SNAPSHOTS}/c1", content=deep, headers=headers)
    assert field_of(response) == "snapshot"


async def test_a_snapshot_at_the_depth_limit_is_kept(client: Client, auth: Auth, user_id: str):
    nested: Any = "leaf"
    for _ in range(64):
        nested = [nested]
    me = auth(user_id)
    response = await client.put(
        f"{SNAPSHOTS}/c1", json={"phase": "p", "snapshot": nested}, headers=me
    )
    assert response.status_code == 202, response.text
    too_deep = await client.put(
        f"{SNAPSHOTS}/c1", json={"phase": "p", "snapshot": [nested]}, headers=me
    )
    assert field_of(too_deep) == "snapshot"


async def test_an_oversized_snapshot_is_413(client: Client, auth: Auth, user_id: str):
    big = {"phase": "p", "snapshot": {"blob": "x" * 1_100_000}}
    response = await client.put(f"{SNAPSHOTS}/c1", json=big, headers=auth(user_id))
    body = assert_problem(response, 413, "PayloadTooLarge")
    assert body["field"] == "snapshot"


LIMIT = 10_000_000


async def test_a_body_over_the_limit_with_an_idempotency_key_is_413(
    client: Client, auth: Auth, user_id: str
):
    headers = auth(user_id) | {"Idempotency-Key": "big", "content-type": "application/json"}
    body = b'{"memory_type": "fact", "content": "' + b"x" * (LIMIT - 35) + b'"}'
    response = await client.post(ITEMS, content=body, headers=headers)
    assert_problem(response, 413, "PayloadTooLarge")


async def test_a_streamed_body_over_the_limit_is_413_without_reading_it_all(
    client: Client, auth: Auth, user_id: str
):
    chunk = b"x" * 1_000_000
    received = 0
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": chunk, "more_body": received < 40}

    async def send(message: Any) -> None:
        sent.append(message)

    headers = auth(user_id) | {"Idempotency-Key": "streamed", "content-type": "application/json"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": ITEMS,
        "raw_path": ITEMS.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    await client.app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "PayloadTooLarge"
    assert received == 11


async def test_an_unknown_memory_type_keeps_its_own_code(client: Client, auth: Auth, user_id: str):
    me = auth(user_id)
    created = await client.post(ITEMS, json=ITEM | {"memory_type": "opinion"}, headers=me)
    assert assert_problem(created, 400, "MemoryInvalidType")["field"] == "memory_type"
    body = {"query": "tea", "memory_types": ["fact", "opinion"]}
    searched = await client.post("/api/v1/memory/search", json=body, headers=me)
    assert assert_problem(searched, 400, "MemoryInvalidType")["field"] == "memory_types[1]"
