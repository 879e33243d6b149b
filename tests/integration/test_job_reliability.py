"""Every job succeeds, exactly once, while workers are killed (docs/adr/0001,
docs/behaviour.md "Extraction jobs"): scale mode with two ``memvault worker`` processes on
the Redis broker, a fresh PostgreSQL database, Redis Streams as the event bus, and the
relay, consumer and sweepers running in this test's event loop as ``memvault relay`` runs
them.

500 user messages from ten users, three in five of them a distinct preference ("I love
sushi") and the rest chit-chat, go in through the ingest use case. Twice, a
worker is frozen while it holds a claimed job and then killed with SIGKILL, and a
replacement is started. The leases are short, so the sweeper rescues the stranded jobs
quickly. The end state is read from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import func, select

from memvault.adapters.extractor.rule_based import extract_facts
from memvault.adapters.sqlalchemy.tables import memory_items as items
from memvault.adapters.sqlalchemy.tables import memory_jobs as jobs
from memvault.application.ingest.ingest_messages import IncomingMessage, IngestMessages
from memvault.container import Container, Settings, build_infrastructure
from memvault.domain.jobs import JobStatus
from memvault.entrypoints.pipeline import PipelineLoops
from tests.databases import fresh_database
from tests.fixtures.redis import REDIS_URL

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
USERS = 10
MESSAGES_PER_USER = 50
LEASE_S = 3
KILL_AFTER = (100, 250)
"""Kill a worker once this many jobs have succeeded (the run is then mid-way)."""
GIVE_UP_S = 150.0
"""A stuck run fails after this long (a bound for a loaded machine, not a timing)."""
CHIT_CHAT = "what time is it"
TEST_KEYS = b"memvault-test"
DRAMATIQ_KEYS = b"memvault-dramatiq"
LOCK_KEY = b"memvault-test:reliability-lock"


LIKES = (  # noqa: SIM905 (thirty words read better as one string)
    "sushi jazz hiking chess tennis ramen opera kayaking pottery salsa cycling origami poetry "
    "karaoke surfing baking climbing gardening sailing knitting bowling fencing archery skiing "
    "tango painting camping fishing yoga juggling"
).split()
"""Thirty likes, far apart even for the test embedder: no two are near-duplicates."""


def message(index: int) -> str:
    """A user's message number ``index``: a like three times in five, else chit-chat."""
    if index % 5 >= 3:
        return CHIT_CHAT
    return f"I love {LIKES[index // 5 * 3 + index % 5]}"


