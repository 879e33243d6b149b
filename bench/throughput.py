"""Scale-mode throughput on PostgreSQL + Redis: jobs, claims and the outbox relay.

Run: ``python -m bench.throughput [--jobs N] [--workers P] [--threads T]
[--claims N] [--claimers C] [--events N] [--relays R] [--only jobs|claims|relay]``.

Each part runs on a fresh PostgreSQL database (``MEMVAULT_BENCH_POSTGRES_URL``, default
the local server) and Redis (``MEMVAULT_BENCH_REDIS_URL``) keys of its own; it is
skipped, saying why, when either server is unreachable.

- **jobs/s**: ``memvault worker`` with P processes × T threads (Dramatiq on the Redis
  broker), the rule-based extractor and the hashing embedder on turns that hold
  nothing to remember ("ok, thanks!": the extractor returns no fact, so the job is the
  pipeline's own work: claim, settings, decide, commit, wake). N job rows of N users
  are written as the event consumer writes them; the clock runs from the first
  enqueue (the bench sends each id through the broker, as the consumer does) until
  every job is ``success`` in the database.
- **claims/s**: C processes claim due outbox rows one row per transaction with the
  relay's own claim (``SELECT … FOR UPDATE SKIP LOCKED`` + the lease ``UPDATE``),
  then the same with plain ``FOR UPDATE`` (a variant that lives only here), on N
  fresh rows each; the ratio is SKIP LOCKED over plain.
- **relay events/s**: R processes run the relay use case (claim, ``XADD`` pipelined to
  the Redis stream, mark published) on N outbox rows with the configured batch, and
  the baseline, one row per transaction (``MEMVAULT_OUTBOX_BATCH=1``) on N/10 rows.

The worker processes (and the claimers and relays) are started and warmed before the
clock starts; each child process waits for a line on its stdin and reports when it
finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.pipeline import postgres_database, scale_env, servers_down, spawned
from memvault.adapters.job_queue.dramatiq_queue import (
    DramatiqJobQueue,
    build_broker,
    register_job_actor,
)
from memvault.adapters.sqlalchemy import jobs as sql_jobs
from memvault.adapters.sqlalchemy import outbox as sql_outbox
from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.tables import memory_jobs, memory_outbox_messages
from memvault.application.events import wrapper
from memvault.container import JOB_QUEUE_NAME
from memvault.domain.jobs import ExtractionJob, ExtractPayload, JobStatus, extract_job_key
from memvault.domain.outbox import EventType, OutboxMessage, OutboxStatus

NOOP_TEXT = "ok, thanks!"
"""A turn the rule-based extractor finds nothing in: the no-op extraction."""
POLL_S = 0.02
GIVE_UP_S = 600.0
READY_TIMEOUT_S = 120.0
CHILD = [sys.executable, "-m", "bench.throughput", "child"]
CLI = [sys.executable, "-m", "memvault.entrypoints.cli"]


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- rows written directly


def noop_job(user_id: str, now: datetime) -> dict[str, Any]:
    """A job row as the event consumer writes it: one user turn, due now."""
    message_id = uuid.uuid4().hex
    key = extract_job_key(
        user_id=user_id, conversation_id="bench", text=NOOP_TEXT, message_id=message_id
    )
    payload = ExtractPayload(
        user_id=user_id,
        conversation_id="bench",
        source_role="user",
        source_text=NOOP_TEXT,
        occurred_at=now,
        idempotency_key=key,
        source_message_id=message_id,
    )
    job = ExtractionJob(
        user_id=user_id,
        conversation_id="bench",
        source_message_id=message_id,
        idempotency_key=key,
        payload_json=payload.to_json(),
        enqueued_at=now,
        created_at=now,
        updated_at=now,
    )
    return sql_jobs.to_row(job)


def outbox_row(n: int, now: datetime) -> dict[str, Any]:
    """An outbox row as an ingest writes it (a valid event wrapper), due now."""
    user_id = f"bench-{n}"
    payload = {"user_id": user_id, "conversation_id": "bench", "source_text": NOOP_TEXT}
    message = OutboxMessage(
        event_type=EventType.MEMORY_EXTRACT_REQUESTED.value,
        topic="bench",
        message_key="bench",
        payload=wrapper(
            event_type=EventType.MEMORY_EXTRACT_REQUESTED,
            payload=payload,
            aggregate_id="bench",
            event_id=uuid.uuid4().hex,
        ),
        user_id=user_id,
        next_retry_at=now - timedelta(seconds=1),
        created_at=now,
        updated_at=now,
    )
    return sql_outbox.to_row(message)


async def write_rows(engine: AsyncEngine, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    for first in range(0, len(rows), 1000):
        async with engine.begin() as conn:
            await conn.execute(insert(table), list(rows[first : first + 1000]))


async def count(engine: AsyncEngine, table: Any, status: str) -> int:
    async with engine.connect() as conn:
        stmt = select(func.count()).select_from(table).where(table.c.status == status)
        return int((await conn.execute(stmt)).scalar_one())


# ---------------------------------------------------------------- CPU time, per process


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (a spawned command and its forks)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(stat[2]) == pgid:
                found.append(int(entry.name))
    return found


async def backend_pids(engine: AsyncEngine) -> list[int]:
    """The PostgreSQL server processes serving this run's database."""
    async with engine.connect() as conn:
        stmt = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [int(pid) for pid in (await conn.execute(stmt)).scalars()]


