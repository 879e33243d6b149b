"""``memvault mcp``: the MCP tools over stdio, for a running memvault server.

Configured by the environment (an MCP client's config passes it):
``MEMVAULT_URL`` (default ``http://127.0.0.1:8000``), ``MEMVAULT_API_KEY`` (``mv_...``)
or ``MEMVAULT_TOKEN`` (a JWT), and ``MEMVAULT_USER`` (the user a ``service`` or
``admin`` key acts for). stdout carries the protocol: nothing else may print there.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import Context
from memvault_client import AsyncClient
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from memvault.entrypoints.mcp_tools import build_mcp_server


class McpSettings(BaseSettings):
    """Where the server is and how to authenticate to it."""

    model_config = SettingsConfigDict(env_prefix="MEMVAULT_", extra="ignore")

    url: str = "http://127.0.0.1:8000"
    api_key: SecretStr | None = None
    token: SecretStr | None = None
    user: str | None = None

    def client(self) -> AsyncClient:
        credential = self.api_key or self.token
        if credential is None:
            raise SystemExit("memvault mcp needs MEMVAULT_API_KEY or MEMVAULT_TOKEN")
        return AsyncClient(self.url, token=credential.get_secret_value(), user_id=self.user or None)


async def serve_stdio(settings: McpSettings) -> None:
    async with settings.client() as shared:

        @asynccontextmanager
        async def clients(_: Context) -> AsyncIterator[AsyncClient]:
            yield shared

        await build_mcp_server(clients).run_stdio_async()


def run() -> None:
    # Warnings only, on stderr: each HTTP call logged at INFO would drown the client's log.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve_stdio(McpSettings()))