def expected_memories() -> int:
    return USERS * sum(1 for index in range(MESSAGES_PER_USER) if message(index) != CHIT_CHAT)


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of this test's own: the first one holding nothing but keys this
    test leaves behind, locked for the run; those keys are cleared before and after."""
    token = uuid.uuid4().hex.encode()
    for db in range(15, 0, -1):
        url = urlsplit(REDIS_URL)._replace(path=f"/{db}").geturl()
        client = redis.Redis.from_url(url)
        try:
            client.ping()
        except redis.RedisError as error:
            pytest.fail(f"Redis is unreachable at {REDIS_URL} ({error})")
        stale = [key for key in client.scan_iter(count=1000) if ours(key)]
        if client.dbsize() == len(stale) and client.set(LOCK_KEY, token, nx=True, ex=600):
            break
        client.close()
    else:
        pytest.fail("no Redis database is free for the reliability test")
    try:
        clear(client)
        yield url
    finally:
        clear(client)
        if client.get(LOCK_KEY) == token:
            client.delete(LOCK_KEY)
        client.close()


def ours(key: bytes) -> bool:
    return key.startswith((TEST_KEYS, DRAMATIQ_KEYS))


def clear(client: redis.Redis) -> None:
    keys = [key for key in client.scan_iter(count=1000) if ours(key) and key != LOCK_KEY]
    if keys:
        client.delete(*keys)


class Workers:
    """``memvault worker`` processes (one Dramatiq process, two threads each), each in
    its own process group so that a kill takes the Dramatiq parent and child together."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self._env = env
        self._logs = logs
        self.running: list[subprocess.Popen[bytes]] = []
        self.killed: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        log = (self._logs / f"worker-{len(self.running) + len(self.killed)}.log").open("wb")
        self.running.append(
            subprocess.Popen(
                [sys.executable, "-m", "memvault.entrypoints.cli", "worker"],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        log.close()

    def freeze(self, worker: subprocess.Popen[bytes]) -> None:
        os.killpg(worker.pid, signal.SIGSTOP)

    def thaw(self, worker: subprocess.Popen[bytes]) -> None:
        os.killpg(worker.pid, signal.SIGCONT)

    def kill(self, worker: subprocess.Popen[bytes]) -> None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        self.running.remove(worker)
        self.killed.append(worker)

    def stop_all(self) -> None:
        stopping, self.running = self.running, []
        for worker in stopping:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGCONT)
                # To the Dramatiq parent only: it passes the signal on, and a child that
                # gets a second SIGTERM exits at once but hangs on its worker threads.
                worker.terminate()
        for worker in stopping:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()

    def exited(self) -> list[int]:
        return [code for w in self.running if (code := w.poll()) is not None]

    def log_tail(self, chars: int = 3000) -> str:
        text = "\n".join(path.read_text(errors="replace") for path in sorted(self._logs.iterdir()))
        return text[-chars:]


def in_group(worker_name: str, group: int) -> bool:
    """Whether a job's ``locked_by`` (``host:pid:suffix``) names a process of ``group``."""
    try:
        return os.getpgid(int(worker_name.rsplit(":", 2)[1])) == group
    except (ValueError, IndexError, ProcessLookupError):
        return False


async def count_jobs(container: Container, status: JobStatus) -> int:
    async with container.engine().connect() as conn:
        stmt = select(func.count()).select_from(jobs).where(jobs.c.status == status.value)
        return int((await conn.execute(stmt)).scalar_one())


async def held_by(container: Container, group: int) -> dict[int, str]:
    """The jobs a process of ``group`` holds on a live lease, with its worker name."""
    async with container.engine().connect() as conn:
        rows = await conn.execute(
            select(jobs.c.id, jobs.c.locked_by).where(
                jobs.c.status == JobStatus.PROCESSING.value,
                jobs.c.locked_until > datetime.now(UTC),
            )
        )
        return {row.id: row.locked_by for row in rows if in_group(row.locked_by or "", group)}


async def still_held(container: Container, held: dict[int, str]) -> set[int]:
    async with container.engine().connect() as conn:
        rows = await conn.execute(
            select(jobs.c.id, jobs.c.locked_by).where(
                jobs.c.id.in_(held), jobs.c.status == JobStatus.PROCESSING.value
            )
        )
        return {row.id for row in rows if row.locked_by == held[row.id]}


async def wait_for_successes(
    container: Container, workers: Workers, target: int, *, deadline: float
) -> None:
    while await count_jobs(container, JobStatus.SUCCESS) < target:
        assert not workers.exited(), f"a worker exited:\n{workers.log_tail()}"
        assert asyncio.get_running_loop().time() < deadline, (
            f"only {await count_jobs(container, JobStatus.SUCCESS)} of {target} jobs "
            f"succeeded in time:\n{workers.log_tail()}"
        )
        await asyncio.sleep(0.1)


async def kill_while_holding_a_job(container: Container, workers: Workers) -> set[int]:
    """Freeze the oldest worker at a moment it holds a claimed job, kill it, start a
    replacement; returns the jobs the dead worker left in ``processing``."""
    victim = workers.running[0]
    for _ in range(200):
        workers.freeze(victim)
        held = await held_by(container, victim.pid)
        if held:
            workers.kill(victim)
            workers.start()
            await asyncio.sleep(0.2)  # the server aborts the dead worker's transactions
            return await still_held(container, held)
        workers.thaw(victim)
        await asyncio.sleep(0.02)
    pytest.fail(f"the worker never held a job when looked at:\n{workers.log_tail()}")


async def ingest(container: Container, run: str) -> None:
    """The users talk at the same time, one message per call, so their jobs interleave."""
    ingest_messages = container.ingest_messages()

    async def talk(user_id: str) -> None:
        for index in range(MESSAGES_PER_USER):
            turn = IncomingMessage(role="user", content=message(index), message_id=f"m-{index}")
            await ingest_messages(
                IngestMessages(user_id=user_id, conversation_id="conv-1", messages=[turn])
            )

    await asyncio.gather(*(talk(f"{run}-{user}") for user in range(USERS)))


@dataclass(frozen=True, slots=True, kw_only=True)
class EndState:
    statuses: dict[str, int]
    memories: int
    duplicated: list[tuple[str, str]]
    stranded_retries: list[int]


async def end_state(container: Container, stranded: set[int]) -> EndState:
    async with container.engine().connect() as conn:
        statuses = await conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
        memories = await conn.execute(select(func.count()).select_from(items))
        duplicated = await conn.execute(
            select(items.c.user_id, items.c.content_hash)
            .group_by(items.c.user_id, items.c.content_hash)
            .having(func.count() > 1)
        )
        retries = await conn.execute(select(jobs.c.retry_count).where(jobs.c.id.in_(stranded)))
        return EndState(
            statuses={status: count for status, count in statuses.all()},
            memories=int(memories.scalar_one()),
            duplicated=[(user, digest) for user, digest in duplicated.all()],
            stranded_retries=list(retries.scalars()),
        )


def test_each_message_of_the_run_yields_one_distinct_memory_or_none():
    texts = [message(index) for index in range(MESSAGES_PER_USER)]
    likes = [text for text in texts if text != CHIT_CHAT]

    assert len(set(likes)) == len(likes) == len(LIKES)
    for text in texts:
        assert len(extract_facts(text)) == (0 if text == CHIT_CHAT else 1), text


@pytest.mark.timeout(GIVE_UP_S + 60)
async def test_every_job_succeeds_when_workers_are_killed(
    postgres_url: str, redis_url: str, tmp_path: Path
):
    run = f"rel-{uuid.uuid4().hex[:8]}"
    options = {
        "database_url": postgres_url,
        "broker": "redis",
        "event_bus": "redis",
        "redis_url": redis_url,
        "event_topic": f"memvault-test-{run}",
        "consumer_group": f"memvault-test-{run}",
        "job_lease_s": str(LEASE_S),
        "job_requeue_grace_s": "5",
        "sweep_interval_s": "1",
        "relay_poll_interval_s": "0.2",
        "worker_processes": "1",
        "worker_threads": "2",
        "db_pool_size": "4",
        "log_level": "warning",
        "data_dir": str(tmp_path / "data"),
        "embedder": "hashing",
        "vector_store": "memory",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
    env |= {f"MEMVAULT_{name.upper()}": value for name, value in options.items()}
    logs = tmp_path / "logs"
    logs.mkdir()
    workers = Workers(env, logs)
    settings = Settings(**options)
    infra = build_infrastructure(settings)
    container = infra.loops().current()
    loops = PipelineLoops(container, settings)
    stranded: set[int] = set()
    deadline = asyncio.get_running_loop().time() + GIVE_UP_S
    try:
        workers.start()
        workers.start()
        loops.start()
        await ingest(container, run)
        for target in KILL_AFTER:
            await wait_for_successes(container, workers, target, deadline=deadline)
            stranded |= await kill_while_holding_a_job(container, workers)
        await wait_for_successes(container, workers, USERS * MESSAGES_PER_USER, deadline=deadline)
        await loops.stop()
        workers.stop_all()
        end = await end_state(container, stranded)
    finally:
        await loops.stop()
        workers.stop_all()
        await infra.loops().close_current()
        infra.broker().close()

    assert end.statuses == {JobStatus.SUCCESS.value: USERS * MESSAGES_PER_USER}
    assert end.memories == expected_memories()
    assert end.duplicated == []
    assert len(workers.killed) == len(KILL_AFTER)
    assert stranded, "no kill left a job in processing: the rescue was not exercised"
    assert all(retries >= 1 for retries in end.stranded_retries), end.stranded_retries
