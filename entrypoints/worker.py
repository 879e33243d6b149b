"""``memvault worker``: Dramatiq worker processes on the Redis or RabbitMQ broker.

The ``dramatiq`` command imports this module and calls :func:`setup` in each worker
process (after the fork), which builds the broker from the environment and registers
the actor on it.

Stopping: a SIGTERM or SIGINT that reaches the whole process group (systemd's
``KillMode=control-group``, a supervisor, Ctrl-C) gets to each worker process twice,
once directly and once passed on by Dramatiq's main process. Dramatiq takes a second
SIGTERM as "exit now", which raises ``SystemExit`` in the main thread while the worker
threads still run, and the process then hangs on them. So each worker process answers
only its first SIGTERM (a graceful stop: the jobs in hand release their leases); the
main process still stops its workers whatever reaches it.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

import dramatiq

from memvault.container import JOB_QUEUE_NAME, Settings, build_infrastructure, refusal
from memvault.entrypoints.logging import configure_logging


def setup() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    reason = refusal(settings, "worker")
    if reason is not None:
        raise SystemExit(f"memvault refuses to start: {reason}")
    infra = build_infrastructure(settings)
    broker = infra.broker()
    infra.job_actor()
    broker.add_middleware(infra.loop_shutdown())
    dramatiq.set_broker(broker)
    answer_first_sigterm_only()


SHUTDOWN_TIMEOUT_MS = 25_000
"""Dramatiq's wait for its worker threads when stopping (its default is ten minutes): the
jobs in hand release their leases within seconds."""
Handler = Callable[[int, FrameType | None], Any]


def answer_first_sigterm_only() -> None:
    """Wrap the worker process's SIGTERM handler (Dramatiq's) so that repeats are
    ignored: the stop it began goes on."""
    handler = signal.getsignal(signal.SIGTERM)
    if callable(handler):
        signal.signal(signal.SIGTERM, once(handler))


def once(handler: Handler) -> Handler:
    answered = False

    def first_only(signum: int, frame: FrameType | None) -> Any:
        nonlocal answered
        if answered:
            return None
        answered = True
        return handler(signum, frame)

    return first_only


def dramatiq_argv(settings: Settings) -> list[str]:
    return [
        "memvault.entrypoints.worker:setup",
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_threads),
        "--queues",
        JOB_QUEUE_NAME,
        "--worker-shutdown-timeout",
        str(SHUTDOWN_TIMEOUT_MS),
    ]
