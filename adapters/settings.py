"""Configuration: every option of a memvault process, read from ``MEMVAULT_*`` variables,
and the files of the embedded default (data directory, SQLite file, JWT secret).

pydantic-settings is a framework, so this lives in the composition root's package
rather than in ``application/config.py`` (which holds the framework-free policies the
use cases take): the container turns these values into those policies.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

JWT_SECRET_FILE = "jwt-secret"
SECRET_VARIABLE = "MEMVAULT_AUTH_JWT_SECRET"
MIN_SECRET_BYTES = 32

Command = Literal["serve", "token", "relay", "worker"]
ProviderAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
"""Asymmetric algorithms only: the provider's tokens never verify with a shared secret."""
DEFAULT_ALGORITHMS: tuple[ProviderAlgorithm, ...] = ("RS256", "ES256")


class Settings(BaseSettings):
    """Every option, read from ``MEMVAULT_*`` environment variables; all have safe defaults."""

    model_config = SettingsConfigDict(env_prefix="MEMVAULT_", extra="ignore")

    data_dir: Path = Path(".memvault")
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = None
    """SQLAlchemy URL; unset means a SQLite file in the data dir."""
    db_pool_size: int = 5
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    """How long a SQLite writer waits for another's lock before the request answers 503."""
    unavailable_retry_after_s: int = Field(default=5, ge=1)
    """``Retry-After`` of a 503 answered while a dependency (database, broker) is down."""
    broker: Literal["memory", "redis", "rabbitmq"] = "memory"
    broker_namespace: str = Field(default="memvault-dramatiq", min_length=1)
    """Prefix of the Redis broker's keys: deployments (or test runs) can share one Redis."""
    event_bus: Literal["memory", "redis", "kafka"] = "memory"
    vector_store: Literal["memory", "qdrant-edge", "qdrant", "milvus"] = "qdrant-edge"
    event_topic: str = "memvault.memory.events"
    consumer_group: str = "memvault-memory-consumer"
    embedder: Literal["local", "openai", "hashing"] = "local"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    auth_jwt_secret: SecretStr | None = None
    # An external identity provider (off unless a public key or a JWKS URL is set): its
    # JWTs are accepted beside the local HS256 ones (docs/behaviour.md, "Identity").
    auth_jwt_public_key: str | None = None
    """The provider's PEM public key, as text or as the path of a PEM file."""
    auth_jwks_url: str | None = None
    """The provider's JWKS URL (http or https), instead of a public key."""
    auth_jwt_issuer: str | None = None
    """The ``iss`` the provider's tokens must carry (required with the provider)."""
    auth_jwt_audience: str | None = None
    """The ``aud`` the provider's tokens must carry (required with the provider)."""
    auth_jwt_algorithms: list[ProviderAlgorithm] = Field(
        default_factory=lambda: list(DEFAULT_ALGORITHMS), min_length=1
    )
    auth_jwks_cache_s: float = Field(default=300.0, gt=0)
    """How long the fetched key set is used before it is fetched again."""
    auth_jwks_refresh_cooldown_s: float = Field(default=30.0, ge=0)
    """A token naming an unknown key fetches the set again, at most this often."""
    auth_jwks_timeout_s: float = Field(default=5.0, gt=0)
    redis_url: str | None = None
    rabbitmq_url: str | None = None
    kafka_bootstrap: str | None = None
    kafka_partitions: int = Field(default=3, ge=1)
    kafka_session_timeout_s: float = Field(default=10.0, gt=0)
    redis_stream_min_idle_s: float = Field(default=60.0, gt=0)
    """An event a consumer left unacknowledged is reclaimed after this long (Redis)."""
    event_redelivery_s: float = Field(default=30.0, gt=0)
    """An event left unacknowledged is delivered again after this long (in-process bus
    and Kafka; Redis Streams uses ``redis_stream_min_idle_s``)."""
    event_max_deliveries: int = Field(default=5, ge=1)
    """An event whose handling fails this many deliveries in a row becomes a dead event."""
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    milvus_uri: str | None = None
    """A server URI (``http://host:19530``) or a milvus-lite file path."""
    milvus_token: SecretStr | None = None
    milvus_search_consistency: Literal["Strong", "Session", "Bounded"] = "Session"
    """``Session``: a process reads its own writes, another process's within a time tick
    (0.2 s); ``Strong`` waits a time tick on every search (p50 210 ms against 3 ms)."""
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
    context_type_budget: dict[str, int] = Field(
        default_factory=lambda: {"constraint": 5, "preference": 5, "fact": 5}
    )
    """``/context``'s per-type budget (naming every type also caps the total at the
    sum); ``/search`` has none unless the caller passes ``type_budget``."""
    access_flush_interval_s: float = Field(default=5.0, gt=0)
    """How often the API writes the access times searches recorded in memory."""
    idempotency_lease_s: float = Field(default=60.0, gt=0)
    """How long a request holds its ``Idempotency-Key``: a key whose request crashed or
    hangs answers 409 until then, and may be used again after."""
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=40, ge=1)
    job_max_retry: int = Field(default=6, ge=1)
    job_backoff_base_s: float = Field(default=1.0, gt=0)
    job_retry_cap_s: float = Field(default=300.0, gt=0)
    """Longest wait between attempts after a transient failure (the LLM endpoint down)."""
    job_retry_horizon_s: float = Field(default=86_400.0, gt=0)
    """How long after its creation a job keeps retrying transient failures before it is
    dead (24 h by default)."""
    job_lease_s: float = Field(default=60.0, gt=0)
    job_requeue_grace_s: float = Field(default=10.0, ge=0)
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    outbox_max_retry: int = Field(default=20, ge=1)
    outbox_retry_cap_s: float = Field(default=100.0, gt=0)
    """Longest wait between publish attempts while the event bus is down."""
    outbox_retry_horizon_s: float = Field(default=86_400.0, gt=0)
    """How long after its creation an outbox row keeps retrying a bus that is down."""
    outbox_batch: int = Field(default=100, ge=1)
    relay_poll_interval_s: float = Field(default=0.5, gt=0)
    sweep_interval_s: float = Field(default=5.0, gt=0)
    retention_idempotency_s: float = Field(default=3600.0, ge=0)
    """Idempotency keys are deleted this long after they expire (docs/behaviour.md,
    "Retention"); a live ``in_progress`` lease never is."""
    retention_inbox_s: float = Field(default=7 * 86_400.0, ge=0)
    """Consumed-event ids (the consumer's dedup records) are deleted at this age."""
    retention_outbox_s: float = Field(default=7 * 86_400.0, ge=0)
    """Consumed outbox rows are deleted this long after they were consumed."""
    retention_dead_events_s: float = Field(default=30 * 86_400.0, ge=0)
    retention_chat_s: float = Field(default=30 * 86_400.0, ge=0)
    """Chat turns are deleted this long after their job ended (or, without a job, after
    they were stored); never while their job or event is still in flight."""
    purge_interval_s: float = Field(default=3600.0, gt=0)
    """How often the sweepers run the purge."""
    purge_batch: int = Field(default=500, ge=1)
    """Rows per delete transaction (SQLite's write lock is held for one batch at a time)."""
    worker_processes: int = Field(default=2, ge=1)
    worker_threads: int = Field(default=4, ge=1)
    embedded_worker_threads: int = Field(default=2, ge=1)
    log_level: str = "info"

    # Operations: log format, metrics port of the relay and worker, shared rate limit.
    log_format: Literal["console", "json"] = "console"
    """``json``: one JSON object per log line (memvault, uvicorn and Dramatiq alike)."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Where ``memvault relay`` and ``memvault worker`` serve Prometheus ``/metrics``;
    unset means no metrics server (the API always serves ``/metrics`` on its own port)."""
    metrics_host: str = "0.0.0.0"  # noqa: S104 (a container's metrics are scraped from outside)
    rate_limit_storage: Literal["auto", "memory", "redis"] = "auto"
    """``redis`` shares the per-user rate limit between API processes; ``auto`` uses Redis
    when ``MEMVAULT_REDIS_URL`` is set and the API runs no in-process pipeline."""
    otel_enabled: bool = False
    """OpenTelemetry spans for HTTP requests (the ``otel`` extra; off by default)."""

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'memvault.db').resolve()}"

    @property
    def shared_rate_limit(self) -> bool:
        """Whether the per-user rate limit is counted in Redis for every API process."""
        if self.rate_limit_storage == "auto":
            in_process = self.event_bus == "memory" or self.broker == "memory"
            return self.redis_url is not None and not in_process
        return self.rate_limit_storage == "redis"

    @property
    def identity_provider(self) -> bool:
        """Whether JWTs from an external identity provider are accepted."""
        return self.auth_jwt_public_key is not None or self.auth_jwks_url is not None

    def jwt_secret(self, *, create: bool = False) -> str:
        """The configured secret, else the one kept in the data dir (made when ``create``).

        Raises :class:`WeakSecret` for a secret under :data:`MIN_SECRET_BYTES` bytes (an
        empty one included): HS256 keys that short can be brute-forced offline.
        """
        if self.auth_jwt_secret is not None:
            return strong_secret(self.auth_jwt_secret.get_secret_value(), SECRET_VARIABLE)
        path = self.data_dir / JWT_SECRET_FILE
        if path.exists():
            return strong_secret(path.read_text().strip(), str(path))
        if not create:
            raise LookupError(
                f"no JWT secret: set {SECRET_VARIABLE} or run `memvault serve` once "
                f"to create {path}"
            )
        private_directory(self.data_dir)
        secret = secrets.token_urlsafe(48)
        write_private_file(path, secret)
        return secret

    def check_secret(self) -> None:
        """Refuse (:class:`WeakSecret`) a configured or stored secret that is too short; a
        missing one is made by ``serve`` when needed."""
        if self.auth_jwt_secret is not None or (self.data_dir / JWT_SECRET_FILE).exists():
            self.jwt_secret()

    def prepare_embedded_files(self) -> None:
        """Create the data directory (0700) and, for the embedded default, the SQLite file
        (0600) before SQLite does: its WAL and journal files copy the file's mode."""
        private_directory(self.data_dir)
        if self.database_url is None:
            database = self.data_dir / "memvault.db"
            os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))


