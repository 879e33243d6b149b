"""``/mcp``: the MCP tools over streamable HTTP, mounted on the API.

The mount sits behind the API's own authentication (a JWT or an API key, and
``X-Memvault-User`` for service keys). Each tool call then goes through the API
in-process, with the caller's own credentials, so scopes, rate limits, idempotency and
audit apply exactly as to any other request.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar
from litestar.exceptions import ServiceUnavailableException
from litestar.handlers import ASGIRouteHandler, asgi
from litestar.types import Receive, Scope, Send
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from memvault_client import AsyncClient

from memvault.entrypoints.mcp_tools import build_mcp_server

MCP_PATH = "/mcp"
FORWARDED = ("authorization", "x-memvault-user")
INTERNAL_BASE = "http://memvault.internal"


@functools.cache
def _tools() -> MCPServer:
    """The tools, built once per process on first use (their schemas take a while)."""
    return build_mcp_server(_caller_client)


@asynccontextmanager
async def _caller_client(ctx: Context) -> AsyncIterator[AsyncClient]:
    """A client that calls the API serving this request, with the caller's credentials."""
    request = ctx.request_context.request
    scope = getattr(request, "scope", None) or {}
    api = scope.get("litestar_app")
    if not isinstance(api, Litestar):
        raise RuntimeError("the MCP tools over HTTP run only behind the API's /mcp mount")
    headers = {k: v for k, v in (ctx.headers or {}).items() if k.lower() in FORWARDED}
    transport = httpx.ASGITransport(app=api)  # type: ignore[arg-type]
    http = httpx.AsyncClient(transport=transport, base_url=INTERNAL_BASE, headers=headers)
    async with AsyncClient(INTERNAL_BASE, http=http) as client:
        yield client


class McpMount:
    """One API's ``/mcp``: an ASGI app and the session manager its lifespan runs.

    The SDK's session manager runs once per instance, while a Litestar app may run its
    lifespan more than once (test clients do): each run builds a fresh app and manager.
    """

    def __init__(self) -> None:
        self._app: Callable[..., Awaitable[None]] | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve ``/mcp`` for the duration of the API's lifespan."""
        server = _tools()
        # Bearer authentication happens before the mount, so the SDK's DNS-rebinding
        # check (meant for unauthenticated local servers) would only refuse real hosts.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        app = server.streamable_http_app(
            streamable_http_path="/",
            stateless_http=True,
            json_response=True,
            transport_security=security,
        )
        sessions = server.session_manager  # this app's own (the server keeps the newest)
        async with sessions.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None

    def route(self) -> ASGIRouteHandler:
        @asgi(MCP_PATH, is_mount=True, copy_scope=True)
        async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            if self._app is None:
                raise ServiceUnavailableException("the MCP endpoint is not running")
            await self._app(scope, receive, send)

        return mcp_endpoint
