"""A backend whose extra is not installed is named, never a traceback (adapters/settings.py)."""

from __future__ import annotations

import pytest

from memvault.adapters import settings as settings_module
from memvault.adapters.settings import Settings, installed, missing_extra


def test_a_dotted_module_whose_parent_is_missing_is_not_installed():
    assert installed("json")
    assert not installed("no_such_memvault_package")
    assert not installed("no_such_memvault_package.sdk")


def test_the_embedded_default_needs_no_extra():
    assert missing_extra(Settings.model_validate({})) is None


def test_a_chosen_backend_without_its_package_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(
        settings_module._BACKEND_EXTRAS, "redis", ("redis", "no_such_memvault_package.redis")
    )
    chosen = Settings.model_validate({"event_bus": "redis", "broker": "redis"})
    assert "pip install 'memvault[redis]'" in (missing_extra(chosen) or "")
