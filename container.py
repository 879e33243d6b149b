"""The composition root: configuration → engine → adapters → use cases.

Nothing is built at import time. Each event loop that talks to the database (the API's,
a worker thread's) gets its own ``Container`` instance, because async engines are bound
to the loop that created them.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from dependency_injector import containers, providers
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.indexing import DeferredIndexer
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.health import DatabaseProbe
from adapters.sqlalchemy.idempotency import SqlIdempotencyStore
from adapters.sqlalchemy.migrations import upgrade
from adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from adapters.system_clock import SystemClock
from application.memory_items.change_item import (
    DeleteItemUseCase,
    PatchItemUseCase,
    RestoreItemUseCase,
)
from application.memory_items.create_item import CreateItemsUseCase
from application.memory_items.get_item import GetItemUseCase
from application.memory_items.item_history import ItemHistoryUseCase
from application.memory_items.list_items import ListItemsUseCase
from application.readiness import CheckReadinessUseCase
from application.settings.settings import ChangeSettingsUseCase, GetSettingsUseCase

JWT_SECRET_FILE = "jwt-secret"


class Settings(BaseSettings):
    """Every option, read from ``MEMVAULT_*`` environment variables; all have safe defaults."""

    model_config = SettingsConfigDict(env_prefix="MEMVAULT_", extra="ignore")

    data_dir: Path = Path(".memvault")
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = None
    """SQLAlchemy URL; unset means a SQLite file in the data dir."""
    db_pool_size: int = 5
    broker: Literal["memory", "redis", "rabbitmq"] = "memory"
    event_bus: Literal["memory", "redis", "kafka"] = "memory"
    vector_store: Literal["memory", "qdrant-edge", "qdrant", "milvus", "pgvector"] = "qdrant-edge"
    event_topic: str = "memvault.memory.events"
    embedder: Literal["local", "openai", "hashing"] = "local"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    auth_jwt_secret: SecretStr | None = None
    auth_token_ttl_hours: float = 24.0
    redis_url: str | None = None
    rabbitmq_url: str | None = None
    kafka_bootstrap: str | None = None
    qdrant_url: str | None = None
    milvus_uri: str | None = None
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=40, ge=1)
    log_level: str = "info"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'memvault.db').resolve()}"

    def jwt_secret(self, *, create: bool = False) -> str:
        """The configured secret, else the one kept in the data dir (made when ``create``)."""
        if self.auth_jwt_secret is not None:
            return self.auth_jwt_secret.get_secret_value()
        path = self.data_dir / JWT_SECRET_FILE
        if path.exists():
            return path.read_text().strip()
        if not create:
            raise LookupError(
                f"no JWT secret: set MEMVAULT_AUTH_JWT_SECRET or run `memvault serve` once "
                f"to create {path}"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.write_text(secret)
        path.chmod(0o600)
        return secret


def _engine(settings: Settings) -> AsyncEngine:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return create_engine(settings.effective_database_url, pool_size=settings.db_pool_size)


class Container(containers.DeclarativeContainer):
    """One per event loop. ``settings`` must be provided by the entrypoint."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    engine = providers.Singleton(_engine, settings)
    uow = providers.Singleton(SqlUnitOfWorkFactory, engine)
    indexer = providers.Singleton(DeferredIndexer)
    idempotency = providers.Singleton(SqlIdempotencyStore, engine)

    create_items = providers.Factory(CreateItemsUseCase, uow, clock, indexer)
    get_item = providers.Factory(GetItemUseCase, uow)
    list_items = providers.Factory(ListItemsUseCase, uow)
    patch_item = providers.Factory(PatchItemUseCase, uow, clock, indexer)
    delete_item = providers.Factory(DeleteItemUseCase, uow, clock, indexer)
    restore_item = providers.Factory(RestoreItemUseCase, uow, clock, indexer)
    item_history = providers.Factory(ItemHistoryUseCase, uow)
    get_settings = providers.Factory(GetSettingsUseCase, uow)
    change_settings = providers.Factory(ChangeSettingsUseCase, uow, clock)

    probes = providers.Dict(database=providers.Singleton(DatabaseProbe, engine))
    readiness = providers.Factory(CheckReadinessUseCase, probes)


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    return container


async def shutdown(container: Container) -> None:
    """Close what the container opened (call from the loop that used it)."""
    await container.engine().dispose()


def migrate(settings: Settings) -> None:
    """Bring the configured database to the newest schema (synchronous)."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
