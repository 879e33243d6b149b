"""Liveness and readiness; no token needed."""

from __future__ import annotations

from typing import Any

from litestar import Response, get

from entrypoints.http.deps import ContainerDep
from entrypoints.http.errors import problem


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
    checks = await container.readiness()()
    failing = {name: why for name, why in checks.items() if why}
    if failing:
        detail = "; ".join(f"{name}: {why}" for name, why in failing.items())
        return problem(503, f"not ready: {detail}", code="Unavailable", checks=checks)
    return Response({"status": "ready", "checks": checks})
