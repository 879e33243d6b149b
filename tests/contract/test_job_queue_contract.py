"""The job queue contract, on Dramatiq's in-process, Redis and RabbitMQ brokers.

Messages carry a job id only; every id enqueued reaches the handler, delayed ones too,
and a handler that raises neither stops the worker nor is retried by Dramatiq (retries
belong to the database's schedule).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import dramatiq
import pytest

from memvault.adapters.job_queue.dramatiq_queue import (
    DramatiqJobQueue,
    build_broker,
    register_job_actor,
)
from tests.fixtures.redis import REDIS_URL

RABBITMQ_URL = os.environ.get("MEMVAULT_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
DEADLINE_S = 20.0


@dataclass
class Harness:
    queue: DramatiqJobQueue
    seen: list[int] = field(default_factory=list)
    attempts: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, expected: set[int]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            with self.lock:
                if expected <= set(self.seen):
                    return
            time.sleep(0.05)
        raise AssertionError(f"never handled: {sorted(expected - set(self.seen))}")


@pytest.fixture(params=["memory", "redis", "rabbitmq"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    run = uuid.uuid4().hex[:10]
    try:
        broker = build_broker(
            request.param,
            redis_url=REDIS_URL,
            rabbitmq_url=RABBITMQ_URL,
            namespace=f"memvault-test-{run}",
        )
    except Exception as error:
        pytest.fail(f"the {request.param} broker is unreachable: {error}", pytrace=False)
    state: Harness

    async def handler(job_id: int) -> None:
        with state.lock:
            state.attempts[job_id] = state.attempts.get(job_id, 0) + 1
            state.seen.append(job_id)
        if job_id < 0:
            raise RuntimeError("a handler failure")

    queue_name = f"memvault_test_{run}"
    actor = register_job_actor(broker, handler, queue_name=queue_name)
    state = Harness(queue=DramatiqJobQueue(actor))
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield state
    finally:
        worker.stop()
        if request.param == "rabbitmq":
            for name in (queue_name, f"{queue_name}.DQ", f"{queue_name}.XQ"):
                broker.channel.queue_delete(name)  # type: ignore[attr-defined]
        broker.close()


def test_every_enqueued_job_id_reaches_the_handler(harness: Harness):
    ids = set(range(1, 41))
    asyncio.run(harness.queue.enqueue(sorted(ids)))
    harness.wait_for(ids)
    assert sorted(harness.seen) == sorted(ids)


def test_a_delayed_job_id_arrives_later(harness: Harness):
    asyncio.run(harness.queue.enqueue([101], delay_ms=300))
    asyncio.run(harness.queue.enqueue([102]))
    harness.wait_for({101, 102})
    assert harness.seen.index(102) < harness.seen.index(101)


def test_a_failing_handler_is_not_retried_and_the_worker_goes_on(harness: Harness):
    asyncio.run(harness.queue.enqueue([-7]))
    harness.wait_for({-7})
    asyncio.run(harness.queue.enqueue([8]))
    harness.wait_for({8})
    time.sleep(0.5)
    assert harness.attempts[-7] == 1


def test_enqueueing_nothing_sends_nothing(harness: Harness):
    asyncio.run(harness.queue.enqueue([]))
    asyncio.run(harness.queue.enqueue([5]))
    harness.wait_for({5})
    assert harness.seen == [5]
