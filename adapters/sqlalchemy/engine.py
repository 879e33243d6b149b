"""Engines per dialect: SQLite in WAL mode with a busy timeout, MySQL in READ COMMITTED."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "memvault_read_only"
"""Connection execution option: the transaction will not write."""


def create_engine(
    url: str,
    *,
    pool_size: int = 5,
    echo: bool = False,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
) -> AsyncEngine:
    """An async engine for ``url``; call it inside the event loop that will use it.

    ``busy_timeout_ms``: how long a SQLite writer waits for another's lock before its
    statement fails with "database is locked" (answered 503 at the HTTP edge).
    """
    dialect = make_url(url).get_backend_name()
    if dialect == "sqlite":
        return _sqlite_engine(url, echo=echo, busy_timeout_ms=busy_timeout_ms)
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
    return create_async_engine(url, **options)


def _sqlite_engine(url: str, *, echo: bool, busy_timeout_ms: int) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite/aiosqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
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
