"""Maintenance commands against a running server (its admin API) or, when none answers,
directly on the data (docs/architecture.md, "Two ways to run"): the embedded vector store
allows one process only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import httpx

from memvault.container import Container, Settings
from memvault.entrypoints.http.auth import issue_token
from memvault.entrypoints.lifecycle import running

T = TypeVar("T")


def server_url(settings: Settings) -> str | None:
    """The base URL of a memvault server answering on the configured address, if any."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    base = f"http://{host}:{settings.port}"
    try:
        response = httpx.get(f"{base}/healthz", timeout=1.0)
    except httpx.TransportError:
        return None
    return base if response.status_code == 200 else None


def call_server(settings: Settings, base: str, path: str, body: dict[str, Any] | None) -> Any:
    token = issue_token(
        settings.jwt_secret(), "memvault-cli", admin=True, ttl=timedelta(minutes=10)
    )
    response = httpx.post(
        f"{base}{path}",
        json=body or {},
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(10.0, read=3600.0),
    )
    if response.status_code != 200:
        raise RuntimeError(f"the server answered {response.status_code}: {response.text}")
    return response.json()


def run_directly(settings: Settings, work: Callable[[Container], Awaitable[T]]) -> T:
    """Run ``work`` on this process's own container, closing everything afterwards."""

    async def main() -> T:
        async with running(settings) as container:
            return await work(container)

    return asyncio.run(main())
