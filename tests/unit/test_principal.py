"""The token's ``sub`` is the user id byte for byte: no trimming, case-folding or NFC."""

from __future__ import annotations

import unicodedata

import pytest

from memvault.entrypoints.http.auth import issue_token, principal_from_token

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
