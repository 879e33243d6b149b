"""The SQL unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Engine, Executable, Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from memvault.adapters.sqlalchemy.audit import SqlAuditRepository
from memvault.adapters.sqlalchemy.chat import SqlChatRepository
from memvault.adapters.sqlalchemy.engine import READ_ONLY
from memvault.adapters.sqlalchemy.event_log import SqlEventLogRepository
from memvault.adapters.sqlalchemy.items import SqlMemoryItemRepository
from memvault.adapters.sqlalchemy.jobs import SqlJobRepository
from memvault.adapters.sqlalchemy.outbox import SqlOutboxRepository
from memvault.adapters.sqlalchemy.settings import SqlSettingsRepository
from memvault.adapters.sqlalchemy.snapshots import SqlSnapshotRepository
from memvault.adapters.sqlalchemy.transfer import SqlMemoryTransferRepository
from memvault.application.ports.repositories import UnitOfWork


class SqlUnitOfWork(UnitOfWork):
    """``async with uow:`` opens a transaction; leaving without ``commit`` rolls back.

    A read-only unit of work given a ``read_engine`` (SQLite, see
    ``engine.create_read_engine``) runs its statements on that synchronous engine."""

    def __init__(
        self, engine: AsyncEngine, *, read_only: bool = False, read_engine: Engine | None = None
    ) -> None:
        self._engine = engine
        self._read_only = read_only
        self._read_engine = read_engine if read_only else None
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None
        self._blocking: Connection | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        # A begin that fails (SQLite's ``BEGIN IMMEDIATE`` meeting another writer's lock,
        # a server gone) gets no ``__aexit__``: the connection goes back to the pool here.
        if self._read_engine is not None:
            self._blocking = self._read_engine.connect()
            try:
                self._blocking.begin()
            except BaseException:
                self._blocking.close()
                self._blocking = None
                raise
            # Repositories only call ``execute`` (and read ``dialect``) in a read-only
            # unit of work, which BlockingConnection provides.
            self._conn = cast(AsyncConnection, BlockingConnection(self._blocking))
        else:
            self._conn = await self._engine.connect()
            try:
                if self._read_only:
                    await self._conn.execution_options(**{READ_ONLY: True})
                self._tx = await self._conn.begin()
            except BaseException:
                await self._conn.close()
                self._conn = None
                raise
        self.items = SqlMemoryItemRepository(self._conn)
        self.audit = SqlAuditRepository(self._conn)
        self.settings = SqlSettingsRepository(self._conn)
        self.chat = SqlChatRepository(self._conn)
        self.outbox = SqlOutboxRepository(self._conn)
        self.events = SqlEventLogRepository(self._conn)
        self.jobs = SqlJobRepository(self._conn)
        self.snapshots = SqlSnapshotRepository(self._conn)
        self.transfer = SqlMemoryTransferRepository(self._conn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._blocking is not None:
            self._blocking.close()  # rolls the read transaction back
            self._blocking = self._conn = None
            return
        try:
            if self._tx is not None and self._tx.is_active:
                await self._tx.rollback()
        finally:
            if self._conn is not None:
                await self._conn.close()
            self._conn = self._tx = None

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open")
        return self._conn

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self.connection.begin_nested():
            yield

    async def commit(self) -> None:
        if self._blocking is not None:
            return  # nothing was written: there is nothing to commit
        if self._tx is None:
            raise RuntimeError("the unit of work is not open")
        await self._tx.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine, read_engine: Engine | None = None) -> None:
        self._engine = engine
        self._read_engine = read_engine

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, read_only=read_only, read_engine=self._read_engine)


class BlockingConnection:
    """``AsyncConnection.execute`` over a synchronous connection, run on the calling
    thread: for SQLite reads, which never wait for a lock (see ``create_read_engine``)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]:
        return self._connection.execute(statement, parameters)
