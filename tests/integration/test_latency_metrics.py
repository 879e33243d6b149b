"""Latency histograms: LLM calls (by outcome) and searches are timed and exported on the
API's ``/metrics`` with the ``memvault_`` prefix."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr

from memvault.adapters.llm.client import LLMClient, LLMError
from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.integration.chat_server import ChatServer

SECRET = "latency-metrics-" + "m" * 48


def observed(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0


@pytest.fixture
def server() -> Iterator[ChatServer]:
    chat = ChatServer()
    chat.start()
    yield chat
    chat.stop()


async def test_llm_calls_are_timed_by_outcome(server: ChatServer) -> None:
    ok, failed = (
        observed("memvault_llm_seconds", outcome="ok"),
        observed("memvault_llm_seconds", outcome="error"),
    )
    client = LLMClient(base_url=server.url, model="m", timeout=2.0)
    try:
        server.reply_json({"answer": 1})
        await client.complete_json("be brief", "hi", max_tokens=50, temperature=0)
        server.fail(500)
        with pytest.raises(LLMError):
            await client.complete_json("be brief", "hi", max_tokens=50, temperature=0)
    finally:
        await client.aclose()
    assert observed("memvault_llm_seconds", outcome="ok") == ok + 1
    assert observed("memvault_llm_seconds", outcome="error") == failed + 1


async def test_searches_are_timed_and_exported_on_metrics(
    tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_urls["sqlite"],
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
    )
    token = issue_token(SECRET, user_id, ttl=timedelta(minutes=5))
    before = observed("memvault_search_seconds")
    async with AsyncTestClient(create_app(settings)) as client:
        found = await client.post(
            "/api/v1/memory/search",
            json={"query": "where do I live"},
            headers={"Authorization": f"Bearer {token}"},
        )
        metrics = await client.get("/metrics")
    assert found.status_code == 200, found.text
    assert observed("memvault_search_seconds") == before + 1
    assert "memvault_search_seconds_bucket" in metrics.text
    assert "memvault_request_duration_seconds_bucket" in metrics.text
