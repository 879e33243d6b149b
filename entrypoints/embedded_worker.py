"""Dramatiq's worker inside the API process (the embedded default, ``MEMVAULT_BROKER=memory``).

The actors run on the AsyncIO middleware's own event loop thread, with their own
database engine (made lazily in that loop, disposed when the worker stops).
"""

from __future__ import annotations

import dramatiq

from memvault.container import Infrastructure

WORKER_TIMEOUT_MS = 100
STOP_TIMEOUT_MS = 30_000
"""How long a stop waits for the jobs in hand: a job still running then is left to its
lease (the rescuer returns it), rather than holding the process open (Dramatiq's own
default is ten minutes)."""


class EmbeddedWorker:
    def __init__(self, infra: Infrastructure) -> None:
        self._infra = infra
        self._worker: dramatiq.Worker | None = None

    def start(self) -> None:
        broker = self._infra.broker()
        self._infra.job_actor()
        broker.add_middleware(self._infra.loop_shutdown())
        # Worker.start() does not emit process_boot (only the dramatiq command does).
        broker.emit_after("process_boot")
        self._worker = dramatiq.Worker(
            broker,
            worker_threads=self._infra.settings().embedded_worker_threads,
            worker_timeout=WORKER_TIMEOUT_MS,
        )
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=STOP_TIMEOUT_MS)
            self._worker = None
