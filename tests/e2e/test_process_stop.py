"""Each scale-mode process stops cleanly when its whole process group is signalled
(docs/behaviour.md, "Extraction jobs": stopping), the way systemd's
``KillMode=control-group`` or Ctrl-C in a terminal signal it.

``memvault worker`` runs 2 processes x 4 threads, all busy with jobs whose extraction
(the scripted LLM endpoint) answers only after a long wait. SIGTERM, or SIGINT, goes to
the worker's group, then the relay's, then the API's: each must end within its grace,
and no job may be left ``processing`` (each job in hand released its lease).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrypoints.http.auth import issue_token
from tests.e2e.scale_stack import ScaleStack, scale_stack
from tests.integration.chat_server import ChatServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "process-stop-" + "p" * 40
USERS = 12
SLOW_ANSWER_S = 20.0
"""Each extraction waits this long for its answer: the workers are busy when stopped."""
GRACE_S = 30.0
BUSY_JOBS = 8
GIVE_UP_S = 60.0
CHIT_CHAT = json.dumps({"message_intent": "chitchat", "facts": []})


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    for _ in range(4 * USERS):
        server.reply(CHIT_CHAT, delay=SLOW_ANSWER_S)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def admin() -> dict[str, str]:
    token = issue_token(SECRET, "operator", admin=True, ttl=timedelta(minutes=30))
    return {"Authorization": f"Bearer {token}"}


def post_turns(stack: ScaleStack) -> None:
    for user in range(USERS):
        token = issue_token(SECRET, f"stop-user-{user}", ttl=timedelta(minutes=30))
        response = httpx.post(
            f"{stack.base_url}/api/v1/memory/messages",
            json={"conversation_id": "c", "messages": [{"role": "user", "content": "hello"}]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text


def jobs(stack: ScaleStack, status: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.base_url}/api/v1/admin/jobs",
        params={"status": status, "limit": 100},
        headers=admin(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def wait_until_busy(stack: ScaleStack) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while len(jobs(stack, "processing")) < BUSY_JOBS:
        assert time.monotonic() < deadline, f"the workers never got busy\n{stack.log_tails(40)}"
        time.sleep(0.2)


def stop_group(stack: ScaleStack, name: str, signum: signal.Signals) -> None:
    process = stack.processes[name]
    os.killpg(process.pid, signum)
    try:
        process.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"memvault {name} still runs {GRACE_S:.0f} s after {signum.name}\n{stack.log_tails(40)}"
        )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_every_process_stops_within_its_grace_and_leaves_no_job_processing(
    tmp_path: Path, chat: ChatServer, signum: signal.Signals
):
    settings = {
        "MEMVAULT_AUTH_JWT_SECRET": SECRET,
        "MEMVAULT_LLM_BASE_URL": chat.url,
        "MEMVAULT_LLM_MODEL": "scripted",
        "MEMVAULT_LLM_TIMEOUT_S": str(SLOW_ANSWER_S * 3),
        "MEMVAULT_WORKER_PROCESSES": "2",
        "MEMVAULT_WORKER_THREADS": "4",
    }
    with scale_stack(tmp_path, settings) as stack:
        post_turns(stack)
        wait_until_busy(stack)

        stop_group(stack, "worker", signum)
        assert jobs(stack, "processing") == []
        released = jobs(stack, "pending")
        assert len(released) == USERS, released
        assert all(job["attempts"] == 0 for job in released), released
        stop_group(stack, "relay", signum)
        stop_group(stack, "serve", signum)
