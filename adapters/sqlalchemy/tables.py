"""Every table memvault owns (the upstream schema, with memvault's changes).

User ids are opaque strings. Times are UTC (see ``UTCDateTime``). Every
identifier (user, scope, message, event and job ids, keys, hashes, lexical terms) is an
``ExactString``: compared byte for byte on every dialect, so ids that differ only by case,
accent, Unicode normalisation or a trailing space never match one another.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from memvault.adapters.sqlalchemy.types import ExactString, Id, LongText, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

USER_ID = 128
SCOPE_ID = 128

memory_items = Table(
    "memory_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", ExactString(USER_ID), nullable=False),
    Column("conversation_id", ExactString(SCOPE_ID)),
    Column("assistant_id", ExactString(SCOPE_ID)),
    Column("run_id", ExactString(SCOPE_ID)),
    Column("memory_type", String(32), nullable=False),
    Column("title", String(128), nullable=False),
    Column("content", Text, nullable=False),
    Column("normalized_content", Text),
    Column("content_hash", ExactString(64)),
    Column("confidence", Numeric(5, 4, asdecimal=False), nullable=False, server_default="0.6"),
    Column("importance", Numeric(5, 4, asdecimal=False), nullable=False, server_default="0.5"),
    Column("sensitivity_level", Integer, nullable=False, server_default="0"),
    Column("source_message_id", ExactString(SCOPE_ID)),
    Column("source_event_id", ExactString(SCOPE_ID)),
    Column("is_explicit", Boolean, nullable=False, server_default=false()),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("ttl_at", UTCDateTime),
    Column("last_access_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("vector_status", String(16), nullable=False, server_default="pending"),
    Column("vector_id", ExactString(128)),
    Column("metadata_json", Text),
    Column("occurred_at", UTCDateTime),
    Column("vector_sync_until", UTCDateTime),
    Index("ix_memory_items_user_status_type", "user_id", "status", "memory_type"),
    Index("ix_memory_items_user_conv_status", "user_id", "conversation_id", "status"),
    Index("ix_memory_items_user_asst_run_status", "user_id", "assistant_id", "run_id", "status"),
    Index("ix_memory_items_user_type_hash", "user_id", "memory_type", "content_hash"),
    Index("ix_memory_items_source_message", "source_message_id"),
    Index("ix_memory_items_ttl", "ttl_at"),
    Index("ix_memory_items_vector_status", "vector_status", "updated_at"),
)

memory_jobs = Table(
    "memory_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", ExactString(USER_ID), nullable=False),
    Column("conversation_id", ExactString(SCOPE_ID)),
    Column("source_message_id", ExactString(SCOPE_ID)),
    Column("source_event_id", ExactString(SCOPE_ID)),
    Column("job_type", String(32), nullable=False),
    Column("idempotency_key", ExactString(128), nullable=False),
    Column("payload_json", LongText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("retry_count", Integer, nullable=False, server_default="0"),
    Column("max_retry", Integer, nullable=False, server_default="6"),
    Column("next_retry_at", UTCDateTime),
    Column("last_error", String(2000)),
    Column("locked_until", UTCDateTime),
    Column("locked_by", ExactString(128)),
    Column("lease_token", ExactString(32)),
    Column("enqueued_at", UTCDateTime),
    Column("memory_ids", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("idempotency_key", name="uq_memory_jobs_idempotency_key"),
    Index("ix_memory_jobs_user_created", "user_id", "created_at"),
    Index("ix_memory_jobs_source_event", "source_event_id"),
    Index("ix_memory_jobs_status_next", "status", "next_retry_at"),
    Index("ix_memory_jobs_status_locked", "status", "locked_until"),
    Index("ix_memory_jobs_user_status", "user_id", "status"),
    Index("ix_memory_jobs_source_message", "user_id", "conversation_id", "source_message_id"),
)

memory_audit_logs = Table(
    "memory_audit_logs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("target_type", String(16), nullable=False),
    Column("target_id", ExactString(128), nullable=False),
    Column("user_id", ExactString(USER_ID), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("operator_type", String(16), nullable=False),
    Column("operator_id", ExactString(USER_ID)),
    Column("reason", String(255), nullable=False, server_default=""),
    Column("before_json", LongText),
    Column("after_json", LongText),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_memory_audit_logs_target", "target_type", "target_id"),
    Index("ix_memory_audit_logs_user_created", "user_id", "created_at"),
)

memory_user_settings = Table(
    "memory_user_settings",
    metadata,
    Column("user_id", ExactString(USER_ID), primary_key=True),
    Column("memory_enabled", Boolean, nullable=False, server_default=true()),
    Column("implicit_memory_enabled", Boolean, nullable=False, server_default=true()),
    Column("sensitive_memory_enabled", Boolean, nullable=False, server_default=false()),
    Column("updated_at", UTCDateTime, nullable=False),
)

memory_outbox_messages = Table(
    "memory_outbox_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("biz_type", String(64), nullable=False),
    Column("service_name", String(64), nullable=False, server_default=""),
    Column("topic", String(128), nullable=False),
    Column("message_key", ExactString(128), nullable=False),
    Column("payload", LongText, nullable=False),
    Column("user_id", ExactString(USER_ID)),
    Column("status", String(32), nullable=False),
    Column("retry_count", Integer, nullable=False, server_default="0"),
    Column("max_retry", Integer, nullable=False, server_default="20"),
    Column("next_retry_at", UTCDateTime),
    Column("last_error", Text),
    Column("published_at", UTCDateTime),
    Column("consumed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_memory_outbox_messages_status_next", "status", "next_retry_at", "biz_type"),
    Index("ix_memory_outbox_messages_next_id", "next_retry_at", "id"),  # the relay's claim
    Index("ix_memory_outbox_messages_service_name", "service_name"),
)

memory_consumed_events = Table(
    "memory_consumed_events",
    metadata,
    Column("event_id", ExactString(128), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("consumed_at", UTCDateTime, nullable=False),
    Index("ix_memory_consumed_events_consumed", "consumed_at"),
)
"""The consumer's inbox: an event id is handled once, whoever published it."""

