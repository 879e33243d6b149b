"""``memvault worker``: Dramatiq worker processes on the Redis or RabbitMQ broker.

The ``dramatiq`` command imports this module and calls :func:`setup` in each worker
process (after the fork), which builds the broker from the environment and registers
the actor on it.
"""

from __future__ import annotations

import dramatiq

from container import JOB_QUEUE_NAME, Settings, build_infrastructure
from entrypoints.logging import configure_logging


def setup() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.broker == "memory":
        raise SystemExit(
            "memvault worker needs MEMVAULT_BROKER=redis or rabbitmq; the in-process broker "
            "runs inside `memvault serve`"
        )
    if settings.vector_store == "qdrant-edge":
        raise SystemExit(
            "memvault worker needs a vector store server (MEMVAULT_VECTOR_STORE=milvus or "
            "qdrant): the embedded qdrant-edge store allows one process only"
        )
    infra = build_infrastructure(settings)
    broker = infra.broker()
    infra.job_actor()
    broker.add_middleware(infra.loop_shutdown())
    dramatiq.set_broker(broker)


def dramatiq_argv(settings: Settings) -> list[str]:
    return [
        "entrypoints.worker:setup",
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_threads),
        "--queues",
        JOB_QUEUE_NAME,
    ]
