"""Per-user memory settings (docs/behaviour.md, "Settings")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memvault.domain.settings import MemorySettings


def test_a_user_without_settings_has_memory_and_implicit_memory_on_and_sensitive_off() -> None:
    settings = MemorySettings(user_id="u1")
    assert settings.memory_enabled is True
    assert settings.implicit_memory_enabled is True
    assert settings.sensitive_memory_enabled is False
    assert settings.updated_at is None


@pytest.mark.parametrize(
    ("is_explicit", "sensitivity", "allowed"),
    [(True, 0, True), (False, 0, True), (True, 1, True), (False, 1, False), (True, 2, False)],
)
def test_default_settings_allow_non_sensitive_and_explicitly_requested_memories(
    is_explicit: bool, sensitivity: int, allowed: bool
) -> None:
    settings = MemorySettings(user_id="u1")
    assert settings.allows(is_explicit=is_explicit, sensitivity=sensitivity) is allowed


@pytest.mark.parametrize("is_explicit", [True, False])
@pytest.mark.parametrize("sensitivity", [0, 1, 2])
def test_disabled_memory_allows_nothing(is_explicit: bool, sensitivity: int) -> None:
    settings = MemorySettings(user_id="u1", memory_enabled=False, sensitive_memory_enabled=True)
    assert settings.allows(is_explicit=is_explicit, sensitivity=sensitivity) is False


@pytest.mark.parametrize(("is_explicit", "allowed"), [(True, True), (False, False)])
def test_disabled_implicit_memory_allows_only_explicit_memories(
    is_explicit: bool, allowed: bool
) -> None:
    settings = MemorySettings(user_id="u1", implicit_memory_enabled=False)
    assert settings.allows(is_explicit=is_explicit, sensitivity=0) is allowed


@pytest.mark.parametrize("sensitivity", [0, 1])
def test_enabled_sensitive_memory_allows_every_level_below_secrets(sensitivity: int) -> None:
    settings = MemorySettings(user_id="u1", sensitive_memory_enabled=True)
    assert settings.allows(is_explicit=False, sensitivity=sensitivity) is True


@pytest.mark.parametrize("is_explicit", [True, False])
def test_a_secret_is_never_allowed(is_explicit: bool) -> None:
    settings = MemorySettings(user_id="u1", sensitive_memory_enabled=True)
    assert settings.allows(is_explicit=is_explicit, sensitivity=2) is False
    assert settings.refusal(is_explicit=is_explicit, sensitivity=2) == "skipped: secret"


def test_settings_snapshot_lists_the_three_switches_and_an_iso_time() -> None:
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    settings = MemorySettings(user_id="u1", memory_enabled=False, updated_at=when)
    assert settings.snapshot() == {
        "user_id": "u1",
        "memory_enabled": False,
        "implicit_memory_enabled": True,
        "sensitive_memory_enabled": False,
        "updated_at": "2025-03-01T12:00:00+00:00",
    }


def test_settings_snapshot_of_unsaved_settings_has_no_time() -> None:
    assert MemorySettings(user_id="u1").snapshot()["updated_at"] is None
