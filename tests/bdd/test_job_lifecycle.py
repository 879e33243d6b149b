"""Steps for features/job_lifecycle.feature.

Untagged scenarios run on the in-process stack (the embedded default on SQLite), with
an extractor that fails on demand and a job queue that can hold its messages. Scenarios
tagged ``@e2e`` run the same steps against separate ``serve``, ``relay`` and ``worker``
processes on PostgreSQL and Redis. Both are driven over HTTP; the steps that play a
worker that died reach the database through the container, like a worker would.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from dependency_injector import providers
from litestar.testing import TestClient
from pydantic import SecretStr
from pytest_bdd import given, parsers, scenarios, then, when
from sqlalchemy import update

from memvault.adapters.sqlalchemy.tables import memory_jobs
from memvault.application.events import envelope
from memvault.application.ports.event_bus import OutgoingEvent
from memvault.application.ports.repositories import ClaimOutcome
from memvault.container import Container, Infrastructure, Settings, build_infrastructure
from memvault.domain.jobs import ExtractionJob, ExtractPayload, JobStatus, extract_job_key
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.bdd.job_doubles import HeldJobQueue, ScriptedExtractor
from tests.e2e.scale_stack import ScaleStack, scale_stack

scenarios("job_lifecycle.feature")

T = TypeVar("T")
SECRET = "bdd-jobs-secret-" + "z" * 64
TIMINGS: dict[str, Any] = {
    "job_backoff_base_s": 0.05,
    "job_lease_s": 1.0,
    "sweep_interval_s": 0.2,
    "relay_poll_interval_s": 0.05,
    "job_max_retry": 3,
    # Longer than a step takes on a loaded machine: a message the paused queue holds
    # looks lost once the grace is over, and the sweeper would send the job again.
    "job_requeue_grace_s": 5.0,
}
QUICK = {"vector_store": "memory", "embedder": "hashing"}
DEADLINE_S = 20.0
DEAD_WORKER = "worker-that-died"
JOBS = "/api/v1/memory/jobs"
ITEMS = "/api/v1/memory/items"


class World:
    def __init__(
        self,
        client: httpx.Client,
        infra: Infrastructure,
        suffix: str,
        *,
        extractor: ScriptedExtractor | None = None,
        queue: HeldJobQueue | None = None,
        stack: ScaleStack | None = None,
    ) -> None:
        self.client = client
        self.infra = infra
        self.suffix = suffix
        self.extractor = extractor
        self.queue = queue
        self.stack = stack
        self.tokens: dict[str, dict[str, str]] = {}
        self.speaker = ""
        self.job_key = ""
        self.response: httpx.Response | None = None

    def user(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    def headers(self, name: str) -> dict[str, str]:
        return self.tokens[name]

    def conversation(self) -> str:
        return f"conversation-{self.suffix}"

    def through_container(self, work: Callable[[Container], Awaitable[T]]) -> T:
        """Run ``work`` on a container of this thread's own loop (the way a worker
        process reaches the database)."""

        async def run() -> T:
            loops = self.infra.loops()
            try:
                return await work(loops.current())
            finally:
                await loops.close_current()

        return asyncio.run(run())

    def eventually(self, probe: Callable[[], T | None], what: str) -> T:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            found = probe()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                logs = f"\n{self.stack.log_tails()}" if self.stack else ""
                raise AssertionError(f"timed out waiting for {what}{logs}")
            time.sleep(0.02)

    def job(self) -> dict[str, Any] | None:
        response = self.client.get(
            JOBS, params={"job_key": self.job_key}, headers=self.headers(self.speaker)
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        return dict(items[0]) if items else None

    def listed(self, path: str, name: str) -> list[dict[str, Any]]:
        response = self.client.get(path, params={"limit": 100}, headers=self.headers(name))
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


def side_settings(**overrides: Any) -> Settings:
    return Settings(auth_jwt_secret=SecretStr(SECRET), **QUICK, **TIMINGS, **overrides)


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleStack]:
    env = {f"MEMVAULT_{name.upper()}": str(value) for name, value in (QUICK | TIMINGS).items()}
    env["MEMVAULT_AUTH_JWT_SECRET"] = SECRET
    with scale_stack(tmp_path_factory.mktemp("scale"), env) as stack:
        yield stack


@pytest.fixture
def world(
    request: pytest.FixtureRequest, tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> Iterator[World]:
    if request.node.get_closest_marker("e2e"):
        stack: ScaleStack = request.getfixturevalue("scale")
        env = stack.env
        infra = build_infrastructure(
            side_settings(
                data_dir=tmp_path,
                database_url=env["MEMVAULT_DATABASE_URL"],
                broker="redis",
                event_bus="redis",
                redis_url=env["MEMVAULT_REDIS_URL"],
                event_topic=env["MEMVAULT_EVENT_TOPIC"],
                broker_namespace=env["MEMVAULT_BROKER_NAMESPACE"],
            )
        )
        with httpx.Client(base_url=stack.base_url, timeout=10) as client:
            yield World(client, infra, user_id, stack=stack)
        return
    settings = side_settings(
        data_dir=tmp_path, database_url=database_urls["sqlite"], broker="memory", event_bus="memory"
    )
    infra = build_infrastructure(settings)
    extractor = ScriptedExtractor(infra.extractor())
    infra.extractor.override(providers.Object(extractor))
    queue = HeldJobQueue(infra.job_queue())
    infra.job_queue.override(providers.Object(queue))
    with TestClient(create_app(settings, infra=infra)) as client:
        yield World(client, infra, user_id, extractor=extractor, queue=queue)


# --- given ------------------------------------------------------------------------------


@given("the memvault API is running")
def api_running(world: World) -> None:
    assert world.client.get("/healthz").status_code == 200


@given(parsers.parse('"{name}" has a token'))
def has_token(world: World, name: str) -> None:
    token = issue_token(SECRET, world.user(name))
    world.tokens[name] = {"Authorization": f"Bearer {token}"}


@given("the job workers are paused")
def workers_paused(world: World) -> None:
    assert world.queue is not None, "only the in-process stack can pause its workers"
    world.queue.pause()


@given(parsers.parse('extraction of "{name}"\'s messages fails {times:d} times with "{reason}"'))
def extraction_fails(world: World, name: str, times: int, reason: str) -> None:
    assert world.extractor is not None, "only the in-process stack has a scripted extractor"
    world.extractor.fail(world.user(name), times=times, reason=reason)


@given(parsers.parse('extraction of "{name}"\'s message "{text}" is held'))
def extraction_held(world: World, name: str, text: str) -> None:
    assert world.extractor is not None, "only the in-process stack has a scripted extractor"
    world.extractor.hold(world.user(name), text)


@given(parsers.parse('"{name}" turned her memory off'))
def memory_off(world: World, name: str) -> None:
    response = world.client.put(
        "/api/v1/memory/settings", json={"memory_enabled": False}, headers=world.headers(name)
    )
    assert response.status_code == 200, response.text
    assert response.json()["memory_enabled"] is False


def taken_by_dead_worker(world: World, name: str, text: str, *, attempt: int) -> None:
    """A worker claimed the job for its ``attempt``-th try and vanished without a word."""
    settings = world.infra.settings()
    user_id, conversation = world.user(name), world.conversation()
    key = extract_job_key(user_id=user_id, conversation_id=conversation, text=text)

    async def claim_and_vanish(container: Container) -> None:
        now = container.clock().now()
        payload = ExtractPayload(
            user_id=user_id,
            conversation_id=conversation,
            source_role="user",
            source_text=text,
            occurred_at=now,
            idempotency_key=key,
        )
        job = ExtractionJob(
            user_id=user_id,
            conversation_id=conversation,
            source_event_id=uuid.uuid4().hex,
            idempotency_key=key,
            payload_json=payload.to_json(),
            max_retry=settings.job_max_retry,
            retry_count=attempt - 1,
            next_retry_at=now,
            created_at=now,
            updated_at=now,
        )
        async with container.uow()() as uow:
            job_id = await uow.jobs.add_unless_exists(job)
            assert job_id is not None
            outcome, _ = await uow.jobs.claim(
                job_id, worker=DEAD_WORKER, now=now, lease=timedelta(seconds=settings.job_lease_s)
            )
            assert outcome is ClaimOutcome.CLAIMED
            await uow.commit()

    world.through_container(claim_and_vanish)
    world.speaker, world.job_key = name, key


@given(parsers.parse('a worker took "{name}"\'s message "{text}" and died'))
def worker_died(world: World, name: str, text: str) -> None:
    taken_by_dead_worker(world, name, text, attempt=1)


@given(parsers.parse('a worker took "{name}"\'s message "{text}" on attempt {attempt:d} and died'))
def worker_died_on_attempt(world: World, name: str, text: str, attempt: int) -> None:
    taken_by_dead_worker(world, name, text, attempt=attempt)


@given(parsers.parse('a worker took "{name}"\'s message "{text}" on its last attempt and died'))
def worker_died_on_last_attempt(world: World, name: str, text: str) -> None:
    taken_by_dead_worker(world, name, text, attempt=world.infra.settings().job_max_retry)


# --- when -------------------------------------------------------------------------------


def send(world: World, name: str, turns: list[dict[str, str]]) -> list[dict[str, Any]]:
    response = world.client.post(
        "/api/v1/memory/messages",
        json={"conversation_id": world.conversation(), "messages": turns},
        headers=world.headers(name),
    )
    assert response.status_code == 202, response.text
    world.response = response
    results = list(response.json()["messages"])
    queued = [r["job_key"] for r in results if r["job_key"]]
    if queued:
        world.speaker, world.job_key = name, queued[-1]
    return results


@when(parsers.parse('"{name}" says "{text}"'))
def says(world: World, name: str, text: str) -> None:
    (result,) = send(world, name, [{"role": "user", "content": text}])
    assert result["extraction"] == "queued"


@when(parsers.parse('"{name}" has this conversation:'))
def conversation(world: World, name: str, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    send(world, name, [dict(zip(header, row, strict=True)) for row in rows])


@when("the job workers resume")
def workers_resume(world: World) -> None:
    assert world.queue is not None
    world.queue.resume()


@when("a worker attempts her job")
def worker_attempts(world: World) -> None:
    queue = world.queue
    assert queue is not None
    job = world.eventually(world.job, "her job")
    before = job["attempts"]
    world.eventually(lambda: queue.held_delay(job["id"]) is not None or None, "her job queued")
    queue.release()

    def settled() -> dict[str, Any] | None:
        job = world.job()
        if job is None:
            return None
        done = job["status"] == "success" or (
            job["status"] in ("failed", "dead") and job["attempts"] > before
        )
        return job if done else None

    world.eventually(settled, "the attempt to finish")


@when("the held extraction goes on")
def extraction_goes_on(world: World) -> None:
    assert world.extractor is not None
    world.extractor.go_on()


@when("her job's lease runs out and the sweeper rescues it")
def lease_runs_out(world: World) -> None:
    """The worker still runs (held in its extraction) and keeps renewing its lease; the
    lease is ended by hand and the sweeper run at once, until a rescue wins the race."""
    job = world.eventually(world.job, "her job")

    async def expire_and_rescue(container: Container) -> bool:
        past = container.clock().now() - timedelta(seconds=1)
        async with container.engine().begin() as conn:
            await conn.execute(
                update(memory_jobs).where(memory_jobs.c.id == job["id"]).values(locked_until=past)
            )
        await container.rescue_jobs()()
        async with container.uow()() as uow:
            rescued = await uow.jobs.get(job["id"])
        return rescued is not None and rescued.status is not JobStatus.PROCESSING

    world.eventually(lambda: world.through_container(expire_and_rescue) or None, "a rescue")


@when("the event bus delivers that message's event again")
def delivered_again(world: World) -> None:
    user_id, key = world.user(world.speaker), world.job_key

    async def republish(container: Container) -> None:
        rows, _ = await container.list_outbox()(status=None, limit=100, cursor=None)
        (row,) = [r for r in rows if r.user_id == user_id and key in r.payload]
        await container.publisher().publish(
            [OutgoingEvent(key=row.message_key, value=envelope(row))]
        )

    world.through_container(republish)


@when(parsers.parse('an operator retries her job because "{reason}"'))
def operator_retries(world: World, reason: str) -> None:
    job = world.eventually(world.job, "her job")
    admin = issue_token(SECRET, world.user("operator"), admin=True)
    world.response = world.client.post(
        f"/api/v1/admin/jobs/{job['id']}/retry",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert world.response.status_code == 200, world.response.text


# --- then -------------------------------------------------------------------------------


@then(parsers.re(r'her job is "(?P<status>\w+)" after (?P<attempts>\d+) attempts?'))
def job_is(world: World, status: str, attempts: str) -> None:
    seen: list[dict[str, Any] | None] = [None]

    def matches() -> dict[str, Any] | None:
        job = seen[0] = world.job()
        if job and job["status"] == status and job["attempts"] == int(attempts):
            return job
        return None

    try:
        world.eventually(matches, f'her job to be "{status}" after {attempts} attempt(s)')
    except AssertionError as error:
        raise AssertionError(f"{error}\nlast seen: {seen[0]}") from None


@then(parsers.parse('the operator sees it "{status}" after {attempts:d} attempts'))
def operator_sees(world: World, status: str, attempts: int) -> None:
    assert world.response is not None
    job = world.response.json()
    assert (job["status"], job["attempts"]) == (status, attempts), job


def current_job(world: World) -> dict[str, Any]:
    job = world.job()
    assert job is not None
    return job


@then(parsers.parse('its last error says "{reason}"'))
def last_error(world: World, reason: str) -> None:
    error = current_job(world)["last_error"]
    assert error is not None
    assert reason in error, error


@then(parsers.parse("its next retry is due {ms:d} ms after the failure"))
def next_retry(world: World, ms: int) -> None:
    job = current_job(world)
    assert job["next_retry_at"] is not None, job
    due = datetime.fromisoformat(job["next_retry_at"]) - datetime.fromisoformat(job["updated_at"])
    assert abs(due - timedelta(milliseconds=ms)) < timedelta(milliseconds=1), job


@then("its retry is queued for when it is due")
def retry_queued_when_due(world: World) -> None:
    assert world.queue is not None
    job = current_job(world)
    due = datetime.fromisoformat(job["next_retry_at"]) - datetime.fromisoformat(job["updated_at"])
    delay = world.eventually(lambda: world.queue.held_delay(job["id"]), "her retry queued")
    assert abs(timedelta(milliseconds=delay) - due) <= timedelta(milliseconds=1), (delay, job)


@then("her job is parked, with no message on its way")
def job_parked(world: World) -> None:
    key = world.job_key

    async def parked(container: Container) -> bool:
        async with container.uow()() as uow:
            job_id = await uow.jobs.id_for_key(key)
            job = await uow.jobs.get(job_id) if job_id is not None else None
        return job is not None and job.status is JobStatus.PENDING and job.enqueued_at is None

    world.eventually(lambda: world.through_container(parked) or None, "her job parked")


@then(parsers.parse('no job of "{name}" was sent to the queue more than twice'))
def sent_at_most_twice(world: World, name: str) -> None:
    assert world.queue is not None
    sends = {job["id"]: world.queue.sends[job["id"]] for job in world.listed(JOBS, name)}
    assert sends
    assert max(sends.values()) <= 2, sends


@then("no retry is scheduled")
def no_retry(world: World) -> None:
    assert current_job(world)["next_retry_at"] is None


@then(parsers.parse('"{name}" has the {kind} "{content}", made by her job'))
def has_memory(world: World, name: str, kind: str, content: str) -> None:
    items = [
        i for i in world.listed(ITEMS, name) if i["memory_type"] == kind and i["content"] == content
    ]
    assert len(items) == 1, world.listed(ITEMS, name)
    assert current_job(world)["memory_ids"] == [items[0]["id"]]


@then(parsers.parse('"{name}" has no memories'))
def no_memories(world: World, name: str) -> None:
    assert world.listed(ITEMS, name) == []


@then(parsers.re(r'"(?P<name>\w+)" has (?P<count>\d+) memor(?:y|ies)$'))
def memories(world: World, name: str, count: str) -> None:
    assert len(world.listed(ITEMS, name)) == int(count), world.listed(ITEMS, name)


@then(parsers.re(r'"(?P<name>\w+)" has (?P<count>\d+) jobs?$'))
def jobs(world: World, name: str, count: str) -> None:
    assert len(world.listed(JOBS, name)) == int(count), world.listed(JOBS, name)


@then("the assistant turn is not queued for extraction")
def assistant_not_queued(world: World) -> None:
    assert world.response is not None
    sent = json.loads(world.response.request.content)["messages"]
    answers = world.response.json()["messages"]
    for turn, answer in zip(sent, answers, strict=True):
        queued = turn["role"] == "user"
        assert (answer["extraction"] == "queued") is queued, answer
        assert (answer["job_key"] is not None) is queued, answer
