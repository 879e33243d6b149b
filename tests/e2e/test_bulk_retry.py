"""Bulk retry of dead jobs and dead outbox rows by filter (docs/behaviour.md,
"Extraction jobs"): one call sends many again, each audited as a single retry is."""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from memvault.adapters.sqlalchemy.tables import memory_audit_logs as audit
from memvault.container import Container
from memvault.domain.jobs import JobStatus
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from tests.e2e.conftest import Auth
from tests.integration.job_support import make_job, utcnow

Client = AsyncTestClient  # type: ignore[type-arg]


def container_of(client: Client) -> Container:
    container: Container = client.app.state.container
    return container


async def dead_job(container: Container, user_id: str, text: str) -> int:
    job = make_job(user_id, text, status=JobStatus.DEAD, retry_count=6)
    async with container.uow()() as tx:
        job_id = await tx.jobs.add_unless_exists(job)
        await tx.commit()
    assert job_id is not None
    return job_id


async def test_dead_jobs_of_a_user_since_a_time_are_sent_again_and_audited(
    client: Client, auth: Auth, user_id: str
) -> None:
    container = container_of(client)
    since = utcnow() - timedelta(seconds=1)
    mine = [await dead_job(container, user_id, f"I love tea {n}") for n in range(3)]
    other = await dead_job(container, user_id + "-other", "I love jazz")
    body = {"status": "dead", "since": since.isoformat(), "user_id": user_id, "reason": "LLM back"}

    refused = await client.post("/api/v1/admin/jobs/retry", json=body, headers=auth(user_id))
    response = await client.post(
        "/api/v1/admin/jobs/retry", json=body, headers=auth("operator-1", admin=True)
    )

    assert refused.status_code == 403
    assert response.status_code == 200, response.text
    assert sorted(response.json()["ids"]) == sorted(mine)
    async with container.uow()() as tx:
        for job_id in mine:
            job = await tx.jobs.get(job_id)
            assert job is not None
            # The in-process worker may already be running or have finished it.
            assert job.status in (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.SUCCESS)
            assert job.retry_count == 0
        untouched = await tx.jobs.get(other)
        assert untouched is not None
        assert untouched.status is JobStatus.DEAD
    stmt = select(audit).where(audit.c.target_type == "job", audit.c.user_id == user_id)
    async with container.engine().connect() as conn:
        entries = (await conn.execute(stmt)).mappings().all()
    assert sorted(int(e["target_id"]) for e in entries) == sorted(mine)
    assert {(e["operator_id"], e["reason"]) for e in entries} == {("operator-1", "LLM back")}


async def test_dead_outbox_rows_since_a_time_are_sent_back_to_pending(
    client: Client, auth: Auth, user_id: str
) -> None:
    container = container_of(client)
    now = utcnow()
    async with container.uow()() as tx:
        row = await tx.outbox.add(
            OutboxMessage(
                event_type="memory.extract.requested",
                topic="memvault.memory.events",
                message_key="conv-1",
                payload="{}",
                user_id=user_id,
                status=OutboxStatus.DEAD,
                retry_count=20,
                created_at=now,
                updated_at=now,
            )
        )
        await tx.commit()
    body = {"status": "dead", "since": (now - timedelta(seconds=1)).isoformat(), "user_id": user_id}

    response = await client.post(
        "/api/v1/admin/outbox/retry", json=body, headers=auth("operator-2", admin=True)
    )

    assert response.status_code == 200, response.text
    assert response.json()["ids"] == [row.id]
    async with container.uow()() as tx:
        again = await tx.outbox.get(row.id or 0)
    assert again is not None
    # The in-process relay may have taken it on already: it is no longer dead-by-count.
    assert again.retry_count == 0
    stmt = select(audit).where(audit.c.target_type == "outbox", audit.c.target_id == str(row.id))
    async with container.engine().connect() as conn:
        [entry] = (await conn.execute(stmt)).mappings().all()
    assert (entry["operation"], entry["operator_id"]) == ("retry", "operator-2")
