"""``memvault worker``: Dramatiq worker processes on the Redis or RabbitMQ broker.

The ``dramatiq`` command imports this module and calls :func:`setup` in each worker
process (after the fork), which builds the broker from the environment and registers
the actor on it.
"""

from __future__ import annotations

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


def dramatiq_argv(settings: Settings) -> list[str]:
    return [
        "memvault.entrypoints.worker:setup",
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_threads),
        "--queues",
        JOB_QUEUE_NAME,
    ]