class CpuMeter:
    """CPU seconds spent by the process groups ``pgids`` (the workers, relays or
    claimers) and by this database's PostgreSQL backends between :meth:`start` and
    :meth:`stop` (backends that connect in between count from their start)."""

    def __init__(self, engine: AsyncEngine, pgids: Sequence[int]) -> None:
        self._engine = engine
        self._pgids = pgids
        self.workers = self.postgres = 0.0

    async def snapshot(self) -> tuple[dict[int, float], dict[int, float]]:
        pids = [pid for pgid in self._pgids for pid in group_pids(pgid)]
        workers = {pid: cpu_of(pid) for pid in pids}
        backends = {pid: cpu_of(pid) for pid in await backend_pids(self._engine)}
        return workers, backends

    async def start(self) -> None:
        self._start = await self.snapshot()

    async def stop(self) -> None:
        end = await self.snapshot()
        self.workers, self.postgres = (
            sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
            for before, after in zip(self._start, end, strict=True)
        )


# ---------------------------------------------------------------- child processes


@dataclass(frozen=True, slots=True)
class Finished:
    started: float
    ended: float
    done: int


class Children:
    """Child processes that each write ``<name>.ready`` once warm, wait for a line on
    stdin, then write ``<name>.json`` (``started``, ``ended``, ``done``)."""

    def __init__(self, tmp: Path, processes: Sequence[Any], names: Sequence[str]) -> None:
        self._tmp = tmp
        self._processes = processes
        self._names = names
        self.pids = [p.pid for p in processes]

    async def ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all((self._tmp / f"{name}.ready").exists() for name in self._names):
            if any(p.poll() is not None for p in self._processes):
                raise RuntimeError(f"a child process exited early; see the logs in {self._tmp}")
            if time.monotonic() > deadline:
                raise RuntimeError("the child processes did not get ready in time")
            await asyncio.sleep(0.05)

    async def go(self) -> float:
        started = time.time()
        self.tell()
        return started

    def tell(self) -> None:
        """One line to each child: start, or (once finished) end."""
        for process in self._processes:
            process.stdin.write(b"go\n")
            process.stdin.flush()

    async def metered(self, engine: AsyncEngine) -> tuple[float, list[Finished], CpuMeter]:
        """Start the children, wait until each has finished, then let them end; when
        they were told to start, what each did, and the CPU they and PostgreSQL spent."""
        meter = CpuMeter(engine, self.pids)
        await meter.start()
        go = await self.go()
        done = await self.finished()
        await meter.stop()
        self.tell()
        return go, done, meter

    async def finished(self) -> list[Finished]:
        deadline = time.monotonic() + GIVE_UP_S
        while not all((self._tmp / f"{name}.json").exists() for name in self._names):
            if any(p.poll() not in (None, 0) for p in self._processes):
                raise RuntimeError(f"a child process failed; see the logs in {self._tmp}")
            if time.monotonic() > deadline:
                raise RuntimeError("the child processes did not finish in time")
            await asyncio.sleep(POLL_S)
        return [
            Finished(**json.loads((self._tmp / f"{name}.json").read_text())) for name in self._names
        ]


