"""Memory items: types, hashing, manual create and edit, status (docs/behaviour.md, "Memory
items")."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memvault.domain.errors import Conflict, InvalidMemoryContent, InvalidMemoryType, InvalidValue
from memvault.domain.memory import (
    UNTITLED,
    ItemChanges,
    MemoryItem,
    MemoryStatus,
    MemoryType,
    Scope,
    VectorStatus,
    content_hash,
    manual_title,
)
from memvault.domain.secrets import SecretRefused

NOW = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


def expected_hash(memory_type: str, content: str) -> str:
    normalized = " ".join(content.split()).lower()
    return hashlib.sha256(f"{memory_type}::{normalized}".encode()).hexdigest()


def manual(**overrides: Any) -> MemoryItem:
    fields: dict[str, Any] = {
        "user_id": "u1",
        "memory_type": "preference",
        "content": "I like green tea",
        "now": NOW,
    }
    fields.update(overrides)
    return MemoryItem.create_manual(**fields)


def synced(**overrides: Any) -> MemoryItem:
    """A stored item whose vector is in the index."""
    item = manual(**overrides)
    item.id = 42
    item.vector_status = VectorStatus.SYNCED
    item.vector_id = "memory:42"
    return item


# --- memory types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("preference", MemoryType.PREFERENCE),
        ("  constraint\n", MemoryType.CONSTRAINT),
        ("FaCt", MemoryType.FACT),
    ],
)
def test_memory_type_is_parsed_trimmed_and_case_insensitive(raw: str, expected: MemoryType) -> None:
    assert MemoryType.parse(raw) is expected
    assert MemoryType.require(raw) is expected


@pytest.mark.parametrize("raw", ["", "   ", "todo_hint", "facts", "opinion"])
def test_an_unknown_memory_type_parses_to_none(raw: str) -> None:
    assert MemoryType.parse(raw) is None


@pytest.mark.parametrize("raw", ["", "todo_hint", "opinion"])
def test_requiring_an_unknown_memory_type_names_the_field(raw: str) -> None:
    with pytest.raises(InvalidMemoryType) as caught:
        MemoryType.require(raw)
    assert caught.value.field == "memory_type"
    assert caught.value.code == "MemoryInvalidType"


# --- hashing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("memory_type", "content"),
    [
        (MemoryType.PREFERENCE, "I like green tea"),
        (MemoryType.FACT, "  My   DOG\tis\nRex  "),
        (MemoryType.CONSTRAINT, "不吃\u3000香菜"),
    ],
)
def test_content_hash_is_sha256_of_type_double_colon_and_normalised_content(
    memory_type: MemoryType, content: str
) -> None:
    assert content_hash(memory_type, content) == expected_hash(memory_type.value, content)


def test_content_hash_ignores_case_and_whitespace_but_not_type() -> None:
    assert content_hash(MemoryType.FACT, "A  b") == content_hash(MemoryType.FACT, " a B ")
    assert content_hash(MemoryType.FACT, "a b") != content_hash(MemoryType.PREFERENCE, "a b")


def test_a_constructed_item_computes_its_normalised_content_and_hash() -> None:
    item = MemoryItem(
        user_id="u1", memory_type=MemoryType.FACT, title="t", content="  My  Dog\nis Rex"
    )
    assert item.normalized_content == "my dog is rex"
    assert item.content_hash == expected_hash("fact", "My Dog is Rex")


# --- manual create ------------------------------------------------------------------------


def test_a_manual_memory_is_active_explicit_and_confident_by_default() -> None:
    item = manual()
    assert item.status is MemoryStatus.ACTIVE
    assert item.vector_status is VectorStatus.PENDING
    assert item.vector_id is None
    assert item.confidence == 0.95
    assert item.importance == 0.90
    assert item.is_explicit is True
    assert item.sensitivity_level == 0
    assert item.ttl_at is None
    assert item.scope == Scope()
    assert item.created_at == NOW
    assert item.updated_at == NOW
    assert item.id is None


def test_a_manual_memory_keeps_what_the_user_gave() -> None:
    scope = Scope(conversation_id="c1", assistant_id="a1", run_id="r1")
    expires = NOW + timedelta(days=3)
    item = manual(
        memory_type=" Constraint ",
        scope=scope,
        confidence=0.0,
        importance=1.0,
        sensitivity_level=1,
        is_explicit=False,
        ttl_at=expires,
    )
    assert item.memory_type is MemoryType.CONSTRAINT
    assert item.scope == scope
    assert item.confidence == 0.0
    assert item.importance == 1.0
    assert item.sensitivity_level == 1
    assert item.is_explicit is False
    assert item.ttl_at == expires


def test_manual_content_is_trimmed_and_hashed() -> None:
    item = manual(memory_type="fact", content="  My dog\n is  Rex \n")
    assert item.content == "My dog\n is  Rex"
    assert item.normalized_content == "my dog is rex"
    assert item.content_hash == expected_hash("fact", "My dog is Rex")


def test_creating_a_memory_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidMemoryType) as caught:
        manual(memory_type="todo_hint")
    assert caught.value.field == "memory_type"


@pytest.mark.parametrize("content", ["", "   ", "\n\t\u3000"])
def test_creating_a_memory_without_content_is_refused(content: str) -> None:
    with pytest.raises(InvalidMemoryContent) as caught:
        manual(content=content)
    assert caught.value.field == "content"
    assert caught.value.code == "MemoryInvalidContent"


def test_manual_content_may_be_4000_characters_but_not_more() -> None:
    assert manual(content="茶" * 4000).content == "茶" * 4000
    assert manual(content=" " + "茶" * 4000 + " ").content == "茶" * 4000
    with pytest.raises(InvalidMemoryContent) as caught:
        manual(content="茶" * 4001)
    assert caught.value.field == "content"


def test_a_given_title_is_trimmed_and_whitespace_collapsed() -> None:
    assert manual(title="  Tea \n choice ").title == "Tea choice"


@pytest.mark.parametrize("title", [None, "", "   "])
def test_without_a_title_the_first_24_characters_of_the_content_are_used(
    title: str | None,
) -> None:
    content = "我最喜欢的饮料是绿茶，尤其是龙井和碧螺春，每天早上都要喝一杯"
    assert manual(title=title, content=content).title == content[:24]


def test_a_short_content_becomes_the_whole_title() -> None:
    assert manual(content="Likes  tea").title == "Likes tea"


def test_with_neither_title_nor_content_the_title_is_untitled() -> None:
    assert manual_title(None, "") == UNTITLED
    assert manual_title("  ", " \n ") == UNTITLED


def test_a_title_may_be_128_characters_but_not_more() -> None:
    assert manual(title="t" * 128).title == "t" * 128
    with pytest.raises(InvalidValue) as caught:
        manual(title="t" * 129)
    assert caught.value.field == "title"


@pytest.mark.parametrize("field", ["confidence", "importance"])
@pytest.mark.parametrize("value", [-0.01, 1.01, 5.0, float("nan")])
def test_a_score_outside_zero_to_one_is_refused(field: str, value: float) -> None:
    with pytest.raises(InvalidValue) as caught:
        manual(**{field: value})
    assert caught.value.field == field


@pytest.mark.parametrize("level", [-1, 3, 10])
def test_a_sensitivity_outside_zero_to_two_is_refused(level: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        manual(sensitivity_level=level)
    assert caught.value.field == "sensitivity_level"


@pytest.mark.parametrize(
    ("content", "level"),
    [("my bank card password is 4512", None), ("我的身份证号是 1101", None), ("plain", 2)],
)
def test_a_secret_is_never_stored(content: str, level: int | None) -> None:
    with pytest.raises(SecretRefused) as caught:
        manual(content=content, sensitivity_level=level)
    assert caught.value.field == "content"


def test_an_edit_cannot_put_a_secret_in() -> None:
    item = synced(title="Tea")
    with pytest.raises(SecretRefused):
        item.edit(ItemChanges(content="my PIN is 1234"), now=LATER)
    assert item.content != "my PIN is 1234"


# --- edit ---------------------------------------------------------------------------------


def test_editing_content_recomputes_the_hash_and_queues_a_vector_resync() -> None:
    item = synced(title="Tea")
    item.edit(ItemChanges(content="  I like  BLACK tea "), now=LATER)
    assert item.content == "I like  BLACK tea"
    assert item.normalized_content == "i like black tea"
    assert item.content_hash == expected_hash("preference", "I like black tea")
    assert item.title == "Tea"
    assert item.vector_status is VectorStatus.PENDING
    assert item.vector_id is None
    assert item.updated_at == LATER
    assert item.created_at == NOW


def test_editing_the_type_recomputes_the_hash() -> None:
    item = synced()
    item.edit(ItemChanges(memory_type=MemoryType.FACT), now=LATER)
    assert item.memory_type is MemoryType.FACT
    assert item.content_hash == expected_hash("fact", "I like green tea")


def test_editing_scores_flags_and_title_changes_only_those() -> None:
    item = synced()
    item.edit(
        ItemChanges(
            title=" New  title ",
            confidence=0.3,
            importance=0.0,
            sensitivity_level=1,
            is_explicit=False,
        ),
        now=LATER,
    )
    assert item.title == "New title"
    assert (item.confidence, item.importance) == (0.3, 0.0)
    assert item.sensitivity_level == 1
    assert item.is_explicit is False
    assert item.content == "I like green tea"
    assert item.status is MemoryStatus.ACTIVE


def test_an_empty_edit_still_queues_a_resync_and_bumps_updated_at() -> None:
    item = synced()
    item.edit(ItemChanges(), now=LATER)
    assert item.content == "I like green tea"
    assert item.vector_status is VectorStatus.PENDING
    assert item.updated_at == LATER


def test_a_blank_new_title_is_derived_from_the_final_content() -> None:
    item = synced(title="Tea")
    item.edit(ItemChanges(title="  ", content="Drinks coffee every single morning"), now=LATER)
    assert item.title == "Drinks coffee every sing"


@pytest.mark.parametrize("content", ["", "  \n "])
def test_editing_content_to_blank_is_refused(content: str) -> None:
    item = synced()
    with pytest.raises(InvalidMemoryContent):
        item.edit(ItemChanges(content=content), now=LATER)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (ItemChanges(confidence=1.5), "confidence"),
        (ItemChanges(importance=-0.1), "importance"),
        (ItemChanges(sensitivity_level=3), "sensitivity_level"),
        (ItemChanges(title="t" * 129), "title"),
        (ItemChanges(content="c" * 4001), "content"),
    ],
)
def test_an_edit_with_an_invalid_value_is_refused_naming_the_field(
    changes: ItemChanges, field: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        synced().edit(changes, now=LATER)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        ItemChanges(content="I like black tea", confidence=1.5),
        ItemChanges(memory_type=MemoryType.FACT, title="t" * 129),
        ItemChanges(title="New", content="New content", sensitivity_level=-1),
        ItemChanges(is_explicit=False, clear_ttl=True, importance=2.0),
    ],
)
def test_a_refused_edit_leaves_the_item_unchanged(changes: ItemChanges) -> None:
    item = synced(ttl_at=NOW + timedelta(days=1))
    before = item.snapshot()
    with pytest.raises(InvalidValue):
        item.edit(changes, now=LATER)
    assert item.snapshot() == before


def test_a_deleted_memory_cannot_be_edited() -> None:
    item = synced()
    item.delete(now=NOW)
    before = item.snapshot()
    with pytest.raises(Conflict):
        item.edit(ItemChanges(content="changed"), now=LATER)
    assert item.snapshot() == before


def test_an_archived_memory_can_still_be_edited() -> None:
    item = synced()
    item.archive(now=NOW)
    item.edit(ItemChanges(content="changed"), now=LATER)
    assert item.content == "changed"
    assert item.status is MemoryStatus.ARCHIVED


def test_editing_ttl_sets_it_and_clear_ttl_removes_it() -> None:
    expires = NOW + timedelta(days=30)
    item = synced()
    item.edit(ItemChanges(ttl_at=expires), now=LATER)
    assert item.ttl_at == expires
    item.edit(ItemChanges(), now=LATER)
    assert item.ttl_at == expires
    item.edit(ItemChanges(clear_ttl=True), now=LATER)
    assert item.ttl_at is None


def test_clear_ttl_wins_over_a_new_ttl_in_the_same_edit() -> None:
    item = synced(ttl_at=NOW + timedelta(days=1))
    item.edit(ItemChanges(ttl_at=NOW + timedelta(days=9), clear_ttl=True), now=LATER)
    assert item.ttl_at is None


# --- replace_text (decision UPDATE) --------------------------------------------------------


def test_replacing_text_collapses_whitespace_and_takes_the_new_scores() -> None:
    item = synced(confidence=0.9, importance=0.9)
    item.replace_text(
        title=" Tea \n habits ",
        content="  Likes green tea,\n\n also  oolong ",
        confidence=0.7,
        importance=0.4,
        now=LATER,
    )
    assert item.title == "Tea habits"
    assert item.content == "Likes green tea, also oolong"
    assert item.content_hash == expected_hash("preference", "Likes green tea, also oolong")
    assert (item.confidence, item.importance) == (0.7, 0.4)
    assert item.vector_status is VectorStatus.PENDING
    assert item.vector_id is None
    assert item.updated_at == LATER


def test_replacing_text_with_a_blank_title_keeps_the_old_title() -> None:
    item = synced(title="Tea")
    item.replace_text(title="  ", content="Likes tea", confidence=0.5, importance=0.5, now=LATER)
    assert item.title == "Tea"


def test_replacing_text_clamps_scores_and_cuts_extracted_lengths() -> None:
    item = synced()
    item.replace_text(title="t" * 70, content="c" * 1200, confidence=3, importance=-1, now=LATER)
    assert item.title == "t" * 64
    assert item.content == "c" * 1000
    assert (item.confidence, item.importance) == (1.0, 0.0)


@pytest.mark.parametrize("leave_active", ["delete", "archive"])
def test_only_an_active_memory_can_have_its_text_replaced(leave_active: str) -> None:
    item = synced()
    getattr(item, leave_active)(now=NOW)
    with pytest.raises(Conflict):
        item.replace_text(title="t", content="c", confidence=0.5, importance=0.5, now=LATER)
    assert item.content == "I like green tea"


# --- status transitions -------------------------------------------------------------------


@pytest.mark.parametrize("start", ["active", "archived"])
def test_deleting_a_memory_marks_it_deleted_and_queues_a_vector_delete(start: str) -> None:
    item = synced()
    if start == "archived":
        item.archive(now=NOW)
    assert item.delete(now=LATER) is True
    assert item.status is MemoryStatus.DELETED
    assert item.vector_status is VectorStatus.PENDING
    assert item.vector_id is None
    assert item.updated_at == LATER


def test_deleting_a_deleted_memory_changes_nothing() -> None:
    item = synced()
    item.delete(now=NOW)
    before = item.snapshot()
    assert item.delete(now=LATER) is False
    assert item.snapshot() == before


def test_archiving_an_active_memory_marks_it_archived() -> None:
    item = synced()
    assert item.archive(now=LATER) is True
    assert item.status is MemoryStatus.ARCHIVED
    assert item.vector_status is VectorStatus.PENDING
    assert item.vector_id is None
    assert item.updated_at == LATER


@pytest.mark.parametrize("leave_active", ["delete", "archive"])
def test_archiving_a_memory_that_is_not_active_changes_nothing(leave_active: str) -> None:
    item = synced()
    getattr(item, leave_active)(now=NOW)
    before = item.snapshot()
    assert item.archive(now=LATER) is False
    assert item.snapshot() == before


@pytest.mark.parametrize("leave_active", ["delete", "archive"])
def test_restoring_a_deleted_or_archived_memory_makes_it_active_again(leave_active: str) -> None:
    item = synced()
    getattr(item, leave_active)(now=NOW)
    item.vector_status = VectorStatus.DELETED
    assert item.restore(now=LATER) is True
    assert item.status is MemoryStatus.ACTIVE
    assert item.vector_status is VectorStatus.PENDING
    assert item.updated_at == LATER


def test_restoring_an_active_memory_changes_nothing() -> None:
    item = synced()
    before = item.snapshot()
    assert item.restore(now=LATER) is False
    assert item.snapshot() == before


# --- visibility ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl_at", "expired"),
    [
        (None, False),
        (NOW + timedelta(seconds=1), False),
        (NOW, True),
        (NOW - timedelta(days=1), True),
    ],
)
def test_a_memory_expires_when_its_ttl_is_reached(ttl_at: datetime | None, expired: bool) -> None:
    item = manual(ttl_at=ttl_at)
    assert item.is_expired(NOW) is expired
    assert item.is_visible(NOW) is not expired


@pytest.mark.parametrize("leave_active", ["delete", "archive"])
def test_only_active_memories_are_visible(leave_active: str) -> None:
    item = manual()
    getattr(item, leave_active)(now=NOW)
    assert item.is_visible(NOW) is False


def test_expiry_does_not_change_the_status() -> None:
    item = manual(ttl_at=NOW)
    assert item.is_expired(LATER)
    assert item.status is MemoryStatus.ACTIVE


# --- copy and snapshot --------------------------------------------------------------------


def test_a_copy_is_independent_of_the_original() -> None:
    item = synced()
    twin = item.copy()
    twin.edit(ItemChanges(content="changed"), now=LATER)
    assert item.content == "I like green tea"
    assert item.vector_status is VectorStatus.SYNCED
    assert twin.snapshot() != item.snapshot()


def test_a_snapshot_lists_every_column_with_iso_times() -> None:
    item = synced(
        scope=Scope(conversation_id="c1", assistant_id="a1", run_id="r1"),
        ttl_at=NOW + timedelta(days=1),
        title="Tea",
    )
    item.source_message_id = "m1"
    item.source_event_id = "e1"
    assert item.snapshot() == {
        "id": 42,
        "user_id": "u1",
        "conversation_id": "c1",
        "assistant_id": "a1",
        "run_id": "r1",
        "memory_type": "preference",
        "title": "Tea",
        "content": "I like green tea",
        "normalized_content": "i like green tea",
        "content_hash": expected_hash("preference", "I like green tea"),
        "confidence": 0.95,
        "importance": 0.90,
        "sensitivity_level": 0,
        "source_message_id": "m1",
        "source_event_id": "e1",
        "is_explicit": True,
        "status": "active",
        "ttl_at": "2025-01-02T08:00:00+00:00",
        "last_access_at": None,
        "created_at": "2025-01-01T08:00:00+00:00",
        "updated_at": "2025-01-01T08:00:00+00:00",
        "vector_status": "synced",
        "vector_id": "memory:42",
        "metadata": {},
        "occurred_at": "2025-01-01T08:00:00+00:00",
    }


def test_a_merge_with_blank_content_is_refused() -> None:
    item = manual()
    with pytest.raises(InvalidMemoryContent):
        item.replace_text(title="t", content="  \n ", confidence=0.9, importance=0.9, now=NOW)
