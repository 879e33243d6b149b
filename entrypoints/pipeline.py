"""The background loops of the write path: outbox relay, event consumer, job sweepers
and the retention purge.

``memvault relay`` runs them in its own process; the embedded default runs them as
tasks of the API's event loop. Each loop survives its own errors (logged, then a pause).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from memvault.container import Container, Settings

log = structlog.get_logger(__name__)
ERROR_PAUSE_S = 1.0


class PipelineLoops:
    def __init__(self, container: Container, settings: Settings) -> None:
        self._container = container
        self._settings = settings
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._forever("relay", self._relay_once), name="relay"),
            asyncio.create_task(self._forever("consumer", self._consume_once), name="consumer"),
            asyncio.create_task(self._forever("sweeper", self._sweep_once), name="sweeper"),
            asyncio.create_task(self._forever("purger", self._purge_once), name="purger"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def resume_pending_work(self) -> None:
        """At start-up, re-send due jobs: an in-process broker loses its queue on exit."""
        try:
            await self._container.enqueue_due_jobs()(immediately=True)
        except Exception as error:  # e.g. a schema not migrated yet: /readyz reports it
            log.warning("startup_sweep_failed", error=f"{type(error).__name__}: {error}")

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks)

    async def _forever(self, name: str, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a loop must outlive any one failure
                log.warning(
                    "pipeline_step_failed", loop=name, error=f"{type(error).__name__}: {error}"
                )
                await asyncio.sleep(ERROR_PAUSE_S)

    async def _relay_once(self) -> None:
        published = await self._container.relay_outbox()()
        if published < self._settings.outbox_batch:
            # Woken at once by an ingest in this process; the poll finds the rest
            # (rows written by other processes, retries coming due).
            notifier = self._container.infra.outbox_notifier()
            await notifier.wait(self._settings.relay_poll_interval_s)

    async def _consume_once(self) -> None:
        await self._container.consume_events()(max_events=100, timeout=1.0)

    async def _sweep_once(self) -> None:
        await self._container.rescue_jobs()()
        await self._container.enqueue_due_jobs()()
        await self._container.resync_vectors()()
        await self._container.measure_jobs()()
        await asyncio.sleep(self._settings.sweep_interval_s)

    async def _purge_once(self) -> None:
        """Retention (docs/behaviour.md, "Retention"): every ``purge_interval_s``, the
        first one interval after start, so a restart loop never turns into a purge loop."""
        await asyncio.sleep(self._settings.purge_interval_s)
        await self._container.purge()()


async def run_relay(settings: Settings) -> None:
    """The ``memvault relay`` process: the loops until SIGTERM or SIGINT."""
    import signal

    from memvault.entrypoints.lifecycle import running
    from memvault.entrypoints.metrics_server import serve_process_metrics

    serve_process_metrics(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings) as container:
        loops = PipelineLoops(container, settings)
        loops.start()
        log.info("relay_started", bus=settings.event_bus, broker=settings.broker)
        try:
            await stop.wait()
        finally:
            await loops.stop()
    log.info("relay_stopped")