class WeakSecret(ValueError):
    """The JWT secret is too short to sign tokens safely."""


def strong_secret(secret: str, source: str) -> str:
    size = len(secret.encode())
    if size >= MIN_SECRET_BYTES:
        return secret
    found = "is empty" if size == 0 else f"has {size} bytes"
    remedy = (
        "or unset it to let memvault keep a generated one in the data directory"
        if source == SECRET_VARIABLE
        else f"or delete {source} to let `memvault serve` generate a new one"
    )
    raise WeakSecret(
        f"the JWT secret from {source} {found}; it needs at least {MIN_SECRET_BYTES} bytes. "
        f"Set {SECRET_VARIABLE} to a long random value (python -c "
        f"'import secrets; print(secrets.token_urlsafe(48))'), {remedy}."
    )


def private_directory(path: Path) -> None:
    """Make ``path`` (and missing parents) if absent; a directory made here is 0700."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only: the content
    goes to a temporary file created 0600 in the same directory, then replaces ``path``,
    so a crash never leaves an empty or world-readable file behind."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def chosen_extras(settings: Settings) -> dict[str, tuple[str, str]]:
    """The optional backends ``settings`` selects: ``{setting: (extra, module it needs)}``.

    The base install is the embedded default (SQLite, in-process bus and broker, the
    embedded vector store, the local embedder); every server backend is an extra.
    """
    scheme = settings.effective_database_url.split(":", 1)[0]
    wanted = {
        f"MEMVAULT_DATABASE_URL={scheme}": _DRIVER_EXTRAS.get(scheme.split("+")[-1]),
        f"MEMVAULT_BROKER={settings.broker}": _BACKEND_EXTRAS.get(settings.broker),
        f"MEMVAULT_EVENT_BUS={settings.event_bus}": _BACKEND_EXTRAS.get(settings.event_bus),
        f"MEMVAULT_VECTOR_STORE={settings.vector_store}": _BACKEND_EXTRAS.get(
            settings.vector_store
        ),
        f"MEMVAULT_EMBEDDER={settings.embedder}": _BACKEND_EXTRAS.get(settings.embedder),
        "MEMVAULT_LLM_BASE_URL": _BACKEND_EXTRAS["openai"] if settings.llm_base_url else None,
        "MEMVAULT_RATE_LIMIT_STORAGE=redis": (
            _BACKEND_EXTRAS["redis"] if settings.shared_rate_limit else None
        ),
        "MEMVAULT_OTEL_ENABLED": ("otel", "opentelemetry.sdk") if settings.otel_enabled else None,
    }
    return {name: extra for name, extra in wanted.items() if extra is not None}


_DRIVER_EXTRAS = {
    "asyncpg": ("postgres", "asyncpg"),
    "psycopg": ("postgres", "psycopg"),
    "pymysql": ("mysql", "pymysql"),
    "aiomysql": ("mysql", "aiomysql"),
}
_BACKEND_EXTRAS = {
    "redis": ("redis", "redis"),
    "rabbitmq": ("rabbitmq", "pika"),
    "kafka": ("kafka", "aiokafka"),
    "qdrant": ("qdrant", "qdrant_client"),
    "milvus": ("milvus", "pymilvus"),
    "openai": ("openai", "openai"),
}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported. ``find_spec`` of a dotted name imports its
    parent, and raises (rather than answering ``None``) when the parent is missing."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def missing_extra(settings: Settings) -> str | None:
    """Which chosen backend is not installed, and the extra that installs it, or ``None``."""
    for setting, (extra, module) in chosen_extras(settings).items():
        if not installed(module):
            return (
                f"{setting} needs the `{extra}` extra, which is not installed: "
                f"pip install 'memvault[{extra}]'"
            )
    return None


def refusal(settings: Settings, command: Command) -> str | None:
    """Why ``memvault <command>`` must not start with ``settings``, or ``None``.

    The one place for start-up refusals: a chosen backend whose extra is not installed
    (:func:`missing_extra`), a JWT secret under 32 bytes, or identity provider settings
    that cannot work (``provider_refusal``) stop every command; ``worker`` and ``relay``
    run beside other processes (scale mode), so they refuse the in-process broker and
    event bus, which live inside ``serve``, and the embedded vector store, which one
    process only may open. ``serve`` refuses a server event bus (redis, kafka) beside the
    in-process broker: its relay runs only in ``memvault relay``, which needs a server
    broker, so no relay would run anywhere and accepted messages would wait forever.
    """
    missing = missing_extra(settings)
    if missing is not None:
        return missing
    try:
        settings.check_secret()
    except WeakSecret as error:
        return str(error)
    provider = provider_refusal(settings)
    if provider is not None:
        return provider
    if command == "worker" and settings.broker == "memory":
        return (
            "memvault worker needs MEMVAULT_BROKER=redis (or rabbitmq): with the in-process "
            "broker the jobs run inside `memvault serve`."
        )
    if command == "relay" and (settings.event_bus == "memory" or settings.broker == "memory"):
        return (
            "memvault relay needs MEMVAULT_EVENT_BUS=redis or kafka and MEMVAULT_BROKER=redis "
            "or rabbitmq: with in-process backends the relay runs inside `memvault serve`."
        )
    if command == "serve" and settings.event_bus != "memory" and settings.broker == "memory":
        return (
            f"MEMVAULT_EVENT_BUS={settings.event_bus} needs `memvault relay` and "
            "`memvault worker` beside `memvault serve`, and they need a server broker: set "
            "MEMVAULT_BROKER=redis (or rabbitmq), or MEMVAULT_EVENT_BUS=memory to run the "
            "whole pipeline inside `memvault serve`."
        )
    if command in ("worker", "relay") and settings.vector_store == "qdrant-edge":
        return (
            f"memvault {command} runs beside other processes, and the embedded vector store "
            "(qdrant-edge) allows one process only: set MEMVAULT_VECTOR_STORE=milvus or "
            "qdrant (with MEMVAULT_MILVUS_URI / MEMVAULT_QDRANT_URL)."
        )
    return None


def provider_refusal(settings: Settings) -> str | None:
    """Why the identity provider's settings cannot work, or ``None``."""
    if not settings.identity_provider:
        return None
    if settings.auth_jwt_public_key is not None and settings.auth_jwks_url is not None:
        return "set MEMVAULT_AUTH_JWT_PUBLIC_KEY or MEMVAULT_AUTH_JWKS_URL, not both."
    if not settings.auth_jwt_issuer or not settings.auth_jwt_audience:
        return (
            "an identity provider needs MEMVAULT_AUTH_JWT_ISSUER and MEMVAULT_AUTH_JWT_AUDIENCE:"
            " without them any token the provider signs for another service would be accepted."
        )
    url = settings.auth_jwks_url
    if url is not None and not url.startswith(("http://", "https://")):
        return "MEMVAULT_AUTH_JWKS_URL must be an http:// or https:// URL."
    return None
