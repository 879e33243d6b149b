"""Engines per dialect: SQLite in WAL mode with a busy timeout, MySQL in READ COMMITTED.

A connection with the ``READ_ONLY`` execution option begins a transaction that cannot
write and takes no write lock: a plain deferred ``BEGIN`` on SQLite (WAL readers never
wait for the writer), ``SET TRANSACTION READ ONLY`` on PostgreSQL and
``START TRANSACTION READ ONLY`` on MySQL/MariaDB (the server refuses a write in it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "memvault_read_only"
"""Connection execution option: the transaction will not write."""


def create_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url``; call it inside the event loop that will use it."""
    dialect = make_url(url).get_backend_name()
    if dialect == "sqlite":
        return _sqlite_engine(url, echo=echo)
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "echo": echo,
    }
    if dialect in ("mysql", "mariadb"):
        # Queue-like tables: READ COMMITTED avoids the gap locks that make SKIP LOCKED
        # claims deadlock under REPEATABLE READ.
        options["isolation_level"] = "READ COMMITTED"
    engine = create_async_engine(url, **options)
    begin_read_only = READ_ONLY_BEGIN.get(engine.dialect.name)
    if begin_read_only is not None:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            if connection.get_execution_options().get(READ_ONLY, False):
                connection.exec_driver_sql(begin_read_only)

    return engine


READ_ONLY_BEGIN = {
    # asyncpg opens the transaction on the first statement, so this is its first.
    "postgresql": "SET TRANSACTION READ ONLY",
    # The DB-API connection is not in autocommit: an explicit START TRANSACTION is the
    # transaction that the driver's commit/rollback then ends.
    "mysql": "START TRANSACTION READ ONLY",
    "mariadb": "START TRANSACTION READ ONLY",
}


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite/aiosqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that later
        # writes can fail with "database is locked" without waiting for the busy timeout.
        # A read-only transaction takes no lock (WAL readers never block the writer).
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def dialect_of(engine: AsyncEngine) -> str:
    return engine.dialect.name
