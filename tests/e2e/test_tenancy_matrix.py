"""Users whose ids look alike never reach each other's data, through any route, on any database.

A cohort of users whose ids differ only by case (``alice``/``ALICE``), accent
(``cafe``/``café``), Unicode normalisation (NFC ``é`` / NFD ``e`` + U+0301) or a trailing
space (``bob``/``bob ``) each get the same memories, the same conversation id, the same
message id, the same idempotency keys and a snapshot, through the real pipeline. Then
every route of the app is walked: no member can read, list, change, delete, restore,
search, get context from or infer another's memories, jobs, history, settings or
snapshots; admin routes are refused to members, and an admin sees what operators may see
(every user's operational records, each attributed to its exact user) and nothing more.

``ROUTES`` maps every (method, path template) of the app to its check. A route the table
does not name fails the suite, so a new endpoint cannot escape it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from litestar import Litestar
from litestar.routes import ASGIRoute, HTTPRoute
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.databases import DIALECTS
from tests.e2e.conftest import SECRET
from tests.e2e.test_items_api import assert_problem

pytestmark = pytest.mark.slow
Client = AsyncTestClient  # type: ignore[type-arg]
API = "/api/v1/memory"
ADMIN = "/api/v1/admin"
SNAPSHOTS = "/api/v1/agent/snapshots"
SHARED_CONTENT = "cafe café and green tea every morning"
"""Every member stores this same text: same hash, same postings, only the user differs."""
PATIENCE_S = 60.0


def cohort_ids(rid: str) -> list[str]:
    """Eight user ids, two by two equal under a case- and accent-insensitive, NFC-folding,
    space-padding comparison, and all different byte for byte."""
    return [
        f"alice-{rid}",
        f"ALICE-{rid}",
        f"cafe-{rid}",
        f"caf\u00e9-{rid}",
        f"ren\u00e9-{rid}",
        f"rene\u0301-{rid}",
        f"bob-{rid}",
        f"bob-{rid} ",
    ]


def headers_of(user: str, *, admin: bool = False) -> dict[str, str]:
    token = issue_token(SECRET, user, admin=admin, ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Member:
    """One user of the cohort and everything the test made for it."""

    name: str
    marker: str
    """A word only this member's memories and snapshot contain."""
    headers: dict[str, str]
    settings: dict[str, bool]
    items: set[int] = field(default_factory=set)
    """Every item this member owns, whatever its status."""
    kept: int = 0
    copy: int = 0
    """Same content as ``kept``: the duplicate a dedup run finds."""
    gone: int = 0
    """Deleted at setup."""
    spare: int = 0
    """Changed by the member itself: the positive control of every write route."""
    job_key: str = ""
    key_id: int = 0
    key: str = ""
    """A ``user:<name>`` API key, once an admin made one."""
    job_id: int = 0
    phase: str = ""


@dataclass
class World:
    client: Client
    rid: str
    members: list[Member]
    admin: dict[str, str]
    conversation: str

    def others(self, me: Member) -> list[Member]:
        return [m for m in self.members if m is not me]

    def lookalike(self, me: Member) -> Member:
        """The member whose id differs from ``me``'s only by case, accent, normal form or
        a space: the one a careless comparison would merge with ``me``."""
        return self.members[self.members.index(me) ^ 1]

    def intruders(self, owner: Member) -> list[Member]:
        """Who tries to reach ``owner``'s ids: its lookalike and an unrelated member."""
        n = self.members.index(owner)
        return [self.lookalike(owner), self.members[(n + 2) % len(self.members)]]

    def member_of(self, user: str) -> Member | None:
        return next((m for m in self.members if m.name == user), None)


