"""The wiring of the composition root: settings → engines and clients → adapters → use cases.

Nothing is built at import time. Two containers:

- :class:`Infrastructure`, one per process: settings, the Dramatiq broker and its actor,
  the in-process event bus, the extractor — things that are not bound to an event loop.
- :class:`Container`, one per event loop (the API's, the worker's), made by
  :class:`LoopContainers`: database engine, bus clients and use cases, because async
  engines and clients are bound to the loop that created them.
"""

from __future__ import annotations

import importlib
import os
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from dependency_injector import containers, providers
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.embedder.caching import CachingEmbedder
from memvault.adapters.embedder.hashing import HashingEmbedder
from memvault.adapters.embedder.local import LocalEmbedder
from memvault.adapters.embedder.priority import PriorityEmbedder
from memvault.adapters.event_bus.in_process import InProcessBus
from memvault.adapters.event_bus.wakeup import InProcessNotifier
from memvault.adapters.extractor.gate import Gate, load_gate
from memvault.adapters.extractor.rule_based import RuleBasedExtractor
from memvault.adapters.health import RedisProbe, TcpProbe, VectorStoreProbe
from memvault.adapters.identity_provider import ProviderTokens
from memvault.adapters.job_queue.dramatiq_queue import (
    QUEUE_NAME,
    DramatiqJobQueue,
    LoopShutdown,
    build_broker,
    register_job_actor,
)
from memvault.adapters.loop_local import LoopLocal
from memvault.adapters.metrics import TimedEmbedder, TimedSearch, process_metrics
from memvault.adapters.outage import is_transient
from memvault.adapters.outage import unavailable_dependency as unavailable_dependency
from memvault.adapters.settings import (
    Command,
    Settings,
    WeakSecret,
    missing_extra,
    private_directory,
    provider_refusal,
    refusal,
    write_private_file,
)
from memvault.adapters.sqlalchemy.api_keys import SqlApiKeyRepository
from memvault.adapters.sqlalchemy.engine import create_engine, create_read_engine
from memvault.adapters.sqlalchemy.health import DatabaseProbe
from memvault.adapters.sqlalchemy.idempotency import SqlIdempotencyStore
from memvault.adapters.sqlalchemy.migrations import upgrade
from memvault.adapters.sqlalchemy.outbox_notify import PostgresOutboxListener
from memvault.adapters.sqlalchemy.retention import SqlRetentionStore
from memvault.adapters.sqlalchemy.unit_of_work import SqlUnitOfWorkFactory
from memvault.adapters.system_clock import SystemClock
from memvault.adapters.vector_store.memory import MemoryVectorStore
from memvault.application.agent.snapshots import GetSnapshotUseCase, PutSnapshotUseCase
from memvault.application.api_keys.authenticate_key import AuthenticateKeyUseCase
from memvault.application.api_keys.create_key import CreateKeyUseCase
from memvault.application.api_keys.list_keys import ListKeysUseCase
from memvault.application.api_keys.revoke_key import RevokeKeyUseCase
from memvault.application.config import JobPolicy, OutboxPolicy, RetentionPolicy
from memvault.application.extraction.deterministic_judge import DeterministicJudge
from memvault.application.extraction.write_memories import DecisionPolicy, MemoryWriter
from memvault.application.indexing.ledger import SyncLedger
from memvault.application.indexing.vector_sync import ResyncVectorsUseCase, VectorIndexer
from memvault.application.ingest.ingest_messages import IngestMessagesUseCase
from memvault.application.jobs.bulk_retry import RetryJobsUseCase
from memvault.application.jobs.process_job import ProcessJobUseCase
from memvault.application.jobs.queries import GetJobUseCase, ListJobsUseCase, RetryJobUseCase
from memvault.application.jobs.stop import JobStop
from memvault.application.jobs.sweep import (
    EnqueueDueJobsUseCase,
    MeasureJobsUseCase,
    RescueExpiredJobsUseCase,
)
from memvault.application.maintenance.dedup import DedupUseCase
from memvault.application.maintenance.purge import PurgeUseCase
from memvault.application.maintenance.reindex import ReindexUseCase
from memvault.application.memory_items.change_item import (
    DeleteItemUseCase,
    PatchItemUseCase,
    RestoreItemUseCase,
)
from memvault.application.memory_items.create_item import CreateItemsUseCase
from memvault.application.memory_items.get_item import GetItemUseCase
from memvault.application.memory_items.item_history import ItemHistoryUseCase
from memvault.application.memory_items.list_items import ListItemsUseCase
from memvault.application.outbox.admin import (
    ListDeadEventsUseCase,
    ListOutboxUseCase,
    RetryOutboxUseCase,
)
from memvault.application.outbox.bulk_retry import RetryOutboxRowsUseCase
from memvault.application.outbox.consume import ConsumeEventsUseCase, HandleEventUseCase
from memvault.application.outbox.relay import RelayOutboxUseCase
from memvault.application.ports.embedder import Embedder
from memvault.application.ports.extractor import Extractor
from memvault.application.ports.outbox_notifier import OutboxListener
from memvault.application.ports.rate_limiter import RateLimiter
from memvault.application.ports.relation_judge import RelationJudge
from memvault.application.ports.retention import Purgeable
from memvault.application.ports.vector_store import VectorStore
from memvault.application.readiness import CheckReadinessUseCase
from memvault.application.search.access_times import AccessTimes
from memvault.application.search.build_context import BuildContextUseCase
from memvault.application.search.search_memories import RetrievalWeights
from memvault.application.settings.settings import ChangeSettingsUseCase, GetSettingsUseCase
from memvault.application.transfer.export_memories import ExportMemoriesUseCase
from memvault.application.transfer.import_memories import ImportMemoriesUseCase
from memvault.domain.retry import ExponentialBackoff, QuadraticBackoff, TransientBackoff

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from memvault.adapters.event_bus.kafka import KafkaSettings
    from memvault.adapters.llm.client import LLMClient

