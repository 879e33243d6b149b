"""Drill: the LLM endpoint refuses connections while chat turns are posted in scale mode
(PostgreSQL + Redis, separate ``serve``, ``relay`` and ``worker`` processes).

``MEMVAULT_LLM_BASE_URL`` points at the scripted loopback chat server on a fixed free
port. It is stopped (connections refused), turns are posted (each 202) and it stays down
while their jobs retry; it then comes back on the same port answering with a fact, and
every job ends ``success`` with its memory stored exactly once. No job is ever ``dead``
and none counts an attempt.

The issue's 5 minutes are compressed through the retry settings: ``OUTAGE_S`` (30 s)
of refusal with ``MEMVAULT_JOB_BACKOFF_BASE_S`` 0.2 s and ``MEMVAULT_JOB_RETRY_CAP_S``
1 s (a wait of at most 1 s, jittered down to ½ s, so about 30 to 60 attempts per job),
against ``MEMVAULT_JOB_MAX_RETRY`` 2: a job would be dead after its 2nd attempt if
transient failures counted. The test checks that each job was seen to wait for more
attempts than that. The retry horizon keeps its default (24 h).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.drill_api import SECRET, get, post_turn, wait_all_succeeded
from tests.e2e.scale_stack import ScaleStack, free_port, scale_stack
from tests.integration.chat_server import ChatServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
OUTAGE_S = 30
"""How long the endpoint refuses connections (the issue's 5 minutes, compressed)."""
MAX_RETRY = 2
"""``MEMVAULT_JOB_MAX_RETRY``: counted failures that make a job dead."""
POSTS_DURING = 5
RECOVERY_DEADLINE_S = 120
"""A bound on waiting, not a timed assertion (recovery takes about the 1 s cap)."""
FACT = "The user loves sushi"
ANSWER = {
    "message_intent": "preference",
    "facts": [{"memory_type": "preference", "content": FACT, "confidence": 0.9}],
}


class Endpoint:
    """The scripted chat server on one port, which a test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ChatServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, answers: int) -> None:
        self.server = ChatServer(port=self.port)
        for _ in range(answers):
            self.server.reply_json(ANSWER)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    chat = Endpoint()
    try:
        yield chat
    finally:
        chat.stop()


@pytest.fixture
def stack(tmp_path: Path, endpoint: Endpoint) -> Iterator[ScaleStack]:
    settings = {
        "MEMVAULT_AUTH_JWT_SECRET": SECRET,
        "MEMVAULT_LLM_BASE_URL": endpoint.url,
        "MEMVAULT_LLM_MODEL": "scripted",
        "MEMVAULT_LLM_TIMEOUT_S": "5",
        "MEMVAULT_JOB_BACKOFF_BASE_S": "0.2",
        "MEMVAULT_JOB_RETRY_CAP_S": "1",
        "MEMVAULT_JOB_MAX_RETRY": str(MAX_RETRY),
    }
    with scale_stack(tmp_path, settings) as running:
        yield running


def watch_outage(stack: ScaleStack, users: list[str], seconds: float) -> dict[str, set[object]]:
    """Poll the jobs of ``users`` for ``seconds``: none may be dead or count an attempt.
    Returns, per user, the distinct retry times seen (one per failed attempt caught)."""
    retries: dict[str, set[object]] = {user: set() for user in users}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for user in users:
            for job in get(stack, user, "jobs"):
                assert job["status"] not in ("dead", "success"), (job, stack.log_tails(40))
                assert job["attempts"] == 0, job  # transient failures never count
                assert job["max_attempts"] == MAX_RETRY, job
                if job["status"] == "failed":
                    assert "unreachable" in str(job["last_error"]), job
                    retries[user].add(job["next_retry_at"])
        time.sleep(0.2)
    return retries


@pytest.mark.timeout(OUTAGE_S + RECOVERY_DEADLINE_S + 120)  # its own bounds, not the default 120 s
def test_an_llm_endpoint_refusing_connections_kills_no_job_in_scale_mode(
    stack: ScaleStack, endpoint: Endpoint
) -> None:
    run = uuid.uuid4().hex[:8]
    first, *during = [f"llm-drill-{run}-{i}" for i in range(1 + POSTS_DURING)]
    endpoint.start(answers=1)
    post_turn(stack, first, "I love sushi")
    wait_all_succeeded(stack, [first], RECOVERY_DEADLINE_S)  # the LLM was reached once

    endpoint.stop()  # connections refused from now on
    for user in during:
        post_turn(stack, user, "I love sushi")
    retries = watch_outage(stack, during, OUTAGE_S)
    assert all(len(seen) > MAX_RETRY for seen in retries.values()), retries
    endpoint.start(answers=2 * POSTS_DURING)  # spare answers: an extra call must not fail

    wait_all_succeeded(stack, during, RECOVERY_DEADLINE_S)
    for process in stack.processes.values():
        assert process.poll() is None, stack.log_tails(40)
    for user in [first, *during]:
        jobs = get(stack, user, "jobs")
        assert [(job["status"], job["attempts"]) for job in jobs] == [("success", 0)], jobs
        assert [item["content"] for item in get(stack, user, "items")] == [FACT], user
