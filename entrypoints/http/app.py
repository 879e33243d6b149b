"""The Litestar application. The container is built in the startup hook, inside the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from container import Infrastructure, Settings, build_infrastructure, close_infrastructure
from entrypoints.access_flusher import AccessFlusher
from entrypoints.embedded_worker import EmbeddedWorker
from entrypoints.http.auth import JWTAuthMiddleware
from entrypoints.http.deps import DEPENDENCIES
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.idempotency import IdempotencyMiddleware
from entrypoints.http.rate_limit import RateLimitMiddleware, TokenBuckets
from entrypoints.http.routes.admin import AdminController
from entrypoints.http.routes.health import healthz, readyz
from entrypoints.http.routes.items import ItemController
from entrypoints.http.routes.jobs import JobController
from entrypoints.http.routes.messages import post_messages
from entrypoints.http.routes.search import context, search
from entrypoints.http.routes.settings import SettingsController
from entrypoints.http.routes.snapshots import SnapshotController
from entrypoints.pipeline import PipelineLoops

API_VERSION = "0.1.0"


def create_app(settings: Settings, *, infra: Infrastructure | None = None) -> Litestar:
    """The API for ``settings``. In the embedded default (in-process bus or broker) the
    same process also runs the relay, the consumer, the sweepers and the job worker."""
    secret = settings.jwt_secret(create=True)
    infrastructure = infra or build_infrastructure(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        container = infrastructure.loops().current()
        app.state.container = container
        app.state.infra = infrastructure
        worker = EmbeddedWorker(infrastructure) if settings.broker == "memory" else None
        loops = PipelineLoops(container, settings) if settings.event_bus == "memory" else None
        if worker is not None:
            worker.start()
        if loops is not None:
            await loops.resume_pending_work()
            loops.start()
        access = AccessFlusher(
            container.access_times(), interval_s=settings.access_flush_interval_s
        )
        access.start()
        try:
            yield
        finally:
            await access.stop()
            if loops is not None:
                await loops.stop()
            if worker is not None:
                worker.stop()
            await infrastructure.loops().close_current()
            await close_infrastructure(infrastructure)

    metrics = PrometheusConfig(app_name="memvault", prefix="memvault", group_path=True)
    buckets = TokenBuckets(rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)
    return Litestar(
        route_handlers=[
            healthz,
            readyz,
            PrometheusController,
            ItemController,
            SettingsController,
            post_messages,
            search,
            context,
            JobController,
            AdminController,
            SnapshotController,
        ],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            metrics.middleware,
            DefineMiddleware(JWTAuthMiddleware, secret=secret),
            DefineMiddleware(RateLimitMiddleware, buckets=buckets),
            IdempotencyMiddleware,
        ],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="memvault",
            version=API_VERSION,
            description="Long-term memory for AI agents.",
            path="/schema",
        ),
        debug=False,
    )