JOB_QUEUE_NAME = QUEUE_NAME


def job_policy(settings: Settings) -> JobPolicy:
    return JobPolicy(
        max_retry=settings.job_max_retry,
        backoff=ExponentialBackoff(base_seconds=settings.job_backoff_base_s),
        transient=TransientBackoff(
            base_seconds=settings.job_backoff_base_s,
            cap_seconds=settings.job_retry_cap_s,
            horizon_seconds=settings.job_retry_horizon_s,
        ),
        lease=timedelta(seconds=settings.job_lease_s),
        min_confidence=settings.min_confidence,
        requeue_grace=timedelta(seconds=settings.job_requeue_grace_s),
    )


def outbox_policy(settings: Settings) -> OutboxPolicy:
    return OutboxPolicy(
        topic=settings.event_topic,
        max_retry=settings.outbox_max_retry,
        backoff=QuadraticBackoff(),
        transient=TransientBackoff(
            cap_seconds=settings.outbox_retry_cap_s,
            horizon_seconds=settings.outbox_retry_horizon_s,
        ),
        batch=settings.outbox_batch,
    )


def retention_policy(settings: Settings) -> RetentionPolicy:
    ages = {
        Purgeable.IDEMPOTENCY_KEYS: settings.retention_idempotency_s,
        Purgeable.INBOX: settings.retention_inbox_s,
        Purgeable.CONSUMED_OUTBOX: settings.retention_outbox_s,
        Purgeable.DEAD_EVENTS: settings.retention_dead_events_s,
        Purgeable.CHAT_MESSAGES: settings.retention_chat_s,
    }
    return RetentionPolicy(
        ages={kind: timedelta(seconds=seconds) for kind, seconds in ages.items()},
        batch=settings.purge_batch,
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
    from memvault.adapters.vector_store.qdrant_edge import QdrantEdgeVectorStore

    private_directory(settings.data_dir)
    private_directory(settings.data_dir / "vectors")
    return QdrantEdgeVectorStore(settings.data_dir / "vectors")


def _qdrant(settings: Settings) -> VectorStore:
    from memvault.adapters.vector_store.qdrant import QdrantVectorStore

    return QdrantVectorStore(
        url=_require(settings.qdrant_url, "MEMVAULT_QDRANT_URL"),
        api_key=_secret(settings.qdrant_api_key),
        collection=settings.vector_collection,
    )


def _milvus(settings: Settings) -> VectorStore:
    from memvault.adapters.vector_store.milvus import MilvusVectorStore

    return MilvusVectorStore(
        _require(settings.milvus_uri, "MEMVAULT_MILVUS_URI"),
        token=_secret(settings.milvus_token) or "",
        collection=settings.vector_collection,
        search_consistency=settings.milvus_search_consistency,
    )


LOCAL_EMBED_SLICE = 8
"""Document texts per turn of a local model that shares one instance between queries and
documents (USE; e5 answers queries from an instance of their own): a query waits at
most for one such slice (≈0.4 s at 20 texts/s on two cores), well inside the dense
retriever's timeout."""


def _openai_embedder(settings: Settings, closables: list[object]) -> Embedder:
    from memvault.adapters.embedder.openai import OpenAIEmbedder

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
    from memvault.adapters.llm.client import LLMClient

    return _tracked(
        closables,
        LLMClient(
            base_url=_require(settings.llm_base_url, "MEMVAULT_LLM_BASE_URL"),
            model=_require(settings.llm_model, "MEMVAULT_LLM_MODEL"),
            api_key=_secret(settings.llm_api_key),
            timeout=settings.llm_timeout_s,
        ),
    )


def _extractor(client: LLMClient | None, embedder: Embedder) -> Extractor:
    """The LLM extractor when an LLM is configured, else the offline rule-based one with
    its learned gate (used only when ``embedder`` is the model it was trained for)."""
    if client is None:
        return RuleBasedExtractor(embedder=embedder, gate=_offline_gate())
    from memvault.adapters.llm.extractor import LLMExtractor

    return LLMExtractor(client)


def _offline_gate() -> Gate | None:
    try:
        return load_gate()
    except (OSError, KeyError, ValueError) as error:
        structlog.get_logger(__name__).warning("extraction_gate_unreadable", reason=str(error))
        return None


def _judge(settings: Settings, client: LLMClient | None) -> RelationJudge:
    if client is None:
        threshold = settings.decision_duplicate_threshold
        if threshold is None:
            threshold = DUPLICATE_THRESHOLDS[settings.embedder]
        return DeterministicJudge(duplicate_threshold=threshold)
    from memvault.adapters.llm.judge import LLMRelationJudge

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
        settings.prepare_embedded_files()
    return create_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )


