"""memvault-client against a live ``memvault serve``: every method, pages, retries, errors."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from memvault_client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    Memory,
    NotFound,
    RateLimited,
    RetryPolicy,
    Unauthorized,
    Unavailable,
)

from tests.clients.live_server import LiveServer, live_server

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=5.0)


def unique_user() -> str:
    return f"client-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mv(server: LiveServer, service_key: str) -> Iterator[Client]:
    with Client(server.url, api_key=service_key, user_id=unique_user(), retry=FAST) as client:
        yield client


def test_a_memory_lives_through_add_get_update_delete_restore_and_history(mv: Client):
    added = mv.add("I love sushi", memory_type="preference", title="food", importance=0.8)
    assert isinstance(added, Memory)
    assert (added.content, added.memory_type, added.status) == (
        "I love sushi",
        "preference",
        "active",
    )
    assert mv.get(added.id) == added
    updated = mv.update(added.id, content="I love ramen", reason="changed taste")
    assert updated.content == "I love ramen"
    assert mv.delete(added.id, reason="not true").status == "deleted"
    with pytest.raises(Conflict) as conflict:
        mv.update(added.id, content="edit a deleted one")
    assert conflict.value.status == 409
    assert mv.restore(added.id).status == "active"
    history = mv.history(added.id)
    assert [e.operation for e in history] == ["create", "update", "delete", "restore"]
    assert {(e.operator_type, e.operator_id) for e in history} == {("service", "client-tests")}
    assert history[1].before is not None
    assert history[1].before["content"] == "I love sushi"


def test_add_many_is_all_or_nothing_and_errors_carry_the_problem_code(mv: Client):
    made = mv.add_many(
        [
            {"content": "Alice is vegetarian", "memory_type": "constraint"},
            {"content": "lives in Oslo"},
        ]
    )
    assert [m.content for m in made] == ["Alice is vegetarian", "lives in Oslo"]
    with pytest.raises(BadRequest) as bad:
        mv.add_many(
            [{"content": "fine", "memory_type": "fact"}, {"content": "x", "memory_type": "nope"}]
        )
    assert bad.value.code == "MemoryInvalidType"
    assert len(list(mv.list())) == 2
    with pytest.raises(NotFound) as missing:
        mv.get(987654321)
    assert missing.value.code == "MemoryItemNotFound"


def test_list_walks_every_page(mv: Client):
    made = mv.add_many([{"content": f"fact number {i}", "memory_type": "fact"} for i in range(7)])
    listed = list(mv.list(page_size=3))
    assert sorted(m.id for m in listed) == sorted(m.id for m in made)
    assert len(listed) == len({m.id for m in listed})
    mv.delete(made[0].id)
    assert [m.id for m in mv.list(status="deleted", page_size=2)] == [made[0].id]
    assert len(list(mv.list(status=["active", "deleted"], memory_type="fact"))) == 7


def test_search_and_context_find_what_was_added(mv: Client):
    mv.add("Alice is allergic to peanuts", memory_type="constraint")
    mv.add("Alice plays the cello", memory_type="fact")
    found = mv.search("peanuts allergy", limit=5)
    assert found.items[0].content == "Alice is allergic to peanuts"
    assert found.items[0].score is not None
    assert 0 <= found.items[0].score <= 1
    block = mv.context("what is alice allergic to, peanuts?")
    assert "peanuts" in block.text
    assert block.items


def test_search_takes_a_type_budget_and_a_metadata_filter(mv: Client):
    apollo = mv.add("Alice reviews the apollo launch plan", metadata={"project": "apollo"})
    mv.add("Alice reviews the gemini launch plan", metadata={"project": "gemini"})
    mv.add("Alice reviews launch plans on Mondays", memory_type="preference")
    only_apollo = mv.search("launch plan", metadata={"project": "apollo"})
    assert [m.id for m in only_apollo.items] == [apollo.id]
    budgeted = mv.search("launch plan", type_budget={"fact": 1}, limit=100)
    assert [m.memory_type for m in budgeted.items].count("fact") == 1
    assert "preference" in {m.memory_type for m in budgeted.items}
    typed = mv.search("launch plan", memory_types=["preference"])
    assert {m.memory_type for m in typed.items} == {"preference"}


async def test_the_async_search_takes_the_same_arguments(server: LiveServer, service_key: str):
    async with AsyncClient(server.url, api_key=service_key, user_id=unique_user()) as mv:
        tagged = await mv.add("Bob tends the orchard", metadata={"place": "farm"})
        await mv.add("Bob tends the bar", metadata={"place": "pub"})
        found = await mv.search("Bob tends", metadata={"place": "farm"}, type_budget={"fact": 5})
    assert [m.id for m in found.items] == [tagged.id]


def test_messages_become_memories_and_wait_for_job_sees_them(mv: Client):
    accepted = mv.ingest_messages(
        "trip", [{"role": "user", "content": "Please remember that my favourite colour is green"}]
    )
    assert accepted[0].extraction == "queued"
    assert accepted[0].job_key is not None
    job = mv.wait_for_job(accepted[0].job_key, timeout=60)
    assert job.status == "success"
    assert job.memory_ids
    assert mv.wait_for_job(job.id).id == job.id
    assert "green" in mv.get(job.memory_ids[0]).content
    assert [j.id for j in mv.jobs(conversation_id="trip")] == [job.id]


def test_settings_are_read_and_changed(mv: Client):
    assert mv.settings().memory_enabled is True
    changed = mv.update_settings(implicit_memory_enabled=False)
    assert changed.implicit_memory_enabled is False
    assert changed.memory_enabled is True
    assert mv.settings().implicit_memory_enabled is False


def test_user_id_per_call_reaches_only_that_users_data(server: LiveServer, service_key: str):
    alice, bob = unique_user(), unique_user()
    with Client(server.url, api_key=service_key, retry=FAST) as mv:
        item = mv.add("alice's note", user_id=alice)
        assert item.user_id == alice
        with pytest.raises(NotFound):
            mv.get(item.id, user_id=bob)
        with pytest.raises(BadRequest) as missing_user:
            mv.get(item.id)
        assert missing_user.value.field == "X-Memvault-User"


def test_a_jwt_and_a_user_key_work_and_a_bad_credential_is_unauthorized(server: LiveServer):
    user = unique_user()
    with Client(server.url, token=server.token(user), retry=FAST) as by_token:
        made = by_token.add("from a token")
    key = server.api_key(f"user:{user}", f"user-key-{user}")
    with Client(server.url, api_key=key, retry=FAST) as by_key:
        assert by_key.get(made.id).content == "from a token"
    with (
        Client(server.url, api_key="mv_not-a-key", retry=FAST) as bad,
        pytest.raises(Unauthorized) as refused,
    ):
        bad.settings()
    assert refused.value.code == "Unauthorized"


async def test_the_async_client_does_the_same(server: LiveServer, service_key: str):
    async with AsyncClient(
        server.url, api_key=service_key, user_id=unique_user(), retry=FAST
    ) as mv:
        made = await mv.add_many([{"content": f"async fact {i}"} for i in range(5)])
        one = await mv.add("I prefer window seats", memory_type="preference")
        assert (await mv.get(one.id)).content == "I prefer window seats"
        assert (await mv.update(one.id, importance=0.9)).importance == 0.9
        assert (await mv.delete(one.id)).status == "deleted"
        assert (await mv.restore(one.id)).status == "active"
        assert [e.operation for e in await mv.history(one.id)] == [
            "create",
            "update",
            "delete",
            "restore",
        ]
        listed = [m.id async for m in mv.list(page_size=2)]
        assert sorted(listed) == sorted([m.id for m in made] + [one.id])
        assert (await mv.search("window seats")).items[0].id == one.id
        assert "window" in (await mv.context("do I like window seats?")).text
        assert (await mv.update_settings(sensitive_memory_enabled=True)).sensitive_memory_enabled
        assert (await mv.settings()).sensitive_memory_enabled is True
        accepted = await mv.ingest_messages(
            "c", [{"role": "user", "content": "remember I live in Lisbon"}]
        )
        assert accepted[0].job_key is not None
        job = await mv.wait_for_job(accepted[0].job_key, timeout=60)
        assert job.status == "success"
        assert (await mv.job(job.id)).job_key == job.job_key
        assert [j.id async for j in mv.jobs(status="success")] == [job.id]


def test_429_is_retried_after_retry_after(tmp_path: Path):
    extra = {"MEMVAULT_RATE_LIMIT_PER_SECOND": "2", "MEMVAULT_RATE_LIMIT_BURST": "1"}
    with live_server(tmp_path / "limited", **extra) as limited:
        token = limited.token(unique_user())
        with Client(limited.url, token=token, retry=FAST) as mv:
            made = [mv.add(f"note {i}") for i in range(3)]
            assert len({m.id for m in made}) == 3
        with Client(limited.url, token=token, retry=RetryPolicy(attempts=1)) as impatient:
            with pytest.raises(RateLimited) as limited_error:
                for _ in range(3):
                    impatient.settings()
            assert limited_error.value.code == "RateLimited"


class Flaky(BaseHTTPRequestHandler):
    """Answers 503 (Retry-After: 0) to the first ``failures`` requests, then 201."""

    failures = 2
    seen: list[dict[str, str]] = []  # noqa: RUF012 - shared by the handler instances

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        Flaky.seen.append(dict(self.headers))
        if len(Flaky.seen) <= Flaky.failures:
            self._answer(
                503, {"status": 503, "code": "Unavailable", "detail": "db down"}, retry_after="0"
            )
        else:
            item = {
                "id": 1,
                "user_id": "u",
                "memory_type": "fact",
                "title": "t",
                "content": "c",
                "status": "active",
            }
            self._answer(201, item)

    def _answer(self, status: int, body: dict[str, object], retry_after: str | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        if retry_after is not None:
            self.send_header("retry-after", retry_after)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def flaky() -> Iterator[str]:
    Flaky.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_503_is_retried_with_the_same_idempotency_key(flaky: str):
    with Client(flaky, token="t", retry=FAST) as mv:
        assert mv.add("c").id == 1
    keys = {headers["Idempotency-Key"] for headers in Flaky.seen}
    assert len(Flaky.seen) == 3
    assert len(keys) == 1


def test_503_after_every_attempt_raises_unavailable(flaky: str):
    Flaky.failures = 10
    try:
        policy = RetryPolicy(attempts=2, base_delay=0.01)
        with Client(flaky, token="t", retry=policy) as mv, pytest.raises(Unavailable) as down:
            mv.add("c")
        assert down.value.code == "Unavailable"
        assert len(Flaky.seen) == 2
    finally:
        Flaky.failures = 2


async def test_the_async_client_retries_503_too(flaky: str):
    async with AsyncClient(flaky, token="t", retry=FAST) as mv:
        assert (await mv.add("c")).id == 1
    assert len(Flaky.seen) == 3
