"""Readiness probes for the dependencies other than the database."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from memvault.application.ports.embedder import Embedder
from memvault.application.ports.health import Probe
from memvault.application.ports.vector_store import VectorStore

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RedisProbe(Probe):
    def __init__(self, client: Redis) -> None:
        self._client = client

    async def check(self) -> None:
        await self._client.ping()


class TcpProbe(Probe):
    """Something listens at ``host:port`` (Kafka bootstrap servers, RabbitMQ)."""

    def __init__(self, address: str, *, default_port: int) -> None:
        first = address.split(",")[0].strip()
        parsed = urlparse(first if "://" in first else f"tcp://{first}")
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or default_port

    async def check(self) -> None:
        _, writer = await asyncio.open_connection(self._host, self._port)
        writer.close()
        await writer.wait_closed()


class VectorStoreProbe(Probe):
    def __init__(self, store: VectorStore, embedder: Embedder) -> None:
        self._store = store
        self._embedder = embedder

    async def check(self) -> None:
        await self._store.ensure_ready(self._embedder.dimension)
        await self._store.document_ids(user_id="memvault-readiness-probe")