@asynccontextmanager
async def children(
    tmp: Path, env: dict[str, str], role: str, n: int, args: Sequence[str] = ()
) -> AsyncIterator[Children]:
    run = uuid.uuid4().hex[:6]
    names = [f"{role}-{run}-{i}" for i in range(n)]
    commands = {name: [*CHILD, role, str(tmp / name), *args] for name in names}
    async with spawned(tmp, env, commands, stdin=True) as started:
        group = Children(tmp, started, names)
        await group.ready()
        yield group


async def wait_go(result: Path) -> float:
    result.with_suffix(".ready").write_text("")
    await asyncio.to_thread(sys.stdin.readline)
    return time.time()


async def report(result: Path, started: float, done: int) -> None:
    """Write the result, then stay (connections open) until told to end, so that the
    parent reads this process's CPU time and its PostgreSQL backend's."""
    body = {"started": started, "ended": time.time(), "done": done}
    partial = result.with_suffix(".part")
    partial.write_text(json.dumps(body))
    partial.rename(result.with_suffix(".json"))
    await asyncio.to_thread(sys.stdin.readline)


class PlainLockingOutbox(sql_outbox.SqlOutboxRepository):
    """The relay's claim with plain ``FOR UPDATE``: a claimer waits for the rows another
    one holds (the baseline of the claims part; not used by memvault)."""

    skip_locked = False


async def claim_child(result: Path, plain: bool, limit: int) -> None:
    engine = create_engine(os.environ["MEMVAULT_DATABASE_URL"], pool_size=1)
    repository = PlainLockingOutbox if plain else sql_outbox.SqlOutboxRepository
    lease = timedelta(hours=1)
    try:
        await count(engine, memory_outbox_messages, OutboxStatus.PENDING.value)  # warm
        started = await wait_go(result)
        claimed = 0
        while True:
            async with engine.begin() as conn:
                rows = await repository(conn).claim_due(now=utcnow(), limit=limit, lease=lease)
            claimed += len(rows)
            if not rows:
                break
        await report(result, started, claimed)
    finally:
        await engine.dispose()


async def relay_child(result: Path) -> None:
    from memvault.container import Settings
    from memvault.entrypoints.lifecycle import running

    settings = Settings()
    async with running(settings) as container:
        relay = container.relay_outbox()
        engine = create_engine(settings.effective_database_url, pool_size=1)
        try:
            await count(engine, memory_outbox_messages, OutboxStatus.PENDING.value)  # warm
            await container.publisher().publish([])
            started = await wait_go(result)
            published = 0
            while True:
                n = await relay()
                published += n
                if n:
                    continue
                if not await count(engine, memory_outbox_messages, OutboxStatus.PENDING.value):
                    break
                await asyncio.sleep(0.001)  # the other relay holds the last rows
            await report(result, started, published)
        finally:
            await engine.dispose()


