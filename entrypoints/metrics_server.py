"""Prometheus ``/metrics`` for the processes without an HTTP API: ``relay`` and ``worker``.

The relay is one process: it serves its default registry from a thread. ``memvault
worker`` runs several Dramatiq processes, so it uses prometheus-client's multiprocess
mode: every worker process writes its samples to files in one directory (set in the
environment before they start), and one extra Dramatiq fork process serves their sum.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from memvault.container import Settings

log = structlog.get_logger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 (scraped from outside the container)


def serve_process_metrics(settings: Settings) -> None:
    """Serve this process's registry on ``MEMVAULT_METRICS_PORT`` (if set) from a thread."""
    if settings.metrics_port is None:
        return
    from prometheus_client import start_http_server

    start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("metrics_serving", port=settings.metrics_port)


def prepare_worker_metrics(settings: Settings) -> list[str]:
    """Before the Dramatiq processes start: an empty multiprocess directory in the
    environment they inherit, and the ``dramatiq`` arguments that fork the server."""
    if settings.metrics_port is None:
        return []
    directory = Path(os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="memvault-prom-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # samples of a previous run (prometheus-client's files)
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    return ["--fork-function", f"{__name__}:serve_worker_metrics"]


def serve_worker_metrics() -> None:
    """Dramatiq fork function: serve the sum of every worker process's samples.

    It reads its two settings straight from the environment: importing the container
    (every adapter) would delay the server by seconds after the workers are up."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    port = os.environ.get("MEMVAULT_METRICS_PORT")
    if not port:
        return
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    host = os.environ.get("MEMVAULT_METRICS_HOST", DEFAULT_HOST)
    start_http_server(int(port), addr=host, registry=registry)
    threading.Event().wait()  # until Dramatiq stops this process (SIGTERM)
