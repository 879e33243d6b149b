"""The idempotency store behaves the same on every dialect, races included."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.idempotency import SqlIdempotencyStore
from memvault.application.ports.idempotency import Claim, StoredResponse

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TTL = timedelta(hours=24)
RESPONSE = StoredResponse(
    status=201, body='{"id": 1, "名": "x"}'.encode(), content_type="application/json"
)


async def test_a_finished_key_replays_and_refuses_other_requests(engine: AsyncEngine, user_id: str):
    store = SqlIdempotencyStore(engine)
    assert (await store.begin(user_id, "k", "h1", now=NOW, ttl=TTL)).outcome is Claim.STARTED
    assert (await store.begin(user_id, "k", "h1", now=NOW, ttl=TTL)).outcome is Claim.IN_PROGRESS
    await store.finish(user_id, "k", RESPONSE, expires_at=NOW + TTL)
    replay = await store.begin(user_id, "k", "h1", now=NOW, ttl=TTL)
    assert replay.outcome is Claim.REPLAY
    assert replay.response == RESPONSE
    assert (await store.begin(user_id, "k", "h2", now=NOW, ttl=TTL)).outcome is Claim.MISMATCH


async def test_an_expired_or_abandoned_key_starts_again(engine: AsyncEngine, user_id: str):
    store = SqlIdempotencyStore(engine)
    await store.begin(user_id, "k", "h1", now=NOW, ttl=TTL)
    await store.finish(user_id, "k", RESPONSE, expires_at=NOW + TTL)
    later = NOW + TTL + timedelta(seconds=1)
    assert (await store.begin(user_id, "k", "h2", now=later, ttl=TTL)).outcome is Claim.STARTED
    await store.abandon(user_id, "k")
    assert (await store.begin(user_id, "k", "h3", now=later, ttl=TTL)).outcome is Claim.STARTED


async def test_of_concurrent_begins_exactly_one_starts(engine: AsyncEngine, user_id: str):
    store = SqlIdempotencyStore(engine)
    claims = await asyncio.gather(
        *(store.begin(user_id, "race", "h", now=NOW, ttl=TTL) for _ in range(4))
    )
    outcomes = sorted(c.outcome for c in claims)
    assert outcomes.count(Claim.STARTED) == 1
    assert set(outcomes) <= {Claim.STARTED, Claim.IN_PROGRESS}


async def test_an_in_progress_key_is_held_only_for_its_lease(engine: AsyncEngine, user_id: str):
    store = SqlIdempotencyStore(engine)
    lease = timedelta(seconds=60)
    assert (await store.begin(user_id, "k", "h", now=NOW, ttl=TTL, lease=lease)).outcome is (
        Claim.STARTED
    )
    within = NOW + lease - timedelta(seconds=1)
    held = await store.begin(user_id, "k", "h", now=within, ttl=TTL, lease=lease)
    assert held.outcome is Claim.IN_PROGRESS
    after = NOW + lease
    assert (await store.begin(user_id, "k", "h", now=after, ttl=TTL, lease=lease)).outcome is (
        Claim.STARTED
    )


async def test_a_finished_key_outlives_its_lease_until_its_time_to_live(
    engine: AsyncEngine, user_id: str
):
    store = SqlIdempotencyStore(engine)
    lease = timedelta(seconds=60)
    await store.begin(user_id, "k", "h", now=NOW, ttl=TTL, lease=lease)
    await store.finish(user_id, "k", RESPONSE, expires_at=NOW + TTL)
    hour_later = NOW + timedelta(hours=1)
    replay = await store.begin(user_id, "k", "h", now=hour_later, ttl=TTL, lease=lease)
    assert (replay.outcome, replay.response) == (Claim.REPLAY, RESPONSE)
    after = NOW + TTL
    assert (await store.begin(user_id, "k", "h", now=after, ttl=TTL, lease=lease)).outcome is (
        Claim.STARTED
    )