def child(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput child")
    parser.add_argument("role", choices=("claim", "relay"))
    parser.add_argument("result", type=Path)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--limit", type=int, default=1)
    args = parser.parse_args(argv)
    if args.role == "claim":
        asyncio.run(claim_child(args.result, args.plain, args.limit))
    else:
        asyncio.run(relay_child(args.result))
    return 0


# ---------------------------------------------------------------- the three parts


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    items: int
    seconds: float
    unit: str
    cpu_processes: float = float("nan")
    """CPU seconds of the measured processes (workers, claimers, relays)."""
    cpu_postgres: float = float("nan")
    """CPU seconds of this run's PostgreSQL backends."""

    @property
    def ceiling(self) -> float:
        """Items per second if these processes and PostgreSQL had every CPU."""
        return (os.cpu_count() or 1) * self.items / (self.cpu_processes + self.cpu_postgres)

    @property
    def rate(self) -> float:
        return self.items / self.seconds


@asynccontextmanager
async def scale_database(tmp: Path) -> AsyncIterator[tuple[dict[str, str], AsyncEngine]]:
    async with postgres_database() as url:
        env = scale_env(tmp, url, "hashing", secrets.token_urlsafe(32))
        engine = create_engine(url, pool_size=2)
        try:
            yield env, engine
        finally:
            await engine.dispose()


async def wait_success(engine: AsyncEngine, total: int) -> float:
    deadline = time.monotonic() + GIVE_UP_S
    while await count(engine, memory_jobs, JobStatus.SUCCESS.value) < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {total} jobs succeeded in {GIVE_UP_S:.0f} s")
        await asyncio.sleep(POLL_S)
    return time.time()


async def enqueue_new_jobs(
    engine: AsyncEngine, queue: DramatiqJobQueue, n: int, tag: str
) -> tuple[list[int], float]:
    """N job rows of N new users, then (clock started) their ids through the broker."""
    now = utcnow()
    await write_rows(engine, memory_jobs, [noop_job(f"bench-{tag}-{i}", now) for i in range(n)])
    async with engine.connect() as conn:
        stmt = select(memory_jobs.c.id).where(memory_jobs.c.user_id.like(f"bench-{tag}-%"))
        ids = sorted(int(v) for v in (await conn.execute(stmt)).scalars())
    started = time.time()
    await queue.enqueue(ids)
    return ids, started


async def jobs_part(n: int, workers: int, threads: int) -> tuple[Row, Row]:
    with tempfile.TemporaryDirectory(prefix="memvault-bench-throughput-") as tmp:
        async with scale_database(Path(tmp)) as (env, engine):
            env |= {
                "MEMVAULT_WORKER_PROCESSES": str(workers),
                "MEMVAULT_WORKER_THREADS": str(threads),
            }
            broker = build_broker(
                "redis",
                redis_url=env["MEMVAULT_REDIS_URL"],
                rabbitmq_url=None,
                namespace=env["MEMVAULT_BROKER_NAMESPACE"],
            )
            queue = DramatiqJobQueue(register_job_actor(broker, noop, queue_name=JOB_QUEUE_NAME))
            try:
                commands = {"worker": [*CLI, "worker"]}
                async with spawned(Path(tmp), env, commands) as (worker,):
                    warm = workers * threads * 2
                    await enqueue_new_jobs(engine, queue, warm, "warm")
                    await wait_success(engine, warm)
                    meter = CpuMeter(engine, [worker.pid])
                    await meter.start()
                    ids, started = await enqueue_new_jobs(engine, queue, n, "run")
                    enqueued = time.time()
                    ended = await wait_success(engine, warm + n)
                    await meter.stop()
            finally:
                broker.close()
    name = f"{n} no-op jobs → success ({workers} × {threads})"
    return (
        Row(f"enqueue {n} job ids (bench process)", len(ids), enqueued - started, "messages"),
        Row(name, n, ended - started, "jobs", meter.workers, meter.postgres),
    )


async def noop(job_id: int) -> None:
    """The bench sends through the broker only; the workers run the real actor."""


async def claims_part(n: int, claimers: int) -> tuple[Row, Row]:
    rows: dict[bool, Row] = {}
    with tempfile.TemporaryDirectory(prefix="memvault-bench-claims-") as tmp:
        async with scale_database(Path(tmp)) as (env, engine):
            for plain in (False, True):
                await write_rows(
                    engine, memory_outbox_messages, [outbox_row(i, utcnow()) for i in range(n)]
                )
                args = ["--plain"] if plain else []
                async with children(Path(tmp), env, "claim", claimers, args) as group:
                    go, done, meter = await group.metered(engine)
                claimed = sum(f.done for f in done)
                if claimed != n:
                    raise RuntimeError(f"{claimed} claims of {n} rows")
                lock = "plain FOR UPDATE" if plain else "FOR UPDATE SKIP LOCKED"
                name = f"{lock}, {claimers} claimers"
                seconds = max(f.ended for f in done) - go
                rows[plain] = Row(name, claimed, seconds, "claims", meter.workers, meter.postgres)
    return rows[False], rows[True]


async def relay_part(n: int, relays: int) -> tuple[Row, Row]:
    rows: dict[int, Row] = {}
    with tempfile.TemporaryDirectory(prefix="memvault-bench-relay-") as tmp:
        async with scale_database(Path(tmp)) as (env, engine):
            default_batch = int(env.get("MEMVAULT_OUTBOX_BATCH", "100"))
            for batch, size in ((1, max(n // 10, 1)), (default_batch, n)):
                await write_rows(
                    engine, memory_outbox_messages, [outbox_row(i, utcnow()) for i in range(size)]
                )
                child_env = env | {"MEMVAULT_OUTBOX_BATCH": str(batch)}
                async with children(Path(tmp), child_env, "relay", relays) as group:
                    go, done, meter = await group.metered(engine)
                published = sum(f.done for f in done)
                if published != size:
                    raise RuntimeError(f"{published} events published of {size} rows")
                left = await count(engine, memory_outbox_messages, OutboxStatus.PENDING.value)
                if left:
                    raise RuntimeError(f"{left} rows still pending")
                name = f"{relays} relays, {batch} row{'s' if batch > 1 else ''} per transaction"
                seconds = max(f.ended for f in done) - go
                rows[batch] = Row(name, published, seconds, "events", meter.workers, meter.postgres)
    return rows[1], rows[default_batch]


# ---------------------------------------------------------------- output


def print_rows(console: Console, title: str, rows: Sequence[Row], baseline: Row) -> None:
    table = Table(title=title)
    columns = ("row", "items", "seconds", "per second", "/ baseline", "CPU ms/item")
    for column in (*columns, "CPU-bound ceiling"):
        table.add_column(column, justify="right")
    for row in rows:
        per_item = 1000 / row.items
        table.add_row(
            row.name,
            str(row.items),
            f"{row.seconds:.2f}",
            f"{row.rate:,.0f} {row.unit}/s",
            f"{row.rate / baseline.rate:.2f}×",
            *(
                ("–", "–")
                if math.isnan(row.cpu_processes)
                else (
                    f"{row.cpu_processes * per_item:.2f} + {row.cpu_postgres * per_item:.2f}",
                    f"{row.ceiling:,.0f}/s",
                )
            ),
        )
    table.caption = (
        "CPU ms/item: the measured processes + this run's PostgreSQL backends; ceiling: "
        f"items/s if they had all {os.cpu_count()} CPUs (Redis and everything else aside)"
    )
    console.print(table)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min), {os.cpu_count()} CPUs"


async def run(args: argparse.Namespace, console: Console) -> None:
    reason = await servers_down()
    if reason is not None:
        console.print(f"scale throughput skipped: PostgreSQL or Redis unreachable ({reason})")
        return
    parts = set(args.only or ("jobs", "claims", "relay"))
    if "jobs" in parts:
        console.print(f"jobs: {load()}")
        enqueue, jobs = await jobs_part(args.jobs, args.workers, args.threads)
        print_rows(
            console, "scale mode: no-op jobs (PostgreSQL, Redis broker)", [enqueue, jobs], enqueue
        )
    if "claims" in parts:
        console.print(f"claims: {load()}")
        skip, plain = await claims_part(args.claims, args.claimers)
        title = "claiming due outbox rows, one per transaction (PostgreSQL)"
        print_rows(console, title, [plain, skip], plain)
    if "relay" in parts:
        console.print(f"relay: {load()}")
        single, batched = await relay_part(args.events, args.relays)
        print_rows(console, "outbox relay → Redis stream (PostgreSQL)", [single, batched], single)
    console.print(f"end: {load()}")


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--claims", type=int, default=2000, help="rows claimed per variant")
    parser.add_argument("--claimers", type=int, default=4)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--relays", type=int, default=2)
    parser.add_argument("--only", action="append", choices=("jobs", "claims", "relay"))
    args = parser.parse_args(argv)
    asyncio.run(run(args, Console(width=None if sys.stdout.isatty() else 120)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