def _outbox_listener(settings: Settings, notifier: InProcessNotifier) -> OutboxListener | None:
    """On PostgreSQL: hears other processes' outbox writes and wakes this relay."""
    url = settings.effective_database_url
    if make_url(url).get_backend_name() != "postgresql":
        return None
    return PostgresOutboxListener(url, notifier.outbox_written)


def _require(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"this configuration needs {name}")
    return value


def _redis(settings: Settings) -> Redis:
    from redis.asyncio import Redis  # the redis extra

    return Redis.from_url(_require(settings.redis_url, "MEMVAULT_REDIS_URL"))


def _rate_limiter(settings: Settings) -> RateLimiter | None:
    """The Redis-backed limiter shared by every API process, or ``None`` (in-process)."""
    if not settings.shared_rate_limit:
        return None
    from memvault.adapters.rate_limit import RedisRateLimiter

    return RedisRateLimiter(
        _require(settings.redis_url, "MEMVAULT_REDIS_URL"),
        rate=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
        namespace=f"{settings.broker_namespace}-rate-limit",
    )


def _kafka(settings: Settings) -> KafkaSettings:
    from memvault.adapters.event_bus.kafka import KafkaSettings  # the kafka extra

    return KafkaSettings(
        bootstrap_servers=_require(settings.kafka_bootstrap, "MEMVAULT_KAFKA_BOOTSTRAP"),
        topic=settings.event_topic,
        partitions=settings.kafka_partitions,
        session_timeout=settings.kafka_session_timeout_s,
        redelivery_after=settings.event_redelivery_s,
    )


T = TypeVar("T")


def _extra(module: str, name: str) -> Callable[..., Any]:
    """A factory for ``module.name`` that imports it when first called: server backends
    are optional extras (:func:`missing_extra` names the one to install), so the embedded
    default never imports them."""

    def build(*args: object, **kwargs: object) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return build


_REDIS_BUS = "memvault.adapters.event_bus.redis_streams"
_KAFKA_BUS = "memvault.adapters.event_bus.kafka"


def _tracked(closables: list[object], resource: T) -> T:
    closables.append(resource)
    return resource


def _tracked_optional(closables: list[object], resource: T | None) -> T | None:
    if resource is not None:
        closables.append(resource)
    return resource


class LoopContainers:
    """One :class:`Container` per running event loop, made on first use in that loop.

    The same :class:`LoopLocal` that keeps the HTTP clients' pools per loop: one
    mechanism for everything bound to an event loop.
    """

    def __init__(self, infra: Infrastructure) -> None:
        self._containers = LoopLocal(lambda: Container(infra=infra))

    def current(self) -> Container:
        return self._containers.get()

    async def process_job(self, job_id: int) -> object:
        return await self.current().process_job()(job_id)

    async def close_current(self) -> None:
        container = self._containers.pop_current()
        if container is not None:
            await shutdown(container)


