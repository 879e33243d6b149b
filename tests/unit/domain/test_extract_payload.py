"""The extraction payload carries the API key that sent the turn to the job's audit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from memvault.domain.audit import Operator, OperatorType
from memvault.domain.errors import InvalidValue
from memvault.domain.jobs import ExtractPayload

BASE = ExtractPayload(
    user_id="alice",
    conversation_id="c1",
    source_role="user",
    source_text="I live in Oslo",
    occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
    idempotency_key="memory_extract_x",
    trace_id="req-1",
)


def test_a_keys_name_travels_with_the_payload_and_is_the_auditor():
    key = Operator(type=OperatorType.SERVICE, id="crm-backend")
    received = ExtractPayload.from_json(replace(BASE, operator=key).to_json())
    assert received.operator == key
    assert received.auditor == key


def test_without_a_key_the_system_is_audited_under_the_request_id():
    received = ExtractPayload.from_json(BASE.to_json())
    assert received.operator is None
    assert received.auditor == Operator(type=OperatorType.SYSTEM, id="req-1")


@pytest.mark.parametrize(
    "fields",
    [
        {"operator_type": "service"},
        {"operator_id": "crm"},
        {"operator_type": "system", "operator_id": "crm"},
        {"operator_type": "root", "operator_id": "crm"},
        {"operator_type": "service", "operator_id": " "},
    ],
)
def test_an_operator_is_named_by_a_key_kind_and_a_name_together(fields: dict[str, str]):
    with pytest.raises(InvalidValue):
        ExtractPayload.from_mapping({**BASE.to_mapping(), **fields})
