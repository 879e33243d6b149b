"""Engines per dialect: SQLite in WAL mode with a busy timeout, MySQL in READ COMMITTED.

A connection with the ``READ_ONLY`` execution option begins a transaction that cannot
write and takes no write lock: a plain deferred ``BEGIN`` on SQLite (WAL readers never
wait for the writer), ``SET TRANSACTION READ ONLY`` on PostgreSQL and
``START TRANSACTION READ ONLY`` on MySQL/MariaDB (the server refuses a write in it).
On a SQLite file, read-only units of work use :func:`create_read_engine` instead, whose
connections are ``query_only``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_POOL_SIZE = 5
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


def create_read_engine(url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine | None:
    """For a SQLite file: a synchronous engine for read-only units of work, else ``None``.

    aiosqlite runs every cursor call in its own thread, so a read of three statements
    costs about seventeen thread hand-offs, each a GIL hand-over that waits up to the
    switch interval when the event loop is busy: under load that, not SQLite, was most
    of a search's time. A read-only transaction in WAL mode never waits for a lock, so
    its statements (each well under a millisecond on one user's rows) run directly on
    the calling thread instead.

    The engine belongs to one event loop (``Container`` is built per loop), so to one
    thread, and its pool is shaped for that:

    - ``check_same_thread`` stays on (SQLAlchemy turns it off for file databases): a
      pysqlite connection used from two threads at once can crash the process, and any
      use from another thread is now an error instead.
    - The pool never waits (unbounded overflow): every holder of a connection is a
      coroutine of this loop, so a checkout that waited would block the loop, and with it
      every holder, until the pool's timeout. Five connections are kept; the rest close.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    engine = create_sync_engine(
        parsed.set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": True},
        poolclass=QueuePool,
        pool_size=READ_POOL_SIZE,
        max_overflow=-1,
    )
    _sqlite_setup(engine, always_read_only=True, busy_timeout_ms=busy_timeout_ms)
    return engine


def _sqlite_engine(url: str, *, echo: bool, busy_timeout_ms: int) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000})
    _sqlite_setup(engine.sync_engine, always_read_only=False, busy_timeout_ms=busy_timeout_ms)
    return engine


def _sqlite_setup(engine: Engine, *, always_read_only: bool, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite/aiosqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if always_read_only:  # SQLite itself refuses any write on these connections
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that later
        # writes can fail with "database is locked" without waiting for the busy timeout.
        # A read-only transaction takes no lock (WAL readers never block the writer).
        read_only = always_read_only or connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