def _identity_provider(settings: Settings) -> ProviderTokens | None:
    """The external identity provider's token verifier; ``None`` when none is set."""
    if not settings.identity_provider:
        return None
    problem = provider_refusal(settings)
    if problem is not None:
        raise ValueError(problem)
    return ProviderTokens(
        issuer=settings.auth_jwt_issuer or "",
        audience=settings.auth_jwt_audience or "",
        algorithms=settings.auth_jwt_algorithms,
        public_key=settings.auth_jwt_public_key,
        jwks_url=settings.auth_jwks_url,
        cache_s=settings.auth_jwks_cache_s,
        refresh_cooldown_s=settings.auth_jwks_refresh_cooldown_s,
        timeout_s=settings.auth_jwks_timeout_s,
    )


class Infrastructure(containers.DeclarativeContainer):
    """One per process."""

    __self__ = providers.Self()
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    worker = providers.Singleton(worker_name)
    job_policy = providers.Singleton(job_policy, settings)
    outbox_policy = providers.Singleton(outbox_policy, settings)
    retention_policy = providers.Singleton(retention_policy, settings)
    identity_provider = providers.Singleton(_identity_provider, settings)
    """Verifies an external identity provider's JWTs; ``None`` when none is configured."""
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
    job_stop = providers.Singleton(JobStop)
    """Tells the jobs in hand that the worker stops (they release their leases)."""
    loop_shutdown = providers.Singleton(LoopShutdown, loops.provided.close_current, stop=job_stop)
    """Dramatiq middleware that drains the jobs in hand, then disposes the actors' loop
    resources, when a worker stops."""
    in_process_bus = providers.Singleton(
        InProcessBus, redelivery_after=settings.provided.event_redelivery_s
    )
    outbox_notifier = providers.Singleton(InProcessNotifier)
    """Wakes this process's relay right after a commit that wrote outbox rows."""
    loop_closables: providers.Singleton[list[object]] = providers.Singleton(list)
    """Clients that keep one connection pool per event loop: each loop's container
    closes its own pools when it shuts down (``aclose``)."""
    llm_client = providers.Singleton(_llm_client, settings, loop_closables)
    judge = providers.Singleton(_judge, settings, llm_client)
    decision_policy = providers.Singleton(decision_policy, settings)

    embedder = providers.Singleton(
        CachingEmbedder,
        providers.Singleton(
            TimedEmbedder,
            providers.Selector(
                settings.provided.embedder,
                local=providers.Singleton(
                    PriorityEmbedder,
                    providers.Singleton(
                        LocalEmbedder, settings.provided.local_embedding_model, query_instance=True
                    ),
                    slice_size=LOCAL_EMBED_SLICE,
                ),
                hashing=providers.Singleton(HashingEmbedder, settings.provided.hashing_dimension),
                openai=providers.Singleton(_openai_embedder, settings, loop_closables),
            ),
        ),
    )
    extractor = providers.Singleton(_extractor, llm_client, embedder)
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
    sync_ledger = providers.Singleton(
        SyncLedger,
        rest=providers.Factory(timedelta, seconds=settings.provided.vector_resync_grace_s),
    )
    """Vector syncs running and failing in this process (the sweeper reads it)."""