async def eventually(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll until ``probe`` holds; fail after ``PATIENCE_S`` (a bound, not a timing claim)."""
    give_up = time.monotonic() + PATIENCE_S
    while not await probe():
        if time.monotonic() > give_up:
            pytest.fail(f"{what} did not happen within {PATIENCE_S}s")
        await asyncio.sleep(0.05)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


# --------------------------------------------------------------------------- setup


async def create_item(world: World, me: Member, content: str, **extra: Any) -> int:
    body = {"memory_type": "fact", "content": content, **extra}
    item = ok(await world.client.post(f"{API}/items", json=body, headers=me.headers), 201)
    assert item["user_id"] == me.name
    me.items.add(item["id"])
    return int(item["id"])


async def set_up_member(world: World, me: Member) -> None:
    client = world.client
    ok(await client.put(f"{API}/settings", json=me.settings, headers=me.headers))
    keyed = {**me.headers, "Idempotency-Key": f"setup-{world.rid}"}
    body = {"memory_type": "fact", "content": SHARED_CONTENT}
    first = ok(await client.post(f"{API}/items", json=body, headers=keyed), 201)
    assert first["user_id"] == me.name, "another user's idempotent response was replayed"
    me.kept = first["id"]
    me.items.add(me.kept)
    me.copy = await create_item(world, me, SHARED_CONTENT)
    me.gone = await create_item(world, me, f"{me.marker} was deleted at once")
    ok(await client.delete(f"{API}/items/{me.gone}", headers=me.headers))
    me.spare = await create_item(world, me, f"{me.marker} spare note")
    me.phase = f"p-{me.marker}"
    snapshot = {"phase": me.phase, "snapshot": {"owner": me.marker}}
    url = f"{SNAPSHOTS}/{world.conversation}"
    ok(await client.put(url, json=snapshot, headers=me.headers), 202)
    turn = {"role": "user", "content": "Remember that I prefer green tea", "message_id": "m-1"}
    posted = ok(
        await client.post(
            f"{API}/messages",
            json={"conversation_id": world.conversation, "messages": [turn]},
            headers=me.headers,
        ),
        202,
    )
    (message,) = posted["messages"]
    assert message["extraction"] == "queued"
    me.job_key = message["job_key"]


async def wait_for_pipeline(world: World, me: Member) -> None:
    client = world.client
    jobs_url = f"{API}/jobs?job_key={me.job_key}"

    async def job_done() -> bool:
        jobs = ok(await client.get(jobs_url, headers=me.headers))["items"]
        if not jobs or jobs[0]["status"] not in ("success", "dead"):
            return False
        assert jobs[0]["status"] == "success", jobs[0]
        me.job_id = jobs[0]["id"]
        me.items.update(jobs[0]["memory_ids"])
        return True

    async def snapshot_stored() -> bool:
        response = await client.get(f"{SNAPSHOTS}/{world.conversation}", headers=me.headers)
        phase = response.json().get("phase") if response.status_code == 200 else None
        assert phase not in {m.phase for m in world.others(me)}, "another user's snapshot"
        return phase == me.phase

    await eventually(job_done, f"the job of {me.name!r}")
    await eventually(snapshot_stored, f"the snapshot of {me.name!r}")


# --------------------------------------------------------------------------- checks


async def list_items(world: World) -> None:
    for me in world.members:
        query = "status=active,archived,deleted&limit=100"
        listed = ok(await world.client.get(f"{API}/items?{query}", headers=me.headers))
        assert {i["id"] for i in listed["items"]} == me.items, me.name
        assert {i["user_id"] for i in listed["items"]} == {me.name}
        in_conversation = f"{API}/items?conversation_id={world.conversation}&{query}"
        scoped = ok(await world.client.get(in_conversation, headers=me.headers))["items"]
        assert {i["id"] for i in scoped} <= me.items


async def create_items(world: World) -> None:
    """The same Idempotency-Key from every member: each gets its own new item."""
    for me in world.members:
        keyed = {**me.headers, "Idempotency-Key": f"walk-{world.rid}"}
        body = {"memory_type": "fact", "content": f"{me.marker} walked here"}
        item = ok(await world.client.post(f"{API}/items", json=body, headers=keyed), 201)
        assert item["user_id"] == me.name
        assert item["id"] not in {i for m in world.others(me) for i in m.items}
        me.items.add(item["id"])


async def create_batches(world: World) -> None:
    for me in world.members:
        keyed = {**me.headers, "Idempotency-Key": f"batch-{world.rid}"}
        body = {
            "items": [{"memory_type": "fact", "content": f"{me.marker} batch {n}"} for n in (1, 2)]
        }
        items = ok(await world.client.post(f"{API}/items/batch", json=body, headers=keyed), 201)
        assert [i["user_id"] for i in items["items"]] == [me.name, me.name]
        new = {i["id"] for i in items["items"]}
        assert not new & {i for m in world.others(me) for i in m.items}
        me.items.update(new)


async def not_found_for_others(
    world: World, send: Callable[[Member, Member], Awaitable[Any]], code: str
) -> None:
    """``send(intruder, owner)`` is refused with a 404 that names nobody."""
    for owner in world.members:
        for intruder in world.intruders(owner):
            problem = assert_problem(await send(intruder, owner), 404, code)
            assert owner.name.strip() not in problem["detail"]


async def item_of(world: World, owner: Member, item_id: int) -> dict[str, Any]:
    item = ok(await world.client.get(f"{API}/items/{item_id}", headers=owner.headers))
    assert item["user_id"] == owner.name
    return dict(item)


def without(number: int, problem: dict[str, Any]) -> dict[str, Any]:
    """The problem with the id in its detail replaced, to compare two answers."""
    return {**problem, "detail": str(problem.get("detail")).replace(str(number), "N")}


async def get_item(world: World) -> None:
    """Another user's item answers exactly like an item that does not exist."""

    async def peek(intruder: Member, owner: Member) -> Any:
        return await world.client.get(f"{API}/items/{owner.kept}", headers=intruder.headers)

    await not_found_for_others(world, peek, "MemoryItemNotFound")
    absent = 10**12
    me, other = world.members[0], world.members[1]
    nothing = (await world.client.get(f"{API}/items/{absent}", headers=me.headers)).json()
    theirs = (await world.client.get(f"{API}/items/{other.kept}", headers=me.headers)).json()
    assert without(other.kept, theirs) == without(absent, nothing)
    for me in world.members:
        await item_of(world, me, me.kept)


async def patch_item(world: World) -> None:
    before = {m.name: await item_of(world, m, m.kept) for m in world.members}

    async def edit(intruder: Member, owner: Member) -> Any:
        body = {"content": f"{intruder.marker} took this over"}
        return await world.client.patch(
            f"{API}/items/{owner.kept}", json=body, headers=intruder.headers
        )

    await not_found_for_others(world, edit, "MemoryItemNotFound")
    for me in world.members:
        after = await item_of(world, me, me.kept)
        assert (after["content"], after["updated_at"]) == (
            before[me.name]["content"],
            before[me.name]["updated_at"],
        )
        body = {"content": f"{me.marker} spare note, edited"}
        edited = ok(
            await world.client.patch(f"{API}/items/{me.spare}", json=body, headers=me.headers)
        )
        assert edited["content"] == body["content"]


async def delete_item(world: World) -> None:
    async def remove(intruder: Member, owner: Member) -> Any:
        return await world.client.delete(f"{API}/items/{owner.kept}", headers=intruder.headers)

    await not_found_for_others(world, remove, "MemoryItemNotFound")
    for me in world.members:
        assert (await item_of(world, me, me.kept))["status"] == "active"
        url = f"{API}/items/{me.spare}"
        assert ok(await world.client.delete(url, headers=me.headers))["status"] == "deleted"
        ok(await world.client.post(f"{url}/restore", headers=me.headers))


async def restore_item(world: World) -> None:
    async def bring_back(intruder: Member, owner: Member) -> Any:
        url = f"{API}/items/{owner.gone}/restore"
        return await world.client.post(url, headers=intruder.headers)

    await not_found_for_others(world, bring_back, "MemoryItemNotFound")
    for me in world.members:
        assert (await item_of(world, me, me.gone))["status"] == "deleted"
        url = f"{API}/items/{me.spare}"
        ok(await world.client.delete(url, headers=me.headers))
        assert (
            ok(await world.client.post(f"{url}/restore", headers=me.headers))["status"] == "active"
        )


async def item_history(world: World) -> None:
    async def read(intruder: Member, owner: Member) -> Any:
        url = f"{API}/items/{owner.kept}/history"
        return await world.client.get(url, headers=intruder.headers)

    await not_found_for_others(world, read, "MemoryItemNotFound")
    for me in world.members:
        url = f"{API}/items/{me.spare}/history"
        entries = ok(await world.client.get(url, headers=me.headers))["items"]
        assert entries[0]["operation"] == "create"
        assert {e["target_id"] for e in entries} == {str(me.spare)}
        assert {e["operator_id"] for e in entries} <= {me.name, None}


async def post_messages(world: World) -> None:
    """The same conversation and message id again: the member's own key, nobody else's."""
    keys = {m.job_key for m in world.members}
    assert len(keys) == len(world.members)
    for me in world.members:
        turn = {"role": "user", "content": "Remember that I prefer green tea", "message_id": "m-1"}
        body = {"conversation_id": world.conversation, "messages": [turn]}
        posted = ok(await world.client.post(f"{API}/messages", json=body, headers=me.headers), 202)
        assert [m["job_key"] for m in posted["messages"]] == [me.job_key]


def query_of(world: World) -> str:
    return " ".join([SHARED_CONTENT, *(m.marker for m in world.members)])


async def search(world: World) -> None:
    for me in world.members:
        for extra in ({}, {"memory_types": ["fact"]}):
            body = {"query": query_of(world), "limit": 20, **extra}
            found = ok(await world.client.post(f"{API}/search", json=body, headers=me.headers))
            ids = {hit["id"] for hit in found["items"]}
            assert {me.kept, me.copy} & ids, "the member's own memory is found (can fail)"
            assert ids <= me.items, f"{me.name!r} found {ids - me.items}"
            assert {hit["user_id"] for hit in found["items"]} == {me.name}


async def context(world: World) -> None:
    for me in world.members:
        body = {"query": query_of(world), "limit": 20, "conversation_id": world.conversation}
        block = ok(await world.client.post(f"{API}/context", json=body, headers=me.headers))
        ids = {hit["id"] for hit in block["items"]}
        assert ids, "the member's own memories make a context (the check can fail)"
        assert ids <= me.items
        for other in world.others(me):
            assert other.marker not in block["text"]


async def read_settings(world: World) -> None:
    for me in world.members:
        got = ok(await world.client.get(f"{API}/settings", headers=me.headers))
        assert {k: got[k] for k in me.settings} == me.settings, me.name


async def write_settings(world: World) -> None:
    for me in world.members:
        flipped = {k: not v for k, v in me.settings.items() if k != "memory_enabled"}
        changed = ok(await world.client.put(f"{API}/settings", json=flipped, headers=me.headers))
        assert {k: changed[k] for k in flipped} == flipped
        other = world.lookalike(me)
        got = ok(await world.client.get(f"{API}/settings", headers=other.headers))
        assert {k: got[k] for k in other.settings} == other.settings, other.name
        ok(await world.client.put(f"{API}/settings", json=me.settings, headers=me.headers))


async def list_jobs(world: World) -> None:
    for me in world.members:

        def url(query: str) -> str:
            return f"{API}/jobs?{query}&limit=100"

        mine = ok(await world.client.get(url("status=success"), headers=me.headers))["items"]
        assert {j["id"] for j in mine} == {me.job_id}
        shared = f"conversation_id={world.conversation}&message_id=m-1"  # every member's
        jobs = ok(await world.client.get(url(shared), headers=me.headers))["items"]
        assert [j["id"] for j in jobs] == [me.job_id]
        other = world.lookalike(me)
        found = ok(await world.client.get(url(f"job_key={other.job_key}"), headers=me.headers))
        assert found["items"] == []


async def get_job(world: World) -> None:
    async def peek(intruder: Member, owner: Member) -> Any:
        return await world.client.get(f"{API}/jobs/{owner.job_id}", headers=intruder.headers)

    absent = 10**12
    for owner in world.members:
        nothing = await world.client.get(f"{API}/jobs/{absent}", headers=owner.headers)
        for intruder in world.intruders(owner):
            theirs = await peek(intruder, owner)
            assert theirs.status_code == nothing.status_code == 404
            assert without(owner.job_id, theirs.json()) == without(absent, nothing.json())
        job = ok(await world.client.get(f"{API}/jobs/{owner.job_id}", headers=owner.headers))
        assert job["job_key"] == owner.job_key


async def read_snapshot(world: World) -> None:
    for me in world.members:
        url = f"{SNAPSHOTS}/{world.conversation}"
        snapshot = ok(await world.client.get(url, headers=me.headers))
        assert (snapshot["phase"], snapshot["snapshot"]) == (me.phase, {"owner": me.marker})


async def write_snapshot(world: World) -> None:
    url = f"{SNAPSHOTS}/{world.conversation}"
    for me in world.members:
        me.phase = f"w-{me.marker}"
        body = {"phase": me.phase, "snapshot": {"owner": me.marker}}
        ok(await world.client.put(url, json=body, headers=me.headers), 202)
    for me in world.members:

        async def stored(me: Member = me) -> bool:
            got = ok(await world.client.get(url, headers=me.headers))
            return bool(got["phase"] == me.phase)

        await eventually(stored, f"the new snapshot of {me.name!r}")
    await read_snapshot(world)


# ----------------------------------------------------------------- admin routes


async def admin_pages(world: World, path: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = ok(await world.client.get(f"{ADMIN}/{path}?{query}", headers=world.admin))
        rows += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows


async def admin_jobs(world: World) -> None:
    """Operators see every user's jobs, each attributed to its exact user."""
    owners = {row["id"]: row["user_id"] for row in await admin_pages(world, "jobs")}
    for me in world.members:
        assert owners[me.job_id] == me.name


async def admin_retry_job(world: World) -> None:
    for me in world.members:
        url = f"{ADMIN}/jobs/{me.job_id}/retry"
        response = await world.client.post(url, headers=world.admin)
        assert_problem(response, 409, "InvalidTransition")  # a successful job stays done
        job = ok(await world.client.get(f"{API}/jobs/{me.job_id}", headers=me.headers))
        assert job["status"] == "success"


async def admin_outbox(world: World) -> None:
    """Every event of the cohort (a turn and a snapshot each, at least) is listed under
    the user its payload names, byte for byte."""
    rows = [r for r in await admin_pages(world, "outbox") if world.rid in r["payload"]]
    kinds: dict[str, set[str]] = {}
    for row in rows:
        assert json.loads(row["payload"])["payload"]["user_id"] == row["user_id"]
        kinds.setdefault(row["user_id"], set()).add(row["event_type"])
    both = {"memory.extract.requested", "agent.state.snapshot.persist"}
    assert kinds == {m.name: both for m in world.members}


async def admin_retry_outbox(world: World) -> None:
    response = await world.client.post(f"{ADMIN}/outbox/999999999/retry", headers=world.admin)
    assert response.status_code == 404, response.text


LONG_AGO = "2000-01-01T00:00:00Z"


async def admin_retry_jobs(world: World) -> None:
    """A bulk retry filtered on one member touches none of its (successful) jobs and
    none of anyone else's; only failed or dead jobs can be asked for."""
    for me in world.members:
        body = {"status": "dead", "since": LONG_AGO, "user_id": me.name, "reason": "matrix"}
        result = ok(await world.client.post(f"{ADMIN}/jobs/retry", json=body, headers=world.admin))
        assert result == {"retried": 0, "ids": []}
        job = ok(await world.client.get(f"{API}/jobs/{me.job_id}", headers=me.headers))
        assert job["status"] == "success"
    wrong = {"status": "success", "since": LONG_AGO}
    response = await world.client.post(f"{ADMIN}/jobs/retry", json=wrong, headers=world.admin)
    assert response.status_code == 400, response.text


async def admin_retry_outbox_rows(world: World) -> None:
    for me in world.members:
        body = {"status": "dead", "since": LONG_AGO, "user_id": me.name}
        url = f"{ADMIN}/outbox/retry"
        assert ok(await world.client.post(url, json=body, headers=world.admin))["retried"] == 0
    wrong = {"status": "pending", "since": LONG_AGO}
    response = await world.client.post(f"{ADMIN}/outbox/retry", json=wrong, headers=world.admin)
    assert response.status_code == 400, response.text


async def admin_dead_events(world: World) -> None:
    ok(await world.client.get(f"{ADMIN}/dead-events?limit=100", headers=world.admin))


async def admin_dedup(world: World) -> None:
    """A dry run for one user counts that user's duplicates only."""
    for me in world.members:
        body = {"user_id": me.name, "dry_run": True}
        report = ok(await world.client.post(f"{ADMIN}/dedup", json=body, headers=world.admin))
        assert len(report["archived_ids"]) == 1
        assert set(report["archived_ids"]) <= {me.kept, me.copy}
        assert report["scanned_group_count"] == 1


async def admin_reindex(world: World) -> None:
    ok(await world.client.post(f"{ADMIN}/reindex", headers=world.admin))
    await search(world)


async def admin_sees_only_its_own_memories(world: World) -> None:
    """The admin scope opens the operator endpoints only: on the user routes an admin is
    one more user, with no memories, jobs or snapshots of anyone else."""
    client, admin = world.client, world.admin
    listed = ok(await client.get(f"{API}/items?status=active,archived,deleted", headers=admin))
    assert listed["items"] == []
    assert ok(await client.get(f"{API}/jobs", headers=admin))["items"] == []
    body = {"query": query_of(world), "limit": 20}
    assert ok(await client.post(f"{API}/search", json=body, headers=admin))["items"] == []
    for me in world.members:
        response = await client.get(f"{API}/items/{me.kept}", headers=admin)
        assert_problem(response, 404, "MemoryItemNotFound")
        assert (await client.get(f"{API}/jobs/{me.job_id}", headers=admin)).status_code == 404
    snapshot = await client.get(f"{SNAPSHOTS}/{world.conversation}", headers=admin)
    assert snapshot.status_code == 404


def exported(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


async def export_own(world: World) -> None:
    """A member's export holds every one of its memories and nobody else's."""
    for me in world.members:
        for query in ("", "?format=json&history=true"):
            response = await world.client.get(f"{API}/export{query}", headers=me.headers)
            rows = response.json() if query else exported(response)
            assert response.status_code == 200, response.text
            assert {m["id"] for m in rows} == me.items, me.name
            assert {m["user_id"] for m in rows} == {me.name}


async def admin_export(world: World) -> None:
    """An operator's export of one user is that exact user's memories only."""
    for me in world.members:
        url = f"{ADMIN}/export?user_id={quote(me.name)}"
        rows = exported(await world.client.get(url, headers=world.admin))
        assert {m["id"] for m in rows} == me.items, me.name
        assert {m["user_id"] for m in rows} == {me.name}


async def admin_import(world: World) -> None:
    """Re-importing a member's export lands nothing in a lookalike's account."""
    me, other = world.members[0], world.members[1]
    url = f"{ADMIN}/export?user_id={quote(me.name)}"
    lines = (await world.client.get(url, headers=world.admin)).text
    ok(await world.client.post(f"{ADMIN}/import", content=lines, headers=world.admin))
    for member in (me, other):
        listed = ok(
            await world.client.get(
                f"{API}/items?status=active,archived,deleted&limit=100", headers=member.headers
            )
        )
        assert {i["user_id"] for i in listed["items"]} == {member.name}
    await list_items(world)


async def admin_create_keys(world: World) -> None:
    """A ``user:<id>`` key of each member reaches that exact member's memories only."""
    for me in world.members:
        body = {"name": f"key-{me.marker}", "scope": f"user:{me.name}"}
        made = ok(await world.client.post(f"{ADMIN}/keys", json=body, headers=world.admin), 201)
        assert made["scope"] == f"user:{me.name}"
        me.key_id, me.key = made["id"], made["key"]
    for me in world.members:
        keyed = {"Authorization": f"Bearer {me.key}"}
        url = f"{API}/items?status=active,archived,deleted&limit=100"
        listed = ok(await world.client.get(url, headers=keyed))
        assert {i["id"] for i in listed["items"]} == me.items, me.name


async def admin_list_keys(world: World) -> None:
    keys = ok(await world.client.get(f"{ADMIN}/keys", headers=world.admin))["items"]
    scopes = {k["id"]: k["scope"] for k in keys}
    for me in world.members:
        if me.key_id:
            assert scopes[me.key_id] == f"user:{me.name}"
    assert all("key" not in k for k in keys), "a listed key never shows its secret"


async def revoke(world: World, method: str, suffix: str) -> None:
    """Revoking one member's key leaves its lookalike's key working."""
    if not world.members[0].key_id:
        await admin_create_keys(world)
    for me in world.members[::2]:
        if not me.key_id:
            continue
        url = f"{ADMIN}/keys/{me.key_id}{suffix}"
        ok(await world.client.request(method, url, headers=world.admin))
        gone = await world.client.get(f"{API}/items", headers={"Authorization": f"Bearer {me.key}"})
        assert gone.status_code == 401
        twin = world.lookalike(me)
        if twin.key_id:
            keyed = {"Authorization": f"Bearer {twin.key}"}
            assert (await world.client.get(f"{API}/items", headers=keyed)).status_code == 200


async def admin_revoke_key(world: World) -> None:
    await revoke(world, "POST", "/revoke")


async def admin_delete_key(world: World) -> None:
    await revoke(world, "DELETE", "")


async def mcp_tools(world: World) -> None:
    """The MCP mount: no token is a 401; each member's ``list`` tool lists its own
    memories only (the tools call the API with the caller's credentials)."""
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "list", "arguments": {"limit": 100}},
    }
    accept = {"Accept": "application/json, text/event-stream"}
    assert (await world.client.post("/mcp", json=call, headers=accept)).status_code == 401
    for me in world.members:
        answer = ok(await world.client.post("/mcp", json=call, headers={**accept, **me.headers}))
        listed = answer["result"]["structuredContent"]["memories"]
        ids = {m["id"] for m in listed}
        assert ids, me.name
        assert ids <= me.items, me.name


# ------------------------------------------------------------------ the table


class Public:
    """Needs no token and shows nothing about any user."""


@dataclass(frozen=True)
class Admin:
    """Refused (403) to every member; ``check`` runs with an admin token."""

    check: Callable[[World], Awaitable[None]]
    probe: str


Check = Callable[[World], Awaitable[None]]

ROUTES: dict[tuple[str, str], Check | Public | Admin] = {
    ("GET", "/healthz"): Public(),
    ("GET", "/readyz"): Public(),
    ("GET", "/metrics"): Public(),
    ("GET", "/schema"): Public(),
    ("GET", "/schema/openapi.json"): Public(),
    ("GET", "/schema/openapi.yaml"): Public(),
    ("GET", "/schema/openapi.yml"): Public(),
    ("GET", "/schema/swagger"): Public(),
    ("GET", "/schema/redoc"): Public(),
    ("GET", "/schema/rapidoc"): Public(),
    ("GET", "/schema/elements"): Public(),
    ("GET", "/schema/oauth2-redirect.html"): Public(),
    ("GET", "/schema/{path:str}"): Public(),
    ("GET", "/ui"): Public(),
    ("GET", "/ui/{name:str}"): Public(),
    ("GET", f"{API}/items"): list_items,
    ("POST", f"{API}/items"): create_items,
    ("POST", f"{API}/items/batch"): create_batches,
    ("GET", f"{API}/items/{{item_id:int}}"): get_item,
    ("PATCH", f"{API}/items/{{item_id:int}}"): patch_item,
    ("DELETE", f"{API}/items/{{item_id:int}}"): delete_item,
    ("POST", f"{API}/items/{{item_id:int}}/restore"): restore_item,
    ("GET", f"{API}/items/{{item_id:int}}/history"): item_history,
    ("POST", f"{API}/messages"): post_messages,
    ("POST", f"{API}/search"): search,
    ("POST", f"{API}/context"): context,
    ("GET", f"{API}/settings"): read_settings,
    ("PUT", f"{API}/settings"): write_settings,
    ("GET", f"{API}/jobs"): list_jobs,
    ("GET", f"{API}/jobs/{{job_id:int}}"): get_job,
    ("GET", f"{SNAPSHOTS}/{{conversation_id:str}}"): read_snapshot,
    ("PUT", f"{SNAPSHOTS}/{{conversation_id:str}}"): write_snapshot,
    ("GET", f"{ADMIN}/jobs"): Admin(admin_jobs, f"{ADMIN}/jobs"),
    ("POST", f"{ADMIN}/jobs/{{job_id:int}}/retry"): Admin(admin_retry_job, f"{ADMIN}/jobs/1/retry"),
    ("GET", f"{ADMIN}/outbox"): Admin(admin_outbox, f"{ADMIN}/outbox"),
    ("POST", f"{ADMIN}/outbox/{{outbox_id:int}}/retry"): Admin(
        admin_retry_outbox, f"{ADMIN}/outbox/1/retry"
    ),
    ("POST", f"{ADMIN}/jobs/retry"): Admin(admin_retry_jobs, f"{ADMIN}/jobs/retry"),
    ("POST", f"{ADMIN}/outbox/retry"): Admin(admin_retry_outbox_rows, f"{ADMIN}/outbox/retry"),
    ("GET", f"{ADMIN}/dead-events"): Admin(admin_dead_events, f"{ADMIN}/dead-events"),
    ("POST", f"{ADMIN}/dedup"): Admin(admin_dedup, f"{ADMIN}/dedup"),
    ("POST", f"{ADMIN}/reindex"): Admin(admin_reindex, f"{ADMIN}/reindex"),
    ("GET", f"{API}/export"): export_own,
    ("GET", f"{ADMIN}/export"): Admin(admin_export, f"{ADMIN}/export"),
    ("POST", f"{ADMIN}/import"): Admin(admin_import, f"{ADMIN}/import"),
    ("ASGI", "/mcp"): mcp_tools,
    ("POST", f"{ADMIN}/keys"): Admin(admin_create_keys, f"{ADMIN}/keys"),
    ("GET", f"{ADMIN}/keys"): Admin(admin_list_keys, f"{ADMIN}/keys"),
    ("POST", f"{ADMIN}/keys/{{key_id:int}}/revoke"): Admin(
        admin_revoke_key, f"{ADMIN}/keys/1/revoke"
    ),
    ("DELETE", f"{ADMIN}/keys/{{key_id:int}}"): Admin(admin_delete_key, f"{ADMIN}/keys/1"),
}
AUTOMATIC = {"OPTIONS"}
"""Litestar's own preflight handler on every path: no token, no body, no data."""


def app_routes(app: Litestar) -> Iterator[tuple[str, str]]:
    """Every (method, path template) the app answers, whatever kind of route serves it."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            yield ("ASGI" if isinstance(route, ASGIRoute) else "WEBSOCKET", route.path)
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                yield (method, route.path)


def concrete(path: str) -> str:
    """A request path for a template: ``1`` for integers, a page nobody has for strings."""
    return re.sub(r"\{\w+:str\}", "no-such-page", re.sub(r"\{\w+:int\}", "1", path))


async def check_public(world: World, method: str, path: str) -> None:
    response = await world.client.request(method, concrete(path))
    expected = 404 if "{" in path else 200  # a free-form page name finds no page
    assert response.status_code == expected, response.text
    assert world.rid not in response.text, "a public route names a user or their data"


async def check_admin(world: World, method: str, route: Admin) -> None:
    for me in world.members[:2]:  # the scope decides, not the id: one pair is enough
        response = await world.client.request(method, route.probe, headers=me.headers, json={})
        assert_problem(response, 403, "Forbidden")
    await route.check(world)


async def check_preflight(world: World, path: str) -> None:
    """Without a token a preflight answers with nothing, or is refused; it never fails.
    (Which of the two an operator route gives is ``test_auth_and_tenancy``'s business.)"""
    response = await world.client.options(concrete(path))
    if response.status_code == 204:
        assert response.content == b""
    else:
        assert_problem(response, 403, "Forbidden")
    assert world.rid not in response.text


# ------------------------------------------------------------------ the tests


def make_settings(data_dir: Path, url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        rate_limit_per_second=1_000_000,
        rate_limit_burst=1_000_000,
        relay_poll_interval_s=0.05,
    )


def test_the_table_names_every_route_of_the_app(tmp_path: Path, database_urls: dict[str, str]):
    app = create_app(make_settings(tmp_path, database_urls["sqlite"]))
    served = {key for key in app_routes(app) if key[0] not in AUTOMATIC}
    assert served - ROUTES.keys() == set(), "add these routes to ROUTES with a check"
    assert ROUTES.keys() - served == set(), "these ROUTES entries no longer exist"


@pytest.fixture(params=DIALECTS)
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, database_urls: dict[str, str]
) -> AsyncIterator[World]:
    settings = make_settings(tmp_path / "data", database_urls[request.param])
    async with AsyncTestClient(create_app(settings)) as client:
        rid = uuid.uuid4().hex[:8]
        members = [
            Member(
                name=name,
                marker=f"mark{n}x{rid}",
                headers=headers_of(name),
                settings={
                    "memory_enabled": True,
                    "implicit_memory_enabled": n % 2 == 0,
                    "sensitive_memory_enabled": n % 3 == 0,
                },
            )
            for n, name in enumerate(cohort_ids(rid))
        ]
        admin = headers_of(f"admin-{rid}", admin=True)
        yield World(client, rid, members, admin, conversation=f"conv-{rid}")


async def test_lookalike_users_never_reach_each_others_data(world: World, subtests: Any):
    await asyncio.gather(*(set_up_member(world, me) for me in world.members))
    await asyncio.gather(*(wait_for_pipeline(world, me) for me in world.members))
    app = world.client.app
    assert isinstance(app, Litestar)
    for method, path in app_routes(app):
        with subtests.test(msg=f"{method} {path}"):
            if method in AUTOMATIC:
                await check_preflight(world, path)
                continue
            route = ROUTES.get((method, path))
            assert route is not None, f"{method} {path} is not in ROUTES"
            if isinstance(route, Public):
                await check_public(world, method, path)
            elif isinstance(route, Admin):
                await check_admin(world, method, route)
            else:
                await route(world)
    await admin_sees_only_its_own_memories(world)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_reported_mariadb_leak_and_500_are_gone(
    dialect: str, tmp_path: Path, database_urls: dict[str, str]
):
    """Issue 11 as reported: alice's item was listed with the tokens of ``ALICE`` and
    ``alice ``, and ``cafe café`` answered 500 (the two postings collided)."""
    rid = uuid.uuid4().hex[:8]
    alice = f"alice-{rid}"
    settings = make_settings(tmp_path / "data", database_urls[dialect])
    async with AsyncTestClient(create_app(settings)) as client:
        body = {"memory_type": "fact", "content": "cafe café"}
        item = ok(await client.post(f"{API}/items", json=body, headers=headers_of(alice)), 201)
        for lookalike in (f"ALICE-{rid}", f"alice-{rid} ", f"alicé-{rid}"):
            listed = ok(await client.get(f"{API}/items", headers=headers_of(lookalike)))
            assert listed["items"] == [], lookalike
        listed = ok(await client.get(f"{API}/items", headers=headers_of(alice)))
        assert [i["id"] for i in listed["items"]] == [item["id"]]
