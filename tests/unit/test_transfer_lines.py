"""The export line format: whatever memory is encoded decodes to the same memory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memvault.application.transfer.lines import BadLine, ExportedMemory, decode, encode
from memvault.domain.memory import MemoryItem, MemoryStatus, MemoryType, Scope
from memvault.domain.secrets import holds_secret

FIELDS = [name for name in MemoryItem.__dataclass_fields__ if name not in ("vector_status",)]
ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=128).filter(
    str.strip
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
scores = st.floats(min_value=0, max_value=1, allow_nan=False)
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
values = (
    st.text(max_size=30)
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
)


@st.composite
def items(draw: st.DrawFn) -> MemoryItem:
    created = draw(times)
    return MemoryItem(
        id=draw(st.integers(min_value=1, max_value=2**63 - 1)),
        user_id=draw(ids),
        scope=Scope(
            conversation_id=draw(st.none() | ids),
            assistant_id=draw(st.none() | ids),
            run_id=draw(st.none() | ids),
        ),
        memory_type=draw(st.sampled_from(MemoryType)),
        title=draw(ids.map(lambda text: text[:128])),
        content=draw(ids.filter(lambda text: not holds_secret(text))),
        confidence=draw(scores),
        importance=draw(scores),
        sensitivity_level=draw(st.integers(0, 1)),  # a secret (2) is never imported
        source_message_id=draw(st.none() | ids),
        source_event_id=draw(st.none() | ids),
        is_explicit=draw(st.booleans()),
        status=draw(st.sampled_from(MemoryStatus)),
        ttl_at=draw(st.none() | times),
        last_access_at=draw(st.none() | times),
        created_at=created,
        updated_at=created + timedelta(seconds=draw(st.integers(0, 10**6))),
        occurred_at=draw(st.none() | times),
        metadata=draw(st.dictionaries(keys, values, max_size=5)),
    )


@given(items())
def test_every_memory_survives_encoding_and_decoding(item: MemoryItem) -> None:
    line = encode(ExportedMemory(item=item))
    assert "\n" not in line
    decoded = decode(line).item
    assert {name: getattr(decoded, name) for name in FIELDS} == {
        name: getattr(item, name) for name in FIELDS
    }


def test_an_import_line_holding_a_secret_is_refused() -> None:
    item = MemoryItem(
        id=1,
        user_id="u",
        memory_type=MemoryType.FACT,
        title="card",
        content="my bank card password is 4512",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        updated_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(BadLine) as caught:
        decode(encode(ExportedMemory(item=item)))
    assert caught.value.field == "content"


def test_a_version_1_line_still_reads_as_an_item_without_metadata() -> None:
    created = datetime(2024, 3, 5, tzinfo=UTC)
    item = MemoryItem(
        id=1,
        user_id="u1",
        memory_type=MemoryType.FACT,
        title="t",
        content="I live in Lyon",
        created_at=created,
        updated_at=created,
    )
    line = json.loads(encode(ExportedMemory(item=item)))
    line["version"] = 1
    del line["metadata"], line["occurred_at"]
    decoded = decode(json.dumps(line)).item
    assert (decoded.metadata, decoded.occurred_at, decoded.said_at) == ({}, None, created)
    line["metadata"] = {"a": 1}
    with pytest.raises(BadLine, match="metadata"):
        decode(json.dumps(line))


def test_version_2_carries_metadata_and_occurred_at_and_checks_them() -> None:
    created = datetime(2024, 3, 5, tzinfo=UTC)
    item = MemoryItem(
        id=1,
        user_id="u1",
        memory_type=MemoryType.FACT,
        title="t",
        content="I live in Lyon",
        created_at=created,
        updated_at=created,
        occurred_at=created - timedelta(days=400),
        metadata={"source": "crm", "n": 2, "ok": True},
    )
    line = json.loads(encode(ExportedMemory(item=item)))
    assert line["version"] == 2
    assert line["metadata"] == {"source": "crm", "n": 2, "ok": True}
    assert line["occurred_at"] == "2023-01-30T00:00:00+00:00"
    line["metadata"] = {"nested": {"a": 1}}
    with pytest.raises(BadLine):
        decode(json.dumps(line))
