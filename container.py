"""The composition root: configuration → engines and clients → adapters → use cases.

Nothing is built at import time. Two containers:

- :class:`Infrastructure`, one per process: settings, the Dramatiq broker and its actor,
  the in-process event bus, the extractor — things that are not bound to an event loop.
- :class:`Container`, one per event loop (the API's, the worker's), made by
  :class:`LoopContainers`: database engine, bus clients and use cases, because async
  engines and clients are bound to the loop that created them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

import structlog
from dependency_injector import containers, providers
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.embedder.caching import CachingEmbedder
from adapters.embedder.hashing import HashingEmbedder
from adapters.embedder.local import LocalEmbedder
from adapters.event_bus.in_process import InProcessBus
from adapters.event_bus.kafka import KafkaConsumer, KafkaPublisher, KafkaSettings
from adapters.event_bus.redis_streams import RedisStreamsConsumer, RedisStreamsPublisher
from adapters.extractor.rule_based import RuleBasedExtractor
from adapters.health import RedisProbe, TcpProbe, VectorStoreProbe
from adapters.job_queue.dramatiq_queue import (
    QUEUE_NAME,
    DramatiqJobQueue,
    LoopShutdown,
    build_broker,
    register_job_actor,
)
from adapters.metrics import process_metrics
from adapters.sqlalchemy.engine import create_engine, create_read_engine
from adapters.sqlalchemy.health import DatabaseProbe
from adapters.sqlalchemy.idempotency import SqlIdempotencyStore
from adapters.sqlalchemy.migrations import upgrade
from adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from adapters.system_clock import SystemClock
from adapters.vector_store.memory import MemoryVectorStore
from application.agent.snapshots import GetSnapshotUseCase, PutSnapshotUseCase
from application.config import JobPolicy, OutboxPolicy
from application.extraction.deterministic_judge import DeterministicJudge
from application.extraction.write_memories import DecisionPolicy, MemoryWriter
from application.indexing.vector_sync import ResyncVectorsUseCase, VectorIndexer
from application.ingest.ingest_messages import IngestMessagesUseCase
from application.jobs.process_job import ProcessJobUseCase
from application.jobs.queries import GetJobUseCase, ListJobsUseCase, RetryJobUseCase
from application.jobs.sweep import (
    EnqueueDueJobsUseCase,
    MeasureJobsUseCase,
    RescueExpiredJobsUseCase,
)
from application.maintenance.dedup import DedupUseCase
from application.maintenance.reindex import ReindexUseCase
from application.memory_items.change_item import (
    DeleteItemUseCase,
    PatchItemUseCase,
    RestoreItemUseCase,
)
from application.memory_items.create_item import CreateItemsUseCase
from application.memory_items.get_item import GetItemUseCase
from application.memory_items.item_history import ItemHistoryUseCase
from application.memory_items.list_items import ListItemsUseCase
from application.outbox.admin import (
    ListDeadEventsUseCase,
    ListOutboxUseCase,
    RetryOutboxUseCase,
)
from application.outbox.consume import ConsumeEventsUseCase, HandleEventUseCase
from application.outbox.relay import RelayOutboxUseCase
from application.ports.embedder import Embedder
from application.ports.extractor import Extractor
from application.ports.relation_judge import RelationJudge
from application.ports.vector_store import VectorStore
from application.readiness import CheckReadinessUseCase
from application.search.access_times import AccessTimes
from application.search.build_context import BuildContextUseCase
from application.search.search_memories import RetrievalWeights, SearchMemoriesUseCase
from application.settings.settings import ChangeSettingsUseCase, GetSettingsUseCase
from domain.retry import ExponentialBackoff, QuadraticBackoff

if TYPE_CHECKING:
    from adapters.llm.client import LLMClient

JWT_SECRET_FILE = "jwt-secret"
JOB_QUEUE_NAME = QUEUE_NAME


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
    broker_namespace: str = Field(default="memvault-dramatiq", min_length=1)
    """Prefix of the Redis broker's keys: deployments (or test runs) can share one Redis."""
    event_bus: Literal["memory", "redis", "kafka"] = "memory"
    vector_store: Literal["memory", "qdrant-edge", "qdrant", "milvus", "pgvector"] = "qdrant-edge"
    event_topic: str = "memvault.memory.events"
    consumer_group: str = "memvault-memory-consumer"
    embedder: Literal["local", "openai", "hashing"] = "local"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    auth_jwt_secret: SecretStr | None = None
    redis_url: str | None = None
    rabbitmq_url: str | None = None
    kafka_bootstrap: str | None = None
    kafka_partitions: int = Field(default=3, ge=1)
    kafka_session_timeout_s: float = Field(default=10.0, gt=0)
    redis_stream_min_idle_s: float = Field(default=60.0, gt=0)
    """An event a dead consumer left unacknowledged is reclaimed after this long."""
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    milvus_uri: str | None = None
    """A server URI (``http://host:19530``) or a milvus-lite file path."""
    milvus_token: SecretStr | None = None
    vector_collection: str = "memvault_chunks"
    vector_resync_grace_s: float = Field(default=30.0, ge=0)
    local_embedding_model: Literal["auto", "e5", "use"] = "auto"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_model: str | None = None
    embedding_dimension: int = Field(default=1536, ge=1)
    hashing_dimension: int = Field(default=256, ge=8)
    llm_timeout_s: float = Field(default=30.0, gt=0)
    decision_candidate_top_k: int = Field(default=5, ge=1, le=20)
    decision_candidate_min_score: float = Field(default=0.6, ge=0, le=1)
    decision_duplicate_threshold: float | None = Field(default=None, ge=0, le=1)
    """Cosine at or above which the offline judge calls two memories duplicates; unset
    means the value calibrated for the configured embedder."""
    retrieval_rrf_k: float = Field(default=5.0, gt=0)
    retrieval_dense_weight: float = Field(default=3.0, ge=0)
    retrieval_lexical_weight: float = Field(default=1.0, ge=0)
    retrieval_relevance_weight: float = Field(default=0.9, ge=0)
    retrieval_prior_weight: float = Field(default=0.1, ge=0)
    retrieval_dense_timeout_s: float = Field(default=1.5, gt=0)
    access_flush_interval_s: float = Field(default=5.0, gt=0)
    """How often the API writes the access times searches recorded in memory."""
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=40, ge=1)
    job_max_retry: int = Field(default=6, ge=1)
    job_backoff_base_s: float = Field(default=1.0, gt=0)
    job_lease_s: float = Field(default=60.0, gt=0)
    job_busy_retry_ms: int = Field(default=500, ge=0)
    job_requeue_grace_s: float = Field(default=10.0, ge=0)
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    outbox_max_retry: int = Field(default=20, ge=1)
    outbox_batch: int = Field(default=100, ge=1)
    relay_poll_interval_s: float = Field(default=0.5, gt=0)
    sweep_interval_s: float = Field(default=5.0, gt=0)
    worker_processes: int = Field(default=2, ge=1)
    worker_threads: int = Field(default=4, ge=1)
    embedded_worker_threads: int = Field(default=2, ge=1)
    log_level: str = "info"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'memvault.db').resolve()}"

    @property
    def embedded(self) -> bool:
        """Whether this process runs the pipeline in-process (no separate relay/worker)."""
        return self.event_bus == "memory" or self.broker == "memory"

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