memory_dead_events = Table(
    "memory_dead_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("topic", String(128), nullable=False),
    Column("event_id", ExactString(128)),
    Column("event_type", String(64)),
    Column("raw_payload", LongText, nullable=False),
    Column("reason", String(2000), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_memory_dead_events_created", "created_at"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", ExactString(USER_ID), nullable=False),
    Column("conversation_id", ExactString(SCOPE_ID), nullable=False),
    Column("message_id", ExactString(SCOPE_ID), nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", LongText, nullable=False),
    Column("assistant_id", ExactString(SCOPE_ID)),
    Column("run_id", ExactString(SCOPE_ID)),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "conversation_id", "message_id", name="uq_chat_messages_key"),
    Index("ix_chat_messages_created", "created_at"),
)

agent_state_snapshots = Table(
    "agent_state_snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", ExactString(USER_ID), nullable=False),
    Column("conversation_id", ExactString(SCOPE_ID), nullable=False),
    Column("phase", String(32), nullable=False),
    Column("snapshot_json", LongText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "conversation_id", name="uq_agent_state_snapshots_key"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", ExactString(USER_ID), nullable=False),
    Column("idem_key", ExactString(255), nullable=False),
    Column("request_hash", ExactString(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("response_status", Integer),
    Column("response_body", LongText),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("user_id", "idem_key", name="pk_idempotency_keys"),
    Index("ix_idempotency_keys_expires", "expires_at"),
)

memory_user_locks = Table(
    "memory_user_locks",
    metadata,
    Column("user_id", ExactString(USER_ID), primary_key=True),
)
"""One row per user, locked while a job of that user is claimed (jobs of one user never
run concurrently, docs/adr/0001)."""

memory_postings = Table(
    "memory_postings",
    metadata,
    Column("user_key", Integer, nullable=False),
    Column("term", ExactString(64), nullable=False),
    Column("item_id", Id, nullable=False),
    Column("tf", Integer, nullable=False),
    PrimaryKeyConstraint("user_key", "term", "item_id", name="pk_memory_postings"),
    Index("ix_memory_postings_item_id", "item_id"),
    sqlite_with_rowid=False,
)
"""The lexical index (docs/behaviour.md, "Search and ranking"), rewritten in the item's own
transaction so every API process sees the same index. One row per item and term (``tf``:
the term's count), plus one *document row* per item with the empty term whose ``tf`` is
the item's length in terms. ``user_key`` (see ``lexical.user_key``) clusters a user's
postings by term; it is a 32-bit hash, not an owner: every read joins ``memory_items``
on ``user_id``. On SQLite the table is ``WITHOUT ROWID`` (the primary key is the table),
so a posting is stored twice (table and item index) rather than three times."""

memory_item_metadata = Table(
    "memory_item_metadata",
    metadata,
    Column("item_id", Id, nullable=False),
    Column("key", ExactString(64), nullable=False),
    Column("user_id", ExactString(USER_ID), nullable=False),
    Column("value_hash", ExactString(64), nullable=False),
    PrimaryKeyConstraint("item_id", "key", name="pk_memory_item_metadata"),
    Index("ix_memory_item_metadata_user_key_value", "user_id", "key", "value_hash", "item_id"),
)
"""The metadata filter's index (docs/behaviour.md, "Metadata"): one row per item and key,
with the sha256 of the value's canonical JSON (``domain.metadata.value_hash``), rewritten in
the item's own transaction. A filter is one ``EXISTS`` per pair on the primary key, or a
range of the ``(user_id, key, value_hash)`` index when it is selective. The same plain
B-tree tables and indexes work on SQLite, PostgreSQL and MariaDB alike (no JSON operators,
which differ on each), the fixed-width hash keeps index keys short on MariaDB whatever the
value's length, and every column is an ``ExactString``, so equality is byte for byte. The
object itself is ``memory_items.metadata_json``; this table only answers "which items"."""

memvault_api_keys = Table(
    "memvault_api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", ExactString(64), nullable=False),
    Column("prefix", ExactString(16), nullable=False),
    Column("secret_hash", ExactString(64), nullable=False),
    Column("scope", ExactString(140), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    UniqueConstraint("secret_hash", name="uq_memvault_api_keys_secret_hash"),
)
"""API keys (stored as the SHA-256 of the secret, never the secret itself)."""
