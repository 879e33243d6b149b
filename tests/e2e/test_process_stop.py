"""Each process stops cleanly when its whole process group is signalled
(docs/behaviour.md, "Extraction jobs": stopping), the way systemd's
``KillMode=control-group`` or Ctrl-C in a terminal signal it.

Scale mode: ``memvault worker`` runs 2 processes x 4 threads, all busy with jobs whose
extraction (the scripted LLM endpoint) answers only after a long wait. SIGTERM, or
SIGINT, goes to the worker's group, then the relay's, then the API's: each must end
within its grace, and no job may be left ``processing`` (each job in hand released its
lease). The embedded ``memvault serve``, its in-process worker threads busy the same
way, likewise.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from memvault.entrypoints.http.auth import issue_token
from tests.e2e.scale_stack import free_port, scale_stack
from tests.integration.chat_server import ChatServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
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


def post_turns(base_url: str, users: int = USERS) -> None:
    for user in range(users):
        token = issue_token(SECRET, f"stop-user-{user}", ttl=timedelta(minutes=30))
        response = httpx.post(
            f"{base_url}/api/v1/memory/messages",
            json={"conversation_id": "c", "messages": [{"role": "user", "content": "hello"}]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text


def jobs(base_url: str, status: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/api/v1/admin/jobs",
        params={"status": status, "limit": 100},
        headers=admin(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def wait_until_busy(base_url: str, busy: int, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while len(jobs(base_url, "processing")) < busy:
        assert time.monotonic() < deadline, f"the workers never got busy\n{logs()}"
        time.sleep(0.2)


def stop_group(
    process: subprocess.Popen[bytes], signum: signal.Signals, logs: Callable[[], str]
) -> None:
    os.killpg(process.pid, signum)
    try:
        process.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{process.args} still runs {GRACE_S:.0f} s after {signum.name}\n{logs()}")


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
        post_turns(stack.base_url)
        wait_until_busy(stack.base_url, BUSY_JOBS, stack.log_tails)

        stop_group(stack.processes["worker"], signum, stack.log_tails)
        assert jobs(stack.base_url, "processing") == []
        released = jobs(stack.base_url, "pending")
        assert len(released) == USERS, released
        assert all(job["attempts"] == 0 for job in released), released
        stop_group(stack.processes["relay"], signum, stack.log_tails)
        stop_group(stack.processes["serve"], signum, stack.log_tails)


def test_the_embedded_server_busy_with_jobs_stops_within_its_grace_on_a_group_sigterm(
    tmp_path: Path, chat: ChatServer
):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")} | {
        "MEMVAULT_DATA_DIR": str(tmp_path / "data"),
        "MEMVAULT_PORT": str(port),
        "MEMVAULT_AUTH_JWT_SECRET": SECRET,
        "MEMVAULT_LLM_BASE_URL": chat.url,
        "MEMVAULT_LLM_MODEL": "scripted",
        "MEMVAULT_LLM_TIMEOUT_S": str(SLOW_ANSWER_S * 3),
        "MEMVAULT_EMBEDDER": "hashing",
        "MEMVAULT_VECTOR_STORE": "memory",
        "MEMVAULT_RATE_LIMIT_PER_SECOND": "1000",
        "MEMVAULT_RATE_LIMIT_BURST": "1000",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "memvault.entrypoints.cli", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(serve, base_url)
        post_turns(base_url, users=4)
        wait_until_busy(base_url, 2, lambda: log.read_text(errors="replace")[-3000:])

        stop_group(serve, signal.SIGTERM, lambda: log.read_text(errors="replace")[-3000:])
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()

    with sqlite3.connect(tmp_path / "data" / "memvault.db") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM memory_jobs GROUP BY status"))
    assert statuses == {"pending": 4}


def wait_ready(process: subprocess.Popen[bytes], base_url: str) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while True:
        assert process.poll() is None, "serve exited early"
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not become ready in time"
        time.sleep(0.2)
