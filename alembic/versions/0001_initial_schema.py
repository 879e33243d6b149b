"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from memvault.adapters.sqlalchemy.types import Id, LongText, UTCDateTime

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_state_snapshots',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('phase', sa.String(length=32), nullable=False),
    sa.Column('snapshot_json', LongText, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_state_snapshots')),
    sa.UniqueConstraint('user_id', 'conversation_id', name='uq_agent_state_snapshots_key')
    )
    op.create_table('chat_messages',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('content', LongText, nullable=False),
    sa.Column('assistant_id', sa.String(length=128), nullable=True),
    sa.Column('run_id', sa.String(length=128), nullable=True),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_messages')),
    sa.UniqueConstraint('user_id', 'conversation_id', 'message_id', name='uq_chat_messages_key')
    )
    op.create_table('idempotency_keys',
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('idem_key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', LongText, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'idem_key', name='pk_idempotency_keys')
    )
    op.create_index('ix_idempotency_keys_expires', 'idempotency_keys', ['expires_at'], unique=False)

    op.create_table('memory_audit_logs',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('operator_type', sa.String(length=16), nullable=False),
    sa.Column('operator_id', sa.String(length=128), nullable=True),
    sa.Column('reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('before_json', LongText, nullable=True),
    sa.Column('after_json', LongText, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_audit_logs'))
    )
    op.create_index('ix_memory_audit_logs_target', 'memory_audit_logs', ['target_type', 'target_id'], unique=False)
    op.create_index('ix_memory_audit_logs_user_created', 'memory_audit_logs', ['user_id', 'created_at'], unique=False)

    op.create_table('memory_consumed_events',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('consumed_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_memory_consumed_events'))
    )
    op.create_table('memory_dead_events',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=True),
    sa.Column('raw_payload', LongText, nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_dead_events'))
    )
    op.create_index('ix_memory_dead_events_created', 'memory_dead_events', ['created_at'], unique=False)

    op.create_table('memory_items',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('assistant_id', sa.String(length=128), nullable=True),
    sa.Column('run_id', sa.String(length=128), nullable=True),
    sa.Column('memory_type', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('normalized_content', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('confidence', sa.Numeric(precision=5, scale=4, asdecimal=False), server_default='0.6', nullable=False),
    sa.Column('importance', sa.Numeric(precision=5, scale=4, asdecimal=False), server_default='0.5', nullable=False),
    sa.Column('sensitivity_level', sa.Integer(), server_default='0', nullable=False),
    sa.Column('source_message_id', sa.String(length=128), nullable=True),
    sa.Column('source_event_id', sa.String(length=128), nullable=True),
    sa.Column('is_explicit', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('ttl_at', UTCDateTime(), nullable=True),
    sa.Column('last_access_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('vector_status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('vector_id', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_items'))
    )
    op.create_index('ix_memory_items_source_message', 'memory_items', ['source_message_id'], unique=False)
    op.create_index('ix_memory_items_ttl', 'memory_items', ['ttl_at'], unique=False)
    op.create_index('ix_memory_items_user_asst_run_status', 'memory_items', ['user_id', 'assistant_id', 'run_id', 'status'], unique=False)
    op.create_index('ix_memory_items_user_conv_status', 'memory_items', ['user_id', 'conversation_id', 'status'], unique=False)
    op.create_index('ix_memory_items_user_status_type', 'memory_items', ['user_id', 'status', 'memory_type'], unique=False)
    op.create_index('ix_memory_items_user_type_hash', 'memory_items', ['user_id', 'memory_type', 'content_hash'], unique=False)
    op.create_index('ix_memory_items_vector_status', 'memory_items', ['vector_status', 'updated_at'], unique=False)

    op.create_table('memory_jobs',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('source_message_id', sa.String(length=128), nullable=True),
    sa.Column('source_event_id', sa.String(length=128), nullable=True),
    sa.Column('job_type', sa.String(length=32), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('payload_json', LongText, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('retry_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_retry', sa.Integer(), server_default='6', nullable=False),
    sa.Column('next_retry_at', UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=2000), nullable=True),
    sa.Column('locked_until', UTCDateTime(), nullable=True),
    sa.Column('locked_by', sa.String(length=128), nullable=True),
    sa.Column('memory_ids', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_jobs')),
    sa.UniqueConstraint('idempotency_key', name='uq_memory_jobs_idempotency_key')
    )
    op.create_index('ix_memory_jobs_source_event', 'memory_jobs', ['source_event_id'], unique=False)
    op.create_index('ix_memory_jobs_status_locked', 'memory_jobs', ['status', 'locked_until'], unique=False)
    op.create_index('ix_memory_jobs_status_next', 'memory_jobs', ['status', 'next_retry_at'], unique=False)
    op.create_index('ix_memory_jobs_user_created', 'memory_jobs', ['user_id', 'created_at'], unique=False)

    op.create_table('memory_outbox_messages',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('biz_type', sa.String(length=64), nullable=False),
    sa.Column('service_name', sa.String(length=64), server_default='', nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('message_key', sa.String(length=128), nullable=False),
    sa.Column('payload', LongText, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('retry_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_retry', sa.Integer(), server_default='20', nullable=False),
    sa.Column('next_retry_at', UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('published_at', UTCDateTime(), nullable=True),
    sa.Column('consumed_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_outbox_messages'))
    )
    op.create_index('ix_memory_outbox_messages_service_name', 'memory_outbox_messages', ['service_name'], unique=False)
    op.create_index('ix_memory_outbox_messages_status_next', 'memory_outbox_messages', ['status', 'next_retry_at', 'biz_type'], unique=False)

    op.create_table('memory_user_settings',
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('memory_enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('implicit_memory_enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('sensitive_memory_enabled', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_memory_user_settings'))
    )


def downgrade() -> None:
    op.drop_table('memory_user_settings')
    op.drop_index('ix_memory_outbox_messages_status_next', table_name='memory_outbox_messages')
    op.drop_index('ix_memory_outbox_messages_service_name', table_name='memory_outbox_messages')

    op.drop_table('memory_outbox_messages')
    op.drop_index('ix_memory_jobs_user_created', table_name='memory_jobs')
    op.drop_index('ix_memory_jobs_status_next', table_name='memory_jobs')
    op.drop_index('ix_memory_jobs_status_locked', table_name='memory_jobs')
    op.drop_index('ix_memory_jobs_source_event', table_name='memory_jobs')

    op.drop_table('memory_jobs')
    op.drop_index('ix_memory_items_vector_status', table_name='memory_items')
    op.drop_index('ix_memory_items_user_type_hash', table_name='memory_items')
    op.drop_index('ix_memory_items_user_status_type', table_name='memory_items')
    op.drop_index('ix_memory_items_user_conv_status', table_name='memory_items')
    op.drop_index('ix_memory_items_user_asst_run_status', table_name='memory_items')
    op.drop_index('ix_memory_items_ttl', table_name='memory_items')
    op.drop_index('ix_memory_items_source_message', table_name='memory_items')

    op.drop_table('memory_items')
    op.drop_index('ix_memory_dead_events_created', table_name='memory_dead_events')

    op.drop_table('memory_dead_events')
    op.drop_table('memory_consumed_events')
    op.drop_index('ix_memory_audit_logs_user_created', table_name='memory_audit_logs')
    op.drop_index('ix_memory_audit_logs_target', table_name='memory_audit_logs')

    op.drop_table('memory_audit_logs')
    op.drop_index('ix_idempotency_keys_expires', table_name='idempotency_keys')

    op.drop_table('idempotency_keys')
    op.drop_table('chat_messages')
    op.drop_table('agent_state_snapshots')
