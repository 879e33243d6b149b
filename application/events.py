"""Event wire formats: the outbox wrapper and the bus envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from memvault.domain.outbox import EventType, OutboxMessage

SERVICE_NAME = "memory"
OUR_SERVICES = frozenset({SERVICE_NAME, "memvault"})
DEFAULT_VERSION = "v1"
HANDLED = frozenset(EventType)


class PoisonEvent(ValueError):
    """An event that can never be handled; it is recorded as dead with this reason."""


def wrapper(
    *, event_type: EventType, payload: dict[str, Any], aggregate_id: str, event_id: str | None
) -> str:
    """The outbox row's ``payload`` column: the event before it has an outbox id."""
    body: dict[str, Any] = {
        "event_type": event_type.value,
        "event_version": DEFAULT_VERSION,
        "aggregate_id": aggregate_id,
        "payload": payload,
    }
    if event_id:
        body["event_id"] = event_id
    return json.dumps(body, ensure_ascii=False)


def envelope(row: OutboxMessage) -> bytes:
    """What the relay publishes for an outbox row; ``event_id`` defaults to the row id."""
    try:
        wrapped = json.loads(row.payload)
        event_type = wrapped["event_type"]
        payload = wrapped["payload"]
    except (ValueError, KeyError, TypeError) as error:
        raise PoisonEvent(f"outbox row {row.id} holds no valid event wrapper: {error}") from error
    if not event_type or payload in (None, ""):
        raise PoisonEvent(f"outbox row {row.id} has no event type or no payload")
    body = {
        "outbox_id": row.id,
        "event_id": wrapped.get("event_id") or str(row.id),
        "event_type": event_type,
        "event_version": wrapped.get("event_version") or DEFAULT_VERSION,
        "service_name": row.service_name or SERVICE_NAME,
        "aggregate_id": wrapped.get("aggregate_id") or row.message_key,
        "payload": payload,
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    event_id: str
    event_type: EventType
    payload: dict[str, Any]
    outbox_id: int | None = None


def parse_envelope(raw: bytes) -> Envelope | None:
    """The event, ``None`` when it belongs to another service, or :class:`PoisonEvent`."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise PoisonEvent(f"not JSON: {error}") from error
    if not isinstance(body, dict):
        raise PoisonEvent("the envelope is not a JSON object")
    event_type = body.get("event_type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise PoisonEvent("the envelope has no event_type")
    service = body.get("service_name")
    if isinstance(service, str) and service and service not in OUR_SERVICES:
        return None
    if event_type not in HANDLED:
        raise PoisonEvent(f"unknown event type {event_type!r}")
    payload = body.get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError as error:
            raise PoisonEvent(f"the payload is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise PoisonEvent("the payload is not a JSON object")
    outbox_id = body.get("outbox_id")
    if not isinstance(outbox_id, int) or isinstance(outbox_id, bool) or outbox_id <= 0:
        outbox_id = None
    event_id = body.get("event_id") or (str(outbox_id) if outbox_id else None)
    if not isinstance(event_id, str | int) or not str(event_id).strip():
        raise PoisonEvent("the envelope has neither event_id nor outbox_id")
    if len(str(event_id)) > 128:
        raise PoisonEvent("event_id is longer than 128 characters")
    return Envelope(
        event_id=str(event_id),  # byte for byte: "e1 " and "e1" are two events
        event_type=EventType(event_type),
        payload=payload,
        outbox_id=outbox_id,
    )
