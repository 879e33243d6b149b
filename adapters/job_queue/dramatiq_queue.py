"""Dramatiq as the job queue. Messages carry only the job id; the database is the truth.

The broker is chosen at run time, so the actor is registered on it explicitly (a
``@dramatiq.actor`` decorator binds to whatever global broker exists at import time).
Async actors run on the AsyncIO middleware's event loop thread, one per process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware

from memvault.adapters.metrics import count_job_messages, observe_job
from memvault.application.jobs.stop import JobStop
from memvault.application.ports.job_queue import JobQueue

ACTOR_NAME = "process_extraction_job"
QUEUE_NAME = "memvault_jobs"
JobHandler = Callable[[int], Awaitable[object]]


DEFAULT_NAMESPACE = "memvault-dramatiq"


def build_broker(
    kind: str,
    *,
    redis_url: str | None,
    rabbitmq_url: str | None,
    namespace: str = DEFAULT_NAMESPACE,
) -> dramatiq.Broker:
    """``memory`` (in-process, for the embedded default), ``redis`` (its keys prefixed
    with ``namespace``) or ``rabbitmq``."""
    broker: dramatiq.Broker
    if kind == "memory":
        broker = StubBroker()
    elif kind == "redis":
        from dramatiq.brokers.redis import RedisBroker

        if not redis_url:
            raise ValueError("MEMVAULT_BROKER=redis needs MEMVAULT_REDIS_URL")
        broker = RedisBroker(url=redis_url, namespace=namespace)  # type: ignore[no-untyped-call]
    elif kind == "rabbitmq":
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        if not rabbitmq_url:
            raise ValueError("MEMVAULT_BROKER=rabbitmq needs MEMVAULT_RABBITMQ_URL")
        broker = RabbitmqBroker(url=rabbitmq_url)
    else:
        raise ValueError(f"unknown broker {kind!r}")
    broker.add_middleware(AsyncIO())
    return broker


DRAIN_TIMEOUT_S = 20.0
"""How long a stopping worker waits for its jobs in hand to release their leases."""


class LoopShutdown(Middleware):
    """When the worker stops: first the jobs in hand are told (``stop``) and awaited,
    so that each releases its lease or finishes its commit before the worker threads
    are joined; then ``close`` runs on the actors' event loop (added after AsyncIO, so
    it runs before that loop stops), to dispose loop-bound engines."""

    def __init__(
        self,
        close: Callable[[], Awaitable[None]],
        *,
        stop: JobStop,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
    ) -> None:
        self._close = close
        self._stop = stop
        self._drain_timeout_s = drain_timeout_s

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        if not self._stop.stop(timeout=self._drain_timeout_s):
            broker.logger.warning("jobs still in hand after %.0f s", self._drain_timeout_s)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        from dramatiq.asyncio import get_event_loop_thread

        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(self._close())


def register_job_actor(
    broker: dramatiq.Broker, handler: JobHandler, *, queue_name: str = QUEUE_NAME
) -> dramatiq.Actor[Any, Any]:
    """The actor that processes one job id. Dramatiq's own retries are off: failed jobs
    are retried by the database's schedule (the use case re-enqueues with a delay)."""

    async def process_extraction_job(job_id: int) -> None:
        started = time.perf_counter()
        outcome: object = "error"
        try:
            outcome = await handler(int(job_id))
        finally:
            observe_job(time.perf_counter() - started, outcome)

    actor: dramatiq.Actor[Any, Any] = dramatiq.actor(  # type: ignore[call-overload]
        process_extraction_job,
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=queue_name,
        max_retries=0,
        time_limit=15 * 60 * 1000,
    )
    return actor


class DramatiqJobQueue(JobQueue):
    def __init__(self, actor: dramatiq.Actor[Any, Any]) -> None:
        self._actor = actor

    async def enqueue(self, job_ids: Sequence[int], *, delay_ms: int = 0) -> None:
        if not job_ids:
            return
        await asyncio.to_thread(self._send, list(job_ids), delay_ms)

    def _send(self, job_ids: list[int], delay_ms: int) -> None:
        for job_id in job_ids:
            self._actor.send_with_options(args=(job_id,), delay=delay_ms or None)
            count_job_messages(1)
