from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memvault.domain.api_keys import (
    KEY_PREFIX,
    KeyScope,
    ScopeKind,
    hash_secret,
    looks_like_key,
    mint,
)
from memvault.domain.errors import InvalidValue

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind", "user"),
    [
        ("service", ScopeKind.SERVICE, None),
        ("admin", ScopeKind.ADMIN, None),
        ("user:Alice 1", ScopeKind.USER, "Alice 1"),
    ],
)
def test_scopes_parse_and_print_back(text: str, kind: ScopeKind, user: str | None):
    scope = KeyScope.parse(text)
    assert (scope.kind, scope.user_id) == (kind, user)
    assert str(scope) == text


def test_a_user_scope_keeps_the_id_byte_for_byte():
    assert KeyScope.parse("user: Bob ").user_id == " Bob "
    assert str(KeyScope.parse("user: Bob ")) == "user: Bob "


@pytest.mark.parametrize(
    "text", ["", "user", "user:", "user:   ", "user:" + "x" * 129, "root", "Service"]
)
def test_other_scopes_are_refused(text: str):
    with pytest.raises(InvalidValue):
        KeyScope.parse(text)


def test_a_minted_key_keeps_only_a_hash_and_a_short_prefix():
    new = mint(" ci-backend ", KeyScope.parse("service"), now=NOW, expires_in=timedelta(days=90))
    assert looks_like_key(new.secret)
    assert new.secret.startswith(KEY_PREFIX)
    assert len(new.secret) > 40
    assert new.key.secret_hash == hash_secret(new.secret) != new.secret
    assert new.secret.startswith(new.key.prefix)
    assert len(new.key.prefix) < 16
    assert new.key.name == "ci-backend"
    assert new.key.usable(NOW + timedelta(days=89))
    assert not new.key.usable(NOW + timedelta(days=90))


def test_two_keys_never_share_a_secret():
    scope = KeyScope.parse("admin")
    assert (
        mint("a", scope, now=NOW, expires_in=None).secret
        != mint("a", scope, now=NOW, expires_in=None).secret
    )


@pytest.mark.parametrize(("name", "expires"), [("", None), ("x" * 65, None), ("ok", timedelta(0))])
def test_a_key_needs_a_name_and_a_positive_lifetime(name: str, expires: timedelta | None):
    with pytest.raises(InvalidValue):
        mint(name, KeyScope.parse("service"), now=NOW, expires_in=expires)
