"""Drill: Redis killed while chat turns are posted in scale mode (PostgreSQL + Redis,
separate ``serve``, ``relay`` and ``worker`` processes).

The stack runs on a private Redis (no persistence, so its SIGKILL loses every stream,
consumer group and queued message) and a private PostgreSQL database. Every
``POST /messages`` answers 202 during the outage; after Redis returns on the same port,
with no memvault process restarted, every job ends ``success`` and every message's
memory exists exactly once. The retry settings are the defaults: nothing is compressed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.drill_api import SECRET, get, post_turn, wait_all_succeeded
from tests.e2e.private_redis import PrivateRedis, private_redis
from tests.e2e.scale_stack import ScaleStack, scale_stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
OUTAGE_S = 60
"""How long Redis stays down (the issue's drill)."""
POSTS_BEFORE, POSTS_DURING, POSTS_AFTER = 3, 6, 2
RECOVERY_DEADLINE_S = 420
"""A bound on waiting, not a timed assertion (recovery takes seconds). It is above the
relay's republish delay (5 min: an event that reached the stream just before the kill
is lost with it and published again then) plus its retry cap (100 s)."""


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture
def stack(tmp_path: Path, redis: PrivateRedis) -> Iterator[ScaleStack]:
    settings = {"MEMVAULT_AUTH_JWT_SECRET": SECRET}
    with scale_stack(tmp_path, settings, redis_url=redis.url) as running:
        yield running


def post_spread(stack: ScaleStack, turns: dict[str, str], seconds: float) -> None:
    """Post ``turns`` evenly over ``seconds``."""
    pause = seconds / len(turns)
    for user, text in turns.items():
        post_turn(stack, user, text)
        time.sleep(pause)


@pytest.mark.timeout(OUTAGE_S + RECOVERY_DEADLINE_S + 120)  # its own bounds, not the default 120 s
def test_a_redis_outage_loses_no_message_and_duplicates_no_memory(
    stack: ScaleStack, redis: PrivateRedis
) -> None:
    run = uuid.uuid4().hex[:8]
    count = POSTS_BEFORE + POSTS_DURING + POSTS_AFTER
    turns = {f"drill-{run}-{i}": f"I love sushi {i}" for i in range(count)}
    users = list(turns)
    before, during = users[:POSTS_BEFORE], users[POSTS_BEFORE : POSTS_BEFORE + POSTS_DURING]

    post_turn(stack, before[0], turns[before[0]])
    # the pipeline went through Redis once
    wait_all_succeeded(stack, before[:1], RECOVERY_DEADLINE_S)
    for user in before[1:]:
        post_turn(stack, user, turns[user])
    redis.kill()  # while those are on their way
    post_spread(stack, {user: turns[user] for user in during}, OUTAGE_S)
    redis.start()
    for user in users[POSTS_BEFORE + POSTS_DURING :]:
        post_turn(stack, user, turns[user])

    wait_all_succeeded(stack, users, RECOVERY_DEADLINE_S)
    for process in stack.processes.values():
        assert process.poll() is None, stack.log_tails(40)
    for user, text in turns.items():
        assert len(get(stack, user, "jobs")) == 1, user
        assert [item["content"] for item in get(stack, user, "items")] == [text], user
