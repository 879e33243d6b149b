"""Operating scale mode: the relay's and the worker's Prometheus metrics, scraped over
HTTP from separate processes after a chat turn went through the whole pipeline."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from memvault.entrypoints.http.auth import issue_token
from tests.e2e.scale_stack import ScaleStack, free_port, scale_stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "scale-operations-" + "s" * 40
JOB_DEADLINE_S = 60


METRICS_PORTS: dict[str, int] = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleStack]:
    ports = METRICS_PORTS
    ports.update(relay=free_port(), worker=free_port())
    env = {"MEMVAULT_AUTH_JWT_SECRET": SECRET, "MEMVAULT_LOG_FORMAT": "json"}
    per_process = {
        name: {"MEMVAULT_METRICS_PORT": str(port), "MEMVAULT_METRICS_HOST": "127.0.0.1"}
        for name, port in ports.items()
    }
    with scale_stack(tmp_path_factory.mktemp("ops"), env, per_process) as running:
        yield running


def headers(user: str, **extra: str) -> dict[str, str]:
    token = issue_token(SECRET, user, ttl=timedelta(minutes=30))
    return {"Authorization": f"Bearer {token}", **extra}


def finished_job(stack: ScaleStack, user: str, **extra_headers: str) -> dict[str, Any]:
    """Send one chat turn and wait until its extraction job is done."""
    body = {
        "conversation_id": "ops",
        "messages": [{"role": "user", "content": "I live in Lisbon and I love hiking."}],
    }
    url = f"{stack.base_url}/api/v1/memory/messages"
    response = httpx.post(url, json=body, headers=headers(user, **extra_headers), timeout=10)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + JOB_DEADLINE_S
    while time.monotonic() < deadline:
        listed = httpx.get(f"{stack.base_url}/api/v1/memory/jobs", headers=headers(user))
        jobs = listed.json()["items"]
        if jobs and jobs[0]["status"] == "success":
            return dict(jobs[0])
        time.sleep(0.2)
    raise AssertionError(f"the job did not finish\n{stack.log_tails(40)}")


def scrape(process: str) -> str:
    """``/metrics`` of ``process`` (the worker's server is a Dramatiq fork process that
    starts once the worker processes are up, so it may still be on its way)."""
    url = f"http://127.0.0.1:{METRICS_PORTS[process]}/metrics"
    deadline = time.monotonic() + JOB_DEADLINE_S
    while True:
        try:
            response = httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        assert response.status_code == 200
        return response.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        if metric == name or metric == f"{name}{{{wanted}}}":
            return float(value)
    return 0.0


def test_worker_and_relay_serve_their_own_metrics_over_http(stack: ScaleStack) -> None:
    finished_job(stack, f"metrics-{uuid.uuid4().hex[:8]}")

    worker = scrape("worker")
    assert sample(worker, "memory_job_total", status="success") >= 1
    assert sample(worker, "memvault_job_seconds_count", outcome="success") >= 1
    assert sample(worker, "memvault_embedding_seconds_count", kind="documents") >= 1

    relay = scrape("relay")
    assert sample(relay, "memvault_outbox_published_total") >= 1
    assert "memvault_jobs{" in relay  # the queue depth the sweeper measures


def traced(stack: ScaleStack, process: str, request_id: str) -> set[tuple[str, int | None]]:
    """(event, job id) of the process's JSON log lines bound to ``request_id``."""
    lines = stack.logs[process].read_text().splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    return {(r["event"], r.get("job_id")) for r in logged if r.get("request_id") == request_id}


def logged_eventually(
    stack: ScaleStack, process: str, request_id: str, wanted: set[tuple[str, int | None]]
) -> set[tuple[str, int | None]]:
    """The traced lines of ``process`` once they hold ``wanted`` (a job is ``success`` in
    the database a moment before its worker writes ``job_succeeded``), or at the deadline."""
    deadline = time.monotonic() + JOB_DEADLINE_S
    while not wanted <= (seen := traced(stack, process, request_id)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return seen


def test_a_request_id_reaches_the_relay_and_worker_logs_and_audit_entries_in_scale_mode(
    stack: ScaleStack,
) -> None:
    user, request_id = f"traced-{uuid.uuid4().hex[:8]}", f"req-{uuid.uuid4().hex}"
    job = finished_job(stack, user, **{"X-Request-Id": request_id})

    in_worker = {("job_claimed", job["id"]), ("job_succeeded", job["id"])}
    assert in_worker <= logged_eventually(stack, "worker", request_id, in_worker)
    in_relay = {("job_created", job["id"])}
    assert in_relay <= logged_eventually(stack, "relay", request_id, in_relay)
    items = httpx.get(f"{stack.base_url}/api/v1/memory/items", headers=headers(user)).json()
    assert items["items"]
    for item in items["items"]:
        history = httpx.get(
            f"{stack.base_url}/api/v1/memory/items/{item['id']}/history", headers=headers(user)
        ).json()["items"]
        assert [entry["operator_id"] for entry in history] == [request_id]
