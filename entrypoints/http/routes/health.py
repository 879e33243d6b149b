"""Liveness and readiness; no token needed."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Response, get

from memvault.entrypoints.http.deps import ContainerDep
from memvault.entrypoints.http.errors import problem

log = structlog.get_logger(__name__)


@get("/healthz", operation_id="healthz", summary="The process is up", tags=["service"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/readyz",
    operation_id="readyz",
    summary="Every dependency answers (503 names those that do not)",
    tags=["service"],
)
async def readyz(container: ContainerDep) -> Response[dict[str, Any]]:
    """Names what is down; the reasons (which hold hosts and paths) go to the log only,
    since anyone may call this route."""
    checks = await container.readiness()()
    failing = {name: why for name, why in checks.items() if why}
    states = {name: ("unavailable" if why else "ok") for name, why in checks.items()}
    if failing:
        log.warning("not_ready", **failing)
        detail = "not ready: " + ", ".join(sorted(failing)) + " unavailable"
        response = problem(503, detail, code="Unavailable", checks=states)
        response.headers["Retry-After"] = str(container.settings().unavailable_retry_after_s)
        return response
    return Response({"status": "ready", "checks": states})
