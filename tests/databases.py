"""Real databases for the tests: one fresh, migrated database per dialect and session.

Tests isolate themselves with unique user ids, never by truncating. A server that is
not reachable fails the tests that need it, loudly: nothing is skipped.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.migrations import upgrade

SERVER_URLS = {
    "postgresql": os.environ.get(
        "MEMVAULT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    ),
    "mysql": os.environ.get("MEMVAULT_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test"),
}
START_HINT = {
    "postgresql": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "mysql": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
}
DIALECTS = ("sqlite", "postgresql", "mysql")


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _server_database(dialect: str, name: str) -> str:
    admin = SERVER_URLS[dialect]
    try:
        asyncio.run(_admin(admin, f"CREATE DATABASE {name}"))
    except Exception as error:
        pytest.fail(
            f"{dialect} at {make_url(admin).render_as_string(hide_password=True)} is not "
            f"reachable ({type(error).__name__}: {error}); start it with: {START_HINT[dialect]}",
            pytrace=False,
        )
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def _drop(dialect: str, name: str) -> None:
    suffix = " WITH (FORCE)" if dialect == "postgresql" else ""
    asyncio.run(_admin(SERVER_URLS[dialect], f"DROP DATABASE IF EXISTS {name}{suffix}"))


@contextmanager
def fresh_database(dialect: str, tmp: Path, *, migrate: bool = True) -> Iterator[str]:
    """A new empty database of ``dialect`` (migrated to head unless told otherwise)."""
    name = f"memvault_t_{uuid.uuid4().hex[:12]}"
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / (name + '.db')}"
    else:
        url = _server_database(dialect, name)
    try:
        if migrate:
            upgrade(url)
        yield url
    finally:
        if dialect != "sqlite":
            _drop(dialect, name)


def private_database_per_dialect(label: str) -> Callable[..., Iterator[str]]:
    """A module-scoped fixture: one fresh, migrated database per dialect for the module's
    tests alone (for tables a test reads whole, such as the outbox a relay claims from).
    Bind it to a name in the module: ``private_url = private_database_per_dialect("x")``."""

    @pytest.fixture(scope="module", params=DIALECTS)
    def private_url(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[str]:
        with fresh_database(str(request.param), tmp_path_factory.mktemp(label)) as url:
            yield url

    return private_url