def job_policy(settings: Settings) -> JobPolicy:
    return JobPolicy(
        max_retry=settings.job_max_retry,
        backoff=ExponentialBackoff(base_seconds=settings.job_backoff_base_s),
        lease=timedelta(seconds=settings.job_lease_s),
        busy_retry_delay=timedelta(milliseconds=settings.job_busy_retry_ms),
        min_confidence=settings.min_confidence,
        requeue_grace=timedelta(seconds=settings.job_requeue_grace_s),
    )


def outbox_policy(settings: Settings) -> OutboxPolicy:
    return OutboxPolicy(
        topic=settings.event_topic,
        max_retry=settings.outbox_max_retry,
        backoff=QuadraticBackoff(),
        batch=settings.outbox_batch,
    )


def retrieval_weights(settings: Settings) -> RetrievalWeights:
    return RetrievalWeights(
        rrf_k=settings.retrieval_rrf_k,
        dense_weight=settings.retrieval_dense_weight,
        lexical_weight=settings.retrieval_lexical_weight,
        relevance_weight=settings.retrieval_relevance_weight,
        prior_weight=settings.retrieval_prior_weight,
        dense_timeout_s=settings.retrieval_dense_timeout_s,
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _qdrant_edge(settings: Settings) -> VectorStore:
    from adapters.vector_store.qdrant_edge import QdrantEdgeVectorStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return QdrantEdgeVectorStore(settings.data_dir / "vectors")


def _qdrant(settings: Settings) -> VectorStore:
    from adapters.vector_store.qdrant import QdrantVectorStore

    return QdrantVectorStore(
        url=_require(settings.qdrant_url, "MEMVAULT_QDRANT_URL"),
        api_key=_secret(settings.qdrant_api_key),
        collection=settings.vector_collection,
    )


def _milvus(settings: Settings) -> VectorStore:
    from adapters.vector_store.milvus import MilvusVectorStore

    return MilvusVectorStore(
        _require(settings.milvus_uri, "MEMVAULT_MILVUS_URI"),
        token=_secret(settings.milvus_token) or "",
        collection=settings.vector_collection,
    )


def _openai_embedder(settings: Settings, closables: list[object]) -> Embedder:
    from adapters.embedder.openai import OpenAIEmbedder

    return _tracked(
        closables,
        OpenAIEmbedder(
            base_url=_require(settings.embedding_base_url, "MEMVAULT_EMBEDDING_BASE_URL"),
            model=_require(settings.embedding_model, "MEMVAULT_EMBEDDING_MODEL"),
            dimension=settings.embedding_dimension,
            api_key=_secret(settings.embedding_api_key),
        ),
    )


DUPLICATE_THRESHOLDS = {"local": 0.93, "openai": 0.9, "hashing": 0.9}
"""Near-duplicate cosine per embedder. On a handful of English and Chinese pairs e5-small
scored unrelated sentences 0.71-0.83 and paraphrases 0.85-0.93, so its bar sits at the
top of the paraphrase range: the offline judge merges only near-identical wording (same
subject and stance is caught by the stance rule instead)."""


def _llm_client(settings: Settings, closables: list[object]) -> LLMClient | None:
    """The OpenAI-compatible client when an LLM is configured (one for extraction and
    the judge), else ``None``."""
    if not settings.llm_base_url:
        return None
    from adapters.llm.client import LLMClient

    return _tracked(
        closables,
        LLMClient(
            base_url=_require(settings.llm_base_url, "MEMVAULT_LLM_BASE_URL"),
            model=_require(settings.llm_model, "MEMVAULT_LLM_MODEL"),
            api_key=_secret(settings.llm_api_key),
            timeout=settings.llm_timeout_s,
        ),
    )


def _extractor(client: LLMClient | None) -> Extractor:
    """The LLM extractor when an LLM is configured, else the offline rule-based one."""
    if client is None:
        return RuleBasedExtractor()
    from adapters.llm.extractor import LLMExtractor

    return LLMExtractor(client)


def _judge(settings: Settings, client: LLMClient | None) -> RelationJudge:
    if client is None:
        threshold = settings.decision_duplicate_threshold
        if threshold is None:
            threshold = DUPLICATE_THRESHOLDS[settings.embedder]
        return DeterministicJudge(duplicate_threshold=threshold)
    from adapters.llm.judge import LLMRelationJudge

    return LLMRelationJudge(client)


def decision_policy(settings: Settings) -> DecisionPolicy:
    return DecisionPolicy(
        candidate_top_k=settings.decision_candidate_top_k,
        candidate_min_score=settings.decision_candidate_min_score,
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _engine(settings: Settings) -> AsyncEngine:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return create_engine(settings.effective_database_url, pool_size=settings.db_pool_size)


def _require(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"this configuration needs {name}")
    return value


def _redis(settings: Settings) -> Redis:
    return Redis.from_url(_require(settings.redis_url, "MEMVAULT_REDIS_URL"))


def _kafka(settings: Settings) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=_require(settings.kafka_bootstrap, "MEMVAULT_KAFKA_BOOTSTRAP"),
        topic=settings.event_topic,
        partitions=settings.kafka_partitions,
        session_timeout=settings.kafka_session_timeout_s,
    )


T = TypeVar("T")


def _tracked(closables: list[object], resource: T) -> T:
    closables.append(resource)
    return resource


class LoopContainers:
    """One :class:`Container` per running event loop, made on first use in that loop."""

    def __init__(self, infra: Infrastructure) -> None:
        self._infra = infra
        self._containers: dict[asyncio.AbstractEventLoop, Container] = {}

    def current(self) -> Container:
        loop = asyncio.get_running_loop()
        if loop not in self._containers:
            self._containers[loop] = Container(infra=self._infra)
        return self._containers[loop]

    async def process_job(self, job_id: int) -> object:
        return await self.current().process_job()(job_id)

    async def close_current(self) -> None:
        container = self._containers.pop(asyncio.get_running_loop(), None)
        if container is not None:
            await shutdown(container)


class Infrastructure(containers.DeclarativeContainer):
    """One per process."""

    __self__ = providers.Self()
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    worker = providers.Singleton(worker_name)
    job_policy = providers.Singleton(job_policy, settings)
    outbox_policy = providers.Singleton(outbox_policy, settings)
    loops = providers.Singleton(LoopContainers, __self__)

    broker = providers.Singleton(
        build_broker,
        settings.provided.broker,
        redis_url=settings.provided.redis_url,
        rabbitmq_url=settings.provided.rabbitmq_url,
        namespace=settings.provided.broker_namespace,
    )
    job_actor = providers.Singleton(register_job_actor, broker, loops.provided.process_job)
    job_queue = providers.Singleton(DramatiqJobQueue, job_actor)
    loop_shutdown = providers.Singleton(LoopShutdown, loops.provided.close_current)
    """Dramatiq middleware that disposes the actors' loop resources when a worker stops."""
    in_process_bus = providers.Singleton(InProcessBus, redelivery_after=30.0)
    loop_closables: providers.Singleton[list[object]] = providers.Singleton(list)
    """Clients that keep one connection pool per event loop: each loop's container
    closes its own pools when it shuts down (``aclose``)."""
    llm_client = providers.Singleton(_llm_client, settings, loop_closables)
    extractor = providers.Singleton(_extractor, llm_client)
    judge = providers.Singleton(_judge, settings, llm_client)
    decision_policy = providers.Singleton(decision_policy, settings)

    embedder = providers.Singleton(
        CachingEmbedder,
        providers.Selector(
            settings.provided.embedder,
            local=providers.Singleton(LocalEmbedder, settings.provided.local_embedding_model),
            hashing=providers.Singleton(HashingEmbedder, settings.provided.hashing_dimension),
            openai=providers.Singleton(_openai_embedder, settings, loop_closables),
        ),
    )
    closables: providers.Singleton[list[object]] = providers.Singleton(list)
    """Process-wide resources to close at exit (the embedded vector store's lock)."""
    vector_store_choice = providers.Selector(
        settings.provided.vector_store,
        memory=providers.Singleton(MemoryVectorStore),
        **{"qdrant-edge": providers.Singleton(_qdrant_edge, settings)},
        qdrant=providers.Singleton(_qdrant, settings),
        milvus=providers.Singleton(_milvus, settings),
    )
    vector_store = providers.Singleton(_tracked, closables, vector_store_choice)
    retrieval_weights = providers.Singleton(retrieval_weights, settings)
    metrics = providers.Singleton(process_metrics)


class Container(containers.DeclarativeContainer):
    """One per event loop."""

    infra = providers.DependenciesContainer()
    settings = infra.settings
    clock = infra.clock

    engine = providers.Singleton(_engine, settings)
    read_engine = providers.Singleton(create_read_engine, settings.provided.effective_database_url)
    """SQLite only (else ``None``): read-only units of work run on it without thread hops."""
    uow = providers.Singleton(SqlUnitOfWorkFactory, engine, read_engine)
    indexer = providers.Singleton(VectorIndexer, uow, clock, infra.embedder, infra.vector_store)
    idempotency = providers.Singleton(SqlIdempotencyStore, engine)
    closables: providers.Singleton[list[object]] = providers.Singleton(list)
    """Clients this loop opened, closed by :func:`shutdown` (newest first)."""
    redis = providers.Singleton(_tracked, closables, providers.Factory(_redis, settings))

    publisher_choice = providers.Selector(
        settings.provided.event_bus,
        memory=providers.Singleton(
            infra.in_process_bus.provided.publisher.call(settings.provided.event_topic)
        ),
        redis=providers.Singleton(
            RedisStreamsPublisher, redis, stream=settings.provided.event_topic
        ),
        kafka=providers.Singleton(KafkaPublisher, providers.Singleton(_kafka, settings)),
    )
    publisher = providers.Singleton(_tracked, closables, publisher_choice)
    consumer_choice = providers.Selector(
        settings.provided.event_bus,
        memory=providers.Singleton(
            infra.in_process_bus.provided.consumer.call(
                settings.provided.event_topic, group=settings.provided.consumer_group
            )
        ),
        redis=providers.Singleton(
            RedisStreamsConsumer,
            redis,
            stream=settings.provided.event_topic,
            group=settings.provided.consumer_group,
            min_idle=settings.provided.redis_stream_min_idle_s,
        ),
        kafka=providers.Singleton(
            KafkaConsumer,
            providers.Singleton(_kafka, settings),
            group=settings.provided.consumer_group,
        ),
    )
    consumer = providers.Singleton(_tracked, closables, consumer_choice)

    create_items = providers.Factory(CreateItemsUseCase, uow, clock, indexer, metrics=infra.metrics)
    get_item = providers.Factory(GetItemUseCase, uow)
    list_items = providers.Factory(ListItemsUseCase, uow)
    patch_item = providers.Factory(PatchItemUseCase, uow, clock, indexer, metrics=infra.metrics)
    delete_item = providers.Factory(DeleteItemUseCase, uow, clock, indexer, metrics=infra.metrics)
    restore_item = providers.Factory(RestoreItemUseCase, uow, clock, indexer, metrics=infra.metrics)
    item_history = providers.Factory(ItemHistoryUseCase, uow)
    get_settings = providers.Factory(GetSettingsUseCase, uow)
    change_settings = providers.Factory(ChangeSettingsUseCase, uow, clock)

    ingest_messages = providers.Factory(IngestMessagesUseCase, uow, clock, infra.outbox_policy)
    relay_outbox = providers.Factory(
        RelayOutboxUseCase, uow, clock, publisher, infra.outbox_policy, metrics=infra.metrics
    )
    handle_event = providers.Factory(
        HandleEventUseCase,
        uow,
        clock,
        infra.job_policy,
        settings.provided.event_topic,
        metrics=infra.metrics,
    )
    consume_events = providers.Factory(
        ConsumeEventsUseCase, consumer, handle_event, infra.job_queue
    )
    writer = providers.Singleton(
        MemoryWriter,
        infra.embedder,
        infra.vector_store,
        infra.judge,
        infra.decision_policy,
        metrics=infra.metrics,
    )
    process_job = providers.Factory(
        ProcessJobUseCase,
        uow,
        clock,
        infra.extractor,
        writer,
        indexer,
        infra.job_queue,
        infra.job_policy,
        infra.worker,
        metrics=infra.metrics,
    )
    rescue_jobs = providers.Factory(
        RescueExpiredJobsUseCase, uow, clock, infra.job_queue, infra.job_policy
    )
    enqueue_due_jobs = providers.Factory(
        EnqueueDueJobsUseCase, uow, clock, infra.job_queue, infra.job_policy
    )

    list_jobs = providers.Factory(ListJobsUseCase, uow)
    get_job = providers.Factory(GetJobUseCase, uow)
    retry_job = providers.Factory(RetryJobUseCase, uow, clock, infra.job_queue)
    list_outbox = providers.Factory(ListOutboxUseCase, uow)
    retry_outbox = providers.Factory(RetryOutboxUseCase, uow, clock)
    list_dead_events = providers.Factory(ListDeadEventsUseCase, uow)
    put_snapshot = providers.Factory(PutSnapshotUseCase, uow, clock, infra.outbox_policy)
    get_snapshot = providers.Factory(GetSnapshotUseCase, uow)

    access_times = providers.Singleton(AccessTimes, uow)
    """Access times of searched memories, flushed by the API's background task."""
    search = providers.Factory(
        SearchMemoriesUseCase,
        uow,
        clock,
        infra.embedder,
        infra.vector_store,
        infra.retrieval_weights,
        access=access_times,
        metrics=infra.metrics,
    )
    build_context = providers.Factory(BuildContextUseCase, search, metrics=infra.metrics)
    measure_jobs = providers.Factory(MeasureJobsUseCase, uow, infra.metrics)
    resync_vectors = providers.Factory(
        ResyncVectorsUseCase,
        uow,
        clock,
        indexer,
        grace=providers.Factory(timedelta, seconds=settings.provided.vector_resync_grace_s),
    )

    dedup = providers.Factory(DedupUseCase, uow, clock, indexer, metrics=infra.metrics)
    reindex = providers.Factory(
        ReindexUseCase, uow, clock, indexer, infra.vector_store, infra.embedder
    )

    redis_probe = providers.Singleton(RedisProbe, redis)
    probes = providers.Dict(
        database=providers.Singleton(DatabaseProbe, engine),
        vector_store=providers.Singleton(VectorStoreProbe, infra.vector_store, infra.embedder),
        event_bus=providers.Selector(
            settings.provided.event_bus,
            memory=providers.Object(None),
            redis=redis_probe,
            kafka=providers.Singleton(
                TcpProbe, settings.provided.kafka_bootstrap, default_port=9092
            ),
        ),
        broker=providers.Selector(
            settings.provided.broker,
            memory=providers.Object(None),
            redis=redis_probe,
            rabbitmq=providers.Singleton(
                TcpProbe, settings.provided.rabbitmq_url, default_port=5672
            ),
        ),
    )
    readiness = providers.Factory(CheckReadinessUseCase, probes)


def build_infrastructure(settings: Settings) -> Infrastructure:
    return Infrastructure(settings=settings)


async def shutdown(container: Container) -> None:
    """Close what a loop's container opened (call from that loop)."""
    shared = [resource.aclose for resource in container.infra.loop_closables()]
    owned = [
        getattr(resource, "aclose", None) or resource.close  # type: ignore[attr-defined]
        for resource in reversed(container.closables())
    ]
    for close in shared + owned:
        try:
            await close()
        except Exception as error:  # closing must go on for the others
            structlog.get_logger(__name__).warning("close_failed", error=str(error))
    await container.engine().dispose()
    read_engine = container.read_engine()
    if read_engine is not None:
        read_engine.dispose()


async def close_infrastructure(infra: Infrastructure) -> None:
    """Close process-wide resources (after every loop container is closed)."""
    for resource in reversed(infra.closables()):
        await resource.close()  # type: ignore[attr-defined]


def migrate(settings: Settings) -> None:
    """Bring the configured database to the newest schema (synchronous)."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