class Container(containers.DeclarativeContainer):
    """One per event loop."""

    infra = providers.DependenciesContainer()
    settings = infra.settings
    clock = infra.clock

    engine = providers.Singleton(_engine, settings)
    read_engine = providers.Singleton(
        create_read_engine,
        settings.provided.effective_database_url,
        busy_timeout_ms=settings.provided.sqlite_busy_timeout_ms,
    )
    """SQLite only (else ``None``): read-only units of work run on it without thread hops."""
    uow = providers.Singleton(SqlUnitOfWorkFactory, engine, read_engine)
    outbox_listener = providers.Singleton(_outbox_listener, settings, infra.outbox_notifier)
    """PostgreSQL only (else ``None``): ``LISTEN`` for outbox writes, run by the relay."""
    indexer = providers.Singleton(
        VectorIndexer, uow, clock, infra.embedder, infra.vector_store, ledger=infra.sync_ledger
    )
    idempotency = providers.Singleton(SqlIdempotencyStore, engine)
    closables: providers.Singleton[list[object]] = providers.Singleton(list)
    """Clients this loop opened, closed by :func:`shutdown` (newest first)."""
    redis = providers.Singleton(_tracked, closables, providers.Factory(_redis, settings))
    rate_limiter = providers.Singleton(
        _tracked_optional, closables, providers.Factory(_rate_limiter, settings)
    )

    publisher_choice = providers.Selector(
        settings.provided.event_bus,
        memory=providers.Singleton(
            infra.in_process_bus.provided.publisher.call(settings.provided.event_topic)
        ),
        redis=providers.Singleton(
            _extra(_REDIS_BUS, "RedisStreamsPublisher"), redis, stream=settings.provided.event_topic
        ),
        kafka=providers.Singleton(
            _extra(_KAFKA_BUS, "KafkaPublisher"), providers.Singleton(_kafka, settings)
        ),
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
            _extra(_REDIS_BUS, "RedisStreamsConsumer"),
            redis,
            stream=settings.provided.event_topic,
            group=settings.provided.consumer_group,
            min_idle=settings.provided.redis_stream_min_idle_s,
        ),
        kafka=providers.Singleton(
            _extra(_KAFKA_BUS, "KafkaConsumer"),
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

    ingest_messages = providers.Factory(
        IngestMessagesUseCase, uow, clock, infra.outbox_policy, notifier=infra.outbox_notifier
    )
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
        ConsumeEventsUseCase,
        consumer,
        handle_event,
        infra.job_queue,
        max_deliveries=settings.provided.event_max_deliveries,
        is_transient=providers.Object(is_transient),
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
        stop=infra.job_stop,
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
    retry_jobs = providers.Factory(RetryJobsUseCase, uow, clock, infra.job_queue)
    list_outbox = providers.Factory(ListOutboxUseCase, uow)
    retry_outbox = providers.Factory(RetryOutboxUseCase, uow, clock)
    retry_outbox_rows = providers.Factory(RetryOutboxRowsUseCase, uow, clock)
    list_dead_events = providers.Factory(ListDeadEventsUseCase, uow)
    put_snapshot = providers.Factory(
        PutSnapshotUseCase, uow, clock, infra.outbox_policy, notifier=infra.outbox_notifier
    )
    get_snapshot = providers.Factory(GetSnapshotUseCase, uow)

    access_times = providers.Singleton(AccessTimes, uow)
    """Access times of searched memories, flushed by the API's background task."""
    search = providers.Factory(
        TimedSearch,
        uow,
        clock,
        infra.embedder,
        infra.vector_store,
        infra.retrieval_weights,
        access=access_times,
        metrics=infra.metrics,
    )
    build_context = providers.Factory(
        BuildContextUseCase,
        search,
        type_budget=settings.provided.context_type_budget,
        clock=infra.clock,
        metrics=infra.metrics,
    )
    measure_jobs = providers.Factory(MeasureJobsUseCase, uow, infra.metrics)
    purge = providers.Factory(
        PurgeUseCase, providers.Singleton(SqlRetentionStore, engine), clock, infra.retention_policy
    )
    resync_vectors = providers.Factory(
        ResyncVectorsUseCase,
        uow,
        clock,
        indexer,
        grace=providers.Factory(timedelta, seconds=settings.provided.vector_resync_grace_s),
        ledger=infra.sync_ledger,
    )

    dedup = providers.Factory(DedupUseCase, uow, clock, indexer, metrics=infra.metrics)
    reindex = providers.Factory(
        ReindexUseCase, uow, clock, indexer, infra.vector_store, infra.embedder
    )

    export_memories = providers.Factory(ExportMemoriesUseCase, uow)
    import_memories = providers.Factory(ImportMemoriesUseCase, uow, clock, indexer)

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

    api_keys = providers.Singleton(SqlApiKeyRepository, engine)
    create_key = providers.Factory(CreateKeyUseCase, api_keys, clock)
    list_keys = providers.Factory(ListKeysUseCase, api_keys)
    revoke_key = providers.Factory(RevokeKeyUseCase, api_keys, clock)
    authenticate_key = providers.Factory(AuthenticateKeyUseCase, api_keys, clock)


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
        settings.prepare_embedded_files()
    upgrade(settings.effective_database_url)


__all__ = [
    "JOB_QUEUE_NAME",
    "Command",
    "Container",
    "Infrastructure",
    "Settings",
    "WeakSecret",
    "build_infrastructure",
    "close_infrastructure",
    "migrate",
    "missing_extra",
    "refusal",
    "retrieval_weights",
    "shutdown",
    "write_private_file",
]
