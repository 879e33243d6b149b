"""The token's ``sub`` is the user id byte for byte: no trimming, case-folding or NFC."""

from __future__ import annotations

import time
import unicodedata
from datetime import timedelta

import pytest
from litestar.exceptions import NotAuthorizedException

from memvault.entrypoints.http import auth
from memvault.entrypoints.http.auth import (
    Principal,
    VerifiedTokens,
    issue_token,
    principal_from_token,
)

SECRET = "unit-secret-" + "y" * 40


@pytest.mark.parametrize(
    "sub",
    ["alice", "ALICE", "alice ", " alice", "caf\u00e9", "cafe\u0301", "bob\u00a0", "\u00c5"],
)
def test_the_user_id_is_the_sub_exactly_as_signed(sub: str):
    principal = principal_from_token(issue_token(SECRET, sub), SECRET)
    assert principal.user_id == sub
    assert principal.user_id.encode() == sub.encode()


def test_nfc_and_nfd_spellings_are_two_users():
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    users = {principal_from_token(issue_token(SECRET, s), SECRET).user_id for s in (nfc, nfd)}
    assert users == {nfc, nfd}
    assert len(users) == 2


def test_a_kept_token_is_verified_again_once_it_expires(monkeypatch: pytest.MonkeyPatch):
    now = [time.time()]
    tokens = VerifiedTokens(SECRET, clock=lambda: now[0])
    token = issue_token(SECRET, "alice", ttl=timedelta(minutes=1))
    assert tokens.principal(token).user_id == "alice"
    monkeypatch.setattr(auth, "principal_from_token", refuse)
    assert tokens.principal(token).user_id == "alice"  # kept: not verified again
    now[0] += 120
    with pytest.raises(NotAuthorizedException, match="expired"):
        tokens.principal(token)


def refuse(token: str, secret: str) -> Principal:
    raise NotAuthorizedException("the token has expired")


def test_a_refused_token_is_refused_every_time():
    tokens = VerifiedTokens(SECRET)
    forged = issue_token("another-secret-" + "z" * 40, "alice")
    for _ in range(2):
        with pytest.raises(NotAuthorizedException):
            tokens.principal(forged)


def test_the_kept_tokens_are_bounded():
    tokens = VerifiedTokens(SECRET, size=2)
    for user in ("a", "b", "c"):
        assert tokens.principal(issue_token(SECRET, user)).user_id == user
    assert len(tokens._kept) == 2
