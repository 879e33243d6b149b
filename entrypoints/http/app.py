"""The Litestar application. The container is built in the startup hook, inside the loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from memvault.container import Infrastructure, Settings, build_infrastructure
from memvault.entrypoints.access_flusher import AccessFlusher
from memvault.entrypoints.embedded_worker import EmbeddedWorker
from memvault.entrypoints.http.asgi import MAX_BODY_BYTES
from memvault.entrypoints.http.auth import PUBLIC_PATHS, JWTAuthMiddleware
from memvault.entrypoints.http.body_guard import BodyGuardMiddleware
from memvault.entrypoints.http.deps import DEPENDENCIES
from memvault.entrypoints.http.errors import EXCEPTION_HANDLERS
from memvault.entrypoints.http.idempotency import IdempotencyMiddleware
from memvault.entrypoints.http.mcp_mount import McpMount
from memvault.entrypoints.http.openapi import document_problems
from memvault.entrypoints.http.rate_limit import RateLimitMiddleware, TokenBuckets
from memvault.entrypoints.http.request_id import RequestIdMiddleware
from memvault.entrypoints.http.routes.admin import AdminController
from memvault.entrypoints.http.routes.api_keys import ApiKeyController
from memvault.entrypoints.http.routes.health import healthz, readyz
from memvault.entrypoints.http.routes.items import ItemController
from memvault.entrypoints.http.routes.jobs import JobController
from memvault.entrypoints.http.routes.messages import post_messages
from memvault.entrypoints.http.routes.search import context, search
from memvault.entrypoints.http.routes.settings import SettingsController
from memvault.entrypoints.http.routes.snapshots import SnapshotController
from memvault.entrypoints.http.routes.transfer import TransferController, export_own
from memvault.entrypoints.http.routes.ui import ui_asset, ui_page
from memvault.entrypoints.http.tracing import tracing_plugins
from memvault.entrypoints.lifecycle import running
from memvault.entrypoints.pipeline import PipelineLoops

API_VERSION = "0.1.0"


def lifespan_of(
    settings: Settings, infrastructure: Infrastructure, mcp: McpMount
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the loop's container for the requests and, in the embedded
    default, the in-process worker (broker ``memory``) and pipeline loops (bus ``memory``)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(settings, infra=infrastructure) as container:
            app.state.container = container
            app.state.infra = infrastructure
            app.state.rate_limiter = container.rate_limiter()  # None: in-process buckets
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
                async with mcp.running():
                    yield
            finally:
                await access.stop()
                if loops is not None:
                    await loops.stop()
                if worker is not None:
                    # Off the loop: a job finishing on the worker's own loop may still need
                    # this one (the in-process bus, the relay's wake-up), so blocking it here
                    # could wait for ever.
                    await asyncio.to_thread(worker.stop)

    return lifespan


def create_app(settings: Settings, *, infra: Infrastructure | None = None) -> Litestar:
    """The API for ``settings``. In the embedded default (in-process bus or broker) the
    same process also runs the relay, the consumer, the sweepers and the job worker."""
    secret = settings.jwt_secret(create=True)
    mcp = McpMount()
    infrastructure = infra or build_infrastructure(settings)
    lifespan = lifespan_of(settings, infrastructure, mcp)
    metrics = PrometheusConfig(app_name="memvault", prefix="memvault", group_path=True)
    buckets = TokenBuckets(rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)
    app = Litestar(
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
            ApiKeyController,
            SnapshotController,
            mcp.route(),
            export_own,
            TransferController,
            ui_page,
            ui_asset,
        ],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            RequestIdMiddleware,
            metrics.middleware,
            DefineMiddleware(
                JWTAuthMiddleware, secret=secret, provider=infrastructure.identity_provider()
            ),
            DefineMiddleware(RateLimitMiddleware, buckets=buckets),
            BodyGuardMiddleware,
            IdempotencyMiddleware,
        ],
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="memvault",
            version=API_VERSION,
            description="Long-term memory for AI agents.",
            path="/schema",
        ),
        debug=False,
        plugins=tracing_plugins(settings),
        logging_config=None,  # entrypoints/logging.py configures logging, once per process
    )
    document_problems(app.openapi_schema, PUBLIC_PATHS)
    return app
