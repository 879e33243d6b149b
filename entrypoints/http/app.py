"""The Litestar application. The container is built in the startup hook, inside the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from container import Container, Settings, build_container, shutdown
from entrypoints.http.auth import JWTAuthMiddleware
from entrypoints.http.deps import DEPENDENCIES
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.idempotency import IdempotencyMiddleware
from entrypoints.http.rate_limit import RateLimitMiddleware, TokenBuckets
from entrypoints.http.routes.health import healthz, readyz
from entrypoints.http.routes.items import ItemController
from entrypoints.http.routes.settings import SettingsController

API_VERSION = "0.1.0"


def create_app(settings: Settings, *, container: Container | None = None) -> Litestar:
    """The API for ``settings``. Pass ``container`` to share one built by the caller."""
    secret = settings.jwt_secret(create=True)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.container = container or build_container(settings)
        try:
            yield
        finally:
            await shutdown(app.state.container)

    metrics = PrometheusConfig(app_name="memvault", prefix="memvault", group_path=True)
    buckets = TokenBuckets(rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)
    return Litestar(
        route_handlers=[healthz, readyz, PrometheusController, ItemController, SettingsController],
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
