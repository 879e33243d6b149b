"""Ids carried by events reach the database exactly as the producer wrote them.

Trimming ``"bob "`` to ``"bob"`` in the consumer would write one user's memories and
snapshots into another's account; trimming a conversation, message or event id would
merge two different ones.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from memvault.application.events import parse_envelope
from memvault.application.outbox.consume import snapshot_of
from memvault.domain.errors import InvalidValue
from memvault.domain.jobs import ExtractPayload, extract_job_key

NOW = datetime(2026, 11, 1, tzinfo=UTC)
PADDED = ["bob ", " bob", "bob\t", "bob\u00a0"]


def payload(**fields: str) -> dict[str, object]:
    body: dict[str, object] = {
        "user_id": "bob",
        "conversation_id": "c1",
        "source_role": "user",
        "source_text": "remember I like tea",
        "occurred_at": NOW.isoformat(),
        "idempotency_key": "memory_extract_abc",
    }
    body.update(fields)
    return body


@pytest.mark.parametrize("user_id", PADDED)
def test_an_extract_payload_keeps_the_user_id_byte_for_byte(user_id: str):
    parsed = ExtractPayload.from_mapping(payload(user_id=user_id))
    assert parsed.user_id == user_id


def test_an_extract_payload_keeps_every_id_byte_for_byte():
    ids = {
        "conversation_id": " c1 ",
        "idempotency_key": "memory_extract_abc ",
        "assistant_id": "a1 ",
        "run_id": " r1",
        "source_message_id": "m1 ",
    }
    parsed = ExtractPayload.from_mapping(payload(**ids))
    assert {name: getattr(parsed, name) for name in ids} == ids


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
def test_an_extract_payload_refuses_a_blank_user_or_conversation(blank: str):
    for field in ("user_id", "conversation_id"):
        with pytest.raises(InvalidValue):
            ExtractPayload.from_mapping(payload(**{field: blank}))


@pytest.mark.parametrize("user_id", PADDED)
def test_a_snapshot_event_keeps_user_and_conversation_byte_for_byte(user_id: str):
    snapshot = snapshot_of(
        {"user_id": user_id, "conversation_id": "c1 ", "phase": " done ", "snapshot_json": {}},
        NOW,
    )
    assert (snapshot.user_id, snapshot.conversation_id, snapshot.phase) == (user_id, "c1 ", "done")


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_snapshot_event_refuses_a_blank_user(blank: str):
    with pytest.raises(InvalidValue):
        snapshot_of({"user_id": blank, "conversation_id": "c1", "phase": "p"}, NOW)


def test_an_envelope_keeps_its_event_id_byte_for_byte():
    raw = json.dumps(
        {"event_type": "memory.extract.requested", "event_id": "e1 ", "payload": payload()}
    )
    envelope = parse_envelope(raw.encode())
    assert envelope is not None
    assert envelope.event_id == "e1 "


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"conversation_id": "c1"}, {"conversation_id": "c1 "}),
        ({"message_id": "m1"}, {"message_id": " m1"}),
        ({"user_id": "bob"}, {"user_id": "bob "}),
        ({"user_id": "bob"}, {"user_id": "BOB"}),
    ],
)
def test_job_keys_of_ids_that_differ_only_by_spaces_or_case_differ(
    left: dict[str, str], right: dict[str, str]
):
    base = {"user_id": "bob", "conversation_id": "c1", "text": "tea", "message_id": "m1"}
    assert extract_job_key(**{**base, **left}) != extract_job_key(**{**base, **right})
