"""`memvault purge [--dry-run]` on the embedded SQLite data dir, as an operator runs it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memvault.container import Settings, build_infrastructure, migrate
from memvault.domain.conversation import ChatMessage, Role
from memvault.entrypoints.cli import app

LONG_AGO = datetime.now(UTC) - timedelta(days=365)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    migrate(Settings(data_dir=tmp_path, database_url=None))
    return {
        "MEMVAULT_DATA_DIR": str(tmp_path),
        "MEMVAULT_DATABASE_URL": None,
        "MEMVAULT_BROKER": "memory",
        "MEMVAULT_EVENT_BUS": "memory",
        "MEMVAULT_LOG_LEVEL": "warning",
    }


def add_old_answer(env: dict[str, str | None]) -> None:
    """An assistant turn stored a year ago: no job will ever need it."""
    settings = Settings(data_dir=Path(env["MEMVAULT_DATA_DIR"] or "."), database_url=None)
    infra = build_infrastructure(settings)
    turn = ChatMessage(
        user_id="alice",
        conversation_id="c-1",
        message_id="m-1",
        role=Role.ASSISTANT,
        content="Noted!",
        occurred_at=LONG_AGO,
        created_at=LONG_AGO,
    )

    async def run() -> None:
        try:
            async with infra.loops().current().uow()() as uow:
                await uow.chat.add(turn)
                await uow.commit()
        finally:
            await infra.loops().close_current()

    asyncio.run(run())


def memvault(env: dict[str, str | None], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_a_dry_run_counts_and_the_purge_then_deletes(env: dict[str, str | None]) -> None:
    add_old_answer(env)

    code, counted = memvault(env, "purge", "--dry-run")
    assert code == 0, counted
    assert "would delete" in counted
    assert "chat_messages" in counted
    code, deleted = memvault(env, "purge")
    assert code == 0, deleted
    code, after = memvault(env, "purge", "--dry-run")

    def chat_rows(output: str) -> str:
        (line,) = [row for row in output.splitlines() if row.startswith("│ chat_messages")]
        return line.split()[-2]

    assert (chat_rows(counted), chat_rows(deleted), chat_rows(after)) == ("1", "1", "0")
