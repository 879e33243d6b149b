"""The HTTP steps the scale-mode outage drills share: post a chat turn, read a user's
jobs or items, and wait (bounded) until every job of some users is ``success``."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx

from memvault.entrypoints.http.auth import issue_token
from tests.e2e.scale_stack import ScaleStack

SECRET = "outage-drill-" + "s" * 40
"""``MEMVAULT_AUTH_JWT_SECRET`` of a drill's stack."""


def headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user, ttl=timedelta(hours=1))}"}


def post_turn(stack: ScaleStack, user: str, text: str) -> None:
    body = {"conversation_id": "drill", "messages": [{"role": "user", "content": text}]}
    url = f"{stack.base_url}/api/v1/memory/messages"
    response = httpx.post(url, json=body, headers=headers(user), timeout=30)
    assert response.status_code == 202, response.text


def get(stack: ScaleStack, user: str, path: str) -> list[dict[str, object]]:
    response = httpx.get(f"{stack.base_url}/api/v1/memory/{path}", headers=headers(user))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def wait_all_succeeded(stack: ScaleStack, users: list[str], deadline_s: float) -> None:
    """Poll until every job of ``users`` is ``success``; none may ever be ``dead``.
    ``deadline_s`` bounds the wait; it is not a timed assertion."""
    deadline = time.monotonic() + deadline_s
    waiting = set(users)
    while waiting and time.monotonic() < deadline:
        for user in sorted(waiting):
            jobs = get(stack, user, "jobs")
            assert all(job["status"] != "dead" for job in jobs), (jobs, stack.log_tails(40))
            if jobs and all(job["status"] == "success" for job in jobs):
                waiting.discard(user)
        time.sleep(0.5)
    statuses = {user: [job["status"] for job in get(stack, user, "jobs")] for user in waiting}
    assert not waiting, f"jobs not all success: {statuses}\n{stack.log_tails(40)}"
