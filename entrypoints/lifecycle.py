"""The life of a process's containers: build, use in the current loop, close.

Every entrypoint (the API's lifespan, ``memvault relay``, the maintenance commands)
runs its work inside :func:`running`, so resources are closed in one order everywhere:
the loop's container (its clients, then its engine), then the process-wide ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from memvault.container import (
    Container,
    Infrastructure,
    Settings,
    build_infrastructure,
    close_infrastructure,
)


@asynccontextmanager
async def running(
    settings: Settings, *, infra: Infrastructure | None = None
) -> AsyncIterator[Container]:
    """The current loop's container over ``infra`` (built from ``settings`` when not
    given); on exit that container and then the infrastructure are closed."""
    infrastructure = infra or build_infrastructure(settings)
    try:
        yield infrastructure.loops().current()
    finally:
        await infrastructure.loops().close_current()
        await close_infrastructure(infrastructure)
