"""One request id links an HTTP request to what it caused: the response header, the
extraction job's log lines (JSON logs, the embedded pipeline) and the audit entries of
the memories that job wrote."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from memvault.entrypoints.logging import configure_logging

SECRET = "request-ids-" + "r" * 48
JOB_DEADLINE_S = 30


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """JSON logs into a buffer for the test; the previous logging setup afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("info", "json", stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers, root.level = handlers, level
        structlog.reset_defaults()


def settings_for(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        broker="memory",
        event_bus="memory",
        relay_poll_interval_s=0.05,
    )


def headers(user: str, **extra: str) -> dict[str, str]:
    token = issue_token(SECRET, user, ttl=timedelta(minutes=5))
    return {"Authorization": f"Bearer {token}", **extra}


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


async def finished_job(client: AsyncTestClient, user: str) -> dict[str, Any]:  # type: ignore[type-arg]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + JOB_DEADLINE_S
    while loop.time() < deadline:
        jobs = (await client.get("/api/v1/memory/jobs", headers=headers(user))).json()["items"]
        if jobs and jobs[0]["status"] in ("success", "dead"):
            return dict(jobs[0])
        await asyncio.sleep(0.05)
    raise AssertionError("the extraction job did not finish")


async def test_a_request_id_follows_a_message_into_its_job_logs_and_audit_entries(
    tmp_path: Path, database_urls: dict[str, str], user_id: str, log_lines: io.StringIO
) -> None:
    request_id = "chat-turn-7f3a.2026:abc"
    body = {
        "conversation_id": "trip",
        "messages": [{"role": "user", "content": "I live in Lisbon and I love hiking."}],
    }
    async with AsyncTestClient(create_app(settings_for(tmp_path, database_urls["sqlite"]))) as c:
        sent = await c.post(
            "/api/v1/memory/messages",
            json=body,
            headers=headers(user_id, **{"X-Request-Id": request_id}),
        )
        job = await finished_job(c, user_id)
        items = (await c.get("/api/v1/memory/items", headers=headers(user_id))).json()["items"]
        audits = [
            (
                await c.get(f"/api/v1/memory/items/{item['id']}/history", headers=headers(user_id))
            ).json()
            for item in items
        ]

    assert sent.status_code == 202
    assert sent.headers["x-request-id"] == request_id
    assert job["status"] == "success"
    logged = records(log_lines)
    traced = {r["event"] for r in logged if r.get("request_id") == request_id}
    assert {"job_claimed", "job_succeeded"} <= traced
    assert items
    entries = [entry for history in audits for entry in history["items"]]
    assert entries
    assert {entry["operator_id"] for entry in entries} == {request_id}


@pytest.mark.parametrize("given", ["", "has spaces", "x" * 129, "semi;colon", "-leading-dash"])
async def test_an_unusable_request_id_is_replaced_by_a_new_one(
    tmp_path: Path, database_urls: dict[str, str], user_id: str, given: str
) -> None:
    settings = settings_for(tmp_path, database_urls["sqlite"])
    async with AsyncTestClient(create_app(settings)) as client:
        first = await client.get("/healthz", headers={"X-Request-Id": given})
        second = await client.get("/healthz")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert given not in ids
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert ids[0] != ids[1]
