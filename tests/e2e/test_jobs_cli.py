"""`memvault jobs list|show|retry` on the embedded SQLite data dir, as an operator runs them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from typer.testing import CliRunner

from memvault.container import Container, Settings, build_infrastructure, migrate
from memvault.domain.audit import AuditEntry, AuditTarget
from memvault.domain.jobs import ExtractionJob, JobStatus
from memvault.entrypoints.cli import app

T = TypeVar("T")
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    """A migrated embedded data dir; nothing from the caller's MEMVAULT_* leaks in."""
    migrate(Settings(data_dir=tmp_path, database_url=None))
    return {
        "MEMVAULT_DATA_DIR": str(tmp_path),
        "MEMVAULT_DATABASE_URL": None,
        "MEMVAULT_BROKER": "memory",
        "MEMVAULT_EVENT_BUS": "memory",
        "MEMVAULT_LOG_LEVEL": "warning",
    }


def on_data(env: dict[str, str | None], work: Callable[[Container], Awaitable[T]]) -> T:
    settings = Settings(data_dir=Path(env["MEMVAULT_DATA_DIR"] or "."), database_url=None)
    infra = build_infrastructure(settings)

    async def run() -> T:
        try:
            return await work(infra.loops().current())
        finally:
            await infra.loops().close_current()

    return asyncio.run(run())


def add_job(env: dict[str, str | None], user: str, key: str, **state: object) -> int:
    job = ExtractionJob(
        user_id=user,
        conversation_id="trip-planning",
        source_message_id=f"message-{key}",
        idempotency_key=f"memory_extract_{key}",
        payload_json="{}",
        max_retry=3,
        created_at=NOW,
        updated_at=NOW,
        **state,  # type: ignore[arg-type]
    )

    async def insert(container: Container) -> int:
        async with container.uow()() as uow:
            job_id = await uow.jobs.add_unless_exists(job)
            await uow.commit()
        assert job_id is not None
        return job_id

    return on_data(env, insert)


def get_job(env: dict[str, str | None], job_id: int) -> ExtractionJob:
    return on_data(env, lambda c: c.get_job()(job_id, user_id=None))


def job_audit(env: dict[str, str | None], user: str, job_id: int) -> list[AuditEntry]:
    async def history(container: Container) -> list[AuditEntry]:
        async with container.uow()() as uow:
            return await uow.audit.history(user, AuditTarget.JOB, str(job_id))

    return on_data(env, history)


def memvault(env: dict[str, str | None], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def dead(reason: str = "ExtractionError: model timed out") -> dict[str, object]:
    return {"status": JobStatus.DEAD, "retry_count": 3, "last_error": reason}


def test_list_shows_the_newest_jobs_first_and_filters_by_status_and_user(
    env: dict[str, str | None],
) -> None:
    done = add_job(env, "alice", "a1", status=JobStatus.SUCCESS, memory_ids=(7,))
    stuck = add_job(env, "alice", "a2", **dead())
    other = add_job(env, "bob", "b1", **dead())

    code, everything = memvault(env, "jobs", "list")
    code_dead, alice_dead = memvault(env, "jobs", "list", "--status", "dead", "--user", "alice")

    assert code == 0, everything
    positions = [everything.index(f" {job_id} ") for job_id in (other, stuck, done)]
    assert positions == sorted(positions)
    assert code_dead == 0, alice_dead
    assert f" {stuck} " in alice_dead
    assert "3/3" in alice_dead
    assert f" {done} " not in alice_dead
    assert "bob" not in alice_dead


def test_list_with_a_limit_says_there_are_more(env: dict[str, str | None]) -> None:
    for n in range(3):
        add_job(env, "alice", f"l{n}")

    code, output = memvault(env, "jobs", "list", "--limit", "2")

    assert code == 0, output
    assert "more: older than job" in output


def test_list_rejects_an_unknown_status(env: dict[str, str | None]) -> None:
    code, output = memvault(env, "jobs", "list", "--status", "stuck")

    assert code == 2
    assert "status must be one of" in output


def test_show_gives_the_last_error_and_the_memories_written(env: dict[str, str | None]) -> None:
    failed = add_job(env, "alice", "s1", **dead("ExtractionError: model timed out"))
    succeeded = add_job(env, "alice", "s2", status=JobStatus.SUCCESS, memory_ids=(41, 42))

    code, failed_out = memvault(env, "jobs", "show", str(failed))
    _, succeeded_out = memvault(env, "jobs", "show", str(succeeded))

    assert code == 0, failed_out
    assert "dead" in failed_out
    assert "model timed out" in failed_out
    assert "3 of 3" in failed_out
    assert "41, 42" in succeeded_out


def test_show_of_an_unknown_job_fails(env: dict[str, str | None]) -> None:
    code, output = memvault(env, "jobs", "show", "999999")

    assert code == 1
    assert "not found" in output


def test_retry_sends_a_dead_job_again_audited_as_the_cli(env: dict[str, str | None]) -> None:
    job_id = add_job(env, "alice", "r1", **dead())

    code, output = memvault(env, "jobs", "retry", str(job_id), "--reason", "model is back")

    assert code == 0, output
    assert "pending" in output
    job = get_job(env, job_id)
    assert job.status is JobStatus.PENDING
    assert job.retry_count == 0
    (entry,) = job_audit(env, "alice", job_id)
    assert entry.operator_id == "cli"
    assert entry.reason == "model is back"
    assert entry.before is not None
    assert entry.before["status"] == "dead"


def test_retry_refuses_a_job_that_succeeded(env: dict[str, str | None]) -> None:
    job_id = add_job(env, "alice", "r2", status=JobStatus.SUCCESS)

    code, output = memvault(env, "jobs", "retry", str(job_id))

    assert code == 1
    assert "cannot retry a job that is success" in output
    assert get_job(env, job_id).status is JobStatus.SUCCESS


def test_retry_by_filter_sends_every_dead_job_since_a_time_again_each_audited(
    env: dict[str, str | None],
) -> None:
    older = add_job(env, "alice", "b0", **dead())
    job_ids = [add_job(env, "alice", f"b{n}", **dead()) for n in range(1, 3)]
    theirs = add_job(env, "bob", "b3", **dead())
    on_data(env, lambda c: _age(c, older))

    code, output = memvault(
        env, "jobs", "retry", "--status", "dead", "--since", "2026-01-01T00:00:00",
        "--user", "alice", "--reason", "LLM is back",
    )  # fmt: skip

    assert code == 0, output
    assert "2 jobs sent again" in output
    for job_id in job_ids:
        assert get_job(env, job_id).status is JobStatus.PENDING
        (entry,) = job_audit(env, "alice", job_id)
        assert (entry.operator_id, entry.reason) == ("cli", "LLM is back")
    assert get_job(env, older).status is JobStatus.DEAD
    assert get_job(env, theirs).status is JobStatus.DEAD


def test_retry_needs_a_job_id_or_a_status_and_a_time(env: dict[str, str | None]) -> None:
    code, output = memvault(env, "jobs", "retry", "--status", "dead")
    assert code == 2
    assert "--status and --since" in output


async def _age(container: Container, job_id: int) -> None:
    """Make the job's last change older than the filter's ``--since``."""
    async with container.uow()() as uow:
        job = await uow.jobs.get(job_id)
        assert job is not None
        job.updated_at = datetime(2025, 6, 1, tzinfo=UTC)
        assert await uow.jobs.save(job, expected=JobStatus.DEAD, lease=None)
        await uow.commit()
