"""A read-only unit of work takes no write lock, and the server refuses a write in it
where the dialect has read-only transactions (PostgreSQL, MySQL/MariaDB); the next
transaction on the same pooled connection writes again."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, make_url, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.engine import create_engine, create_read_engine
from memvault.adapters.sqlalchemy.tables import memory_user_settings as settings
from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork


def a_row(user_id: str) -> dict[str, object]:
    return {"user_id": user_id, "updated_at": datetime.now(UTC)}


@pytest.mark.parametrize("blocking", [False, True], ids=["async", "blocking"])
async def test_a_writer_commits_while_a_read_only_unit_of_work_is_open(
    engine: AsyncEngine, dialect: str, blocking: bool, user_id: str
):
    url = engine.url.render_as_string(hide_password=False)
    read_engine = create_read_engine(url) if blocking else None
    assert (read_engine is not None) == (blocking and dialect == "sqlite")
    async with SqlUnitOfWork(engine, read_only=True, read_engine=read_engine) as reader:
        await reader.settings.get(user_id)
        async with SqlUnitOfWork(engine) as writer:
            await writer.connection.execute(insert(settings).values(**a_row(user_id)))
            await writer.commit()
    async with engine.connect() as conn:
        stored = await conn.execute(select(settings.c.user_id).where(settings.c.user_id == user_id))
        assert stored.scalar_one() == user_id
    if read_engine is not None:
        read_engine.dispose()


def test_sqlite_refuses_a_write_on_the_read_engine(database_urls: dict[str, str], user_id: str):
    read_engine = create_read_engine(database_urls["sqlite"])
    assert read_engine is not None
    try:
        with read_engine.connect() as conn, pytest.raises(DBAPIError, match="readonly"):
            conn.execute(insert(settings).values(**a_row(user_id)))
    finally:
        read_engine.dispose()


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
async def test_the_server_refuses_a_write_in_a_read_only_unit_of_work(
    database_urls: dict[str, str], server: str, user_id: str
):
    engine = create_engine(database_urls[server], pool_size=1)
    try:
        with pytest.raises(DBAPIError, match=r"(?i)read.only"):
            async with SqlUnitOfWork(engine, read_only=True) as reader:
                await reader.connection.execute(insert(settings).values(**a_row(user_id)))
        async with SqlUnitOfWork(engine) as writer:
            await writer.connection.execute(insert(settings).values(**a_row(user_id)))
            await writer.commit()
    finally:
        await engine.dispose()


async def test_many_open_read_units_of_work_never_wait_for_the_pool(
    database_urls: dict[str, str], user_id: str
):
    """Every holder of a read connection is a coroutine of the loop that would wait: a
    pool that made the 16th wait would block that loop (and so every holder) for its
    30 s timeout. Overflow connections are opened instead."""
    engine = create_engine(database_urls["sqlite"])
    read_engine = create_read_engine(database_urls["sqlite"])
    assert read_engine is not None
    readers = [SqlUnitOfWork(engine, read_only=True, read_engine=read_engine) for _ in range(40)]
    try:
        for reader in readers:
            await reader.__aenter__()
            await reader.settings.get(user_id)
    finally:
        for reader in readers:
            await reader.__aexit__(None, None, None)
        read_engine.dispose()
        await engine.dispose()


def test_a_read_connection_refuses_another_thread(database_urls: dict[str, str]):
    """The read engine belongs to one event loop's thread; a pysqlite connection used
    from two threads can corrupt memory, so another thread's use is an error instead."""
    read_engine = create_read_engine(database_urls["sqlite"])
    assert read_engine is not None
    errors: list[BaseException] = []
    try:
        with read_engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None

            def use() -> None:
                try:
                    driver.execute("SELECT 1")
                except BaseException as error:
                    errors.append(error)

            thread = threading.Thread(target=use)
            thread.start()
            thread.join()
    finally:
        read_engine.dispose()
    assert len(errors) == 1
    assert "thread" in str(errors[0])


async def test_a_unit_of_work_whose_begin_fails_returns_its_connection(
    database_urls: dict[str, str],
):
    """SQLite's ``BEGIN IMMEDIATE`` meets another process's write lock: the unit of work
    fails to open, and its connection goes back to the pool instead of leaking."""
    url = database_urls["sqlite"]
    engine = create_engine(url, pool_size=1, busy_timeout_ms=50)
    path = make_url(url).database
    assert path
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DBAPIError, match="locked"):
            async with SqlUnitOfWork(engine):
                pass
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await engine.dispose()
