"""The MCP tools, driven with the ``mcp`` client library over stdio (``memvault mcp``)
and over streamable HTTP (``/mcp`` on the API), against a live server."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.clients.live_server import ROOT, LiveServer

TOOLS = {"remember", "recall", "context", "list", "forget", "restore", "history"}


def unique_user() -> str:
    return f"mcp-{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def over_stdio(server: LiveServer, key: str, user: str) -> AsyncIterator[Client]:
    env = {
        "MEMVAULT_URL": server.url,
        "MEMVAULT_API_KEY": key,
        "MEMVAULT_USER": user,
        "PYTHONPATH": server.env["PYTHONPATH"],
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "memvault.entrypoints.cli", "mcp"], env=env, cwd=ROOT
    )
    async with Client(params) as client:
        yield client


@asynccontextmanager
async def over_http(server: LiveServer, headers: dict[str, str]) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client,
    ):
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


async def a_memory_round_trip(client: Client) -> None:
    """List the tools, remember a fact from a chat turn (waiting for its extraction),
    recall it, forget it, restore it, read its history."""
    listed = await client.list_tools()
    assert {tool.name for tool in listed.tools} == TOOLS
    assert all(tool.description for tool in listed.tools)

    said = "Please remember that my favourite city is Lisbon"
    remembered = await call(client, "remember", messages=[{"role": "user", "content": said}])
    assert remembered["pending_jobs"] == []
    (memory,) = remembered["stored"]
    assert "Lisbon" in memory["content"]

    recalled = await call(client, "recall", query="favourite city Lisbon")
    assert recalled["memories"][0]["id"] == memory["id"]
    (recall,) = [tool for tool in listed.tools if tool.name == "recall"]
    assert recall.input_schema["properties"]["limit"]["maximum"] == 100  # POST /search's
    widest = await call(client, "recall", query="favourite city Lisbon", limit=100)
    assert widest["memories"][0]["id"] == memory["id"]
    block = await call(client, "context", query="which city do I love, Lisbon?")
    assert "Lisbon" in block["text"]

    fact = await call(client, "remember", fact="I am allergic to peanuts", memory_type="constraint")
    listed_memories = await call(client, "list")
    assert {m["id"] for m in listed_memories["memories"]} == {memory["id"], fact["stored"][0]["id"]}

    forgotten = await call(client, "forget", memory_id=memory["id"], reason="moved on")
    assert forgotten["status"] == "deleted"
    after = await call(client, "recall", query="favourite city Lisbon")
    assert memory["id"] not in {m["id"] for m in after["memories"]}
    assert (await call(client, "restore", memory_id=memory["id"]))["status"] == "active"
    changes = (await call(client, "history", memory_id=memory["id"]))["changes"]
    assert [c["operation"] for c in changes] == ["create", "delete", "restore"]

    missing = await client.call_tool("forget", {"memory_id": 987654321})
    assert missing.is_error
    assert "MemoryItemNotFound" in str(missing.content)


async def test_memvault_mcp_over_stdio(server: LiveServer, service_key: str):
    async with over_stdio(server, service_key, unique_user()) as client:
        await a_memory_round_trip(client)


async def test_the_mcp_mount_over_streamable_http(server: LiveServer, service_key: str):
    user = unique_user()
    headers = {"Authorization": f"Bearer {service_key}", "X-Memvault-User": user}
    async with over_http(server, headers) as client:
        await a_memory_round_trip(client)
    token = {"Authorization": f"Bearer {server.token(user)}"}
    async with over_http(server, token) as client:
        listed = await call(client, "list", status="active")
        assert len(listed["memories"]) == 2


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer mv_unknown"}, {"Authorization": "Bearer not-a-jwt"}],
)
def test_the_mcp_mount_needs_the_same_authentication(server: LiveServer, headers: dict[str, str]):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(f"{server.url}/mcp", json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthorized"


def test_a_service_key_on_the_mcp_mount_must_name_the_user(server: LiveServer, service_key: str):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(
        f"{server.url}/mcp", json=body, headers={"Authorization": f"Bearer {service_key}"}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "X-Memvault-User"
