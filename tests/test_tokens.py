"""Tests of signed participant tokens: round trip, forgery, other sessions, expiry, junk."""

from __future__ import annotations

import time

import pytest

from companion.services.tokens import TokenError, TokenSigner

SESSION = "ledarskap-2020-05-05"


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(secret="test-secret-key", max_age_seconds=3600)


def issued_at(token: str) -> int:
    return int(token.split(".")[2])


def test_issue_then_verify_returns_the_participant(signer: TokenSigner) -> None:
    """A freshly issued token verifies to the participant id it was issued for."""
    participant, token = signer.issue(SESSION)
    assert len(participant) == 16
    assert token.startswith(f"{SESSION}.{participant}.")
    assert signer.verify(token, SESSION) == participant


def test_issue_keeps_a_given_participant_id(signer: TokenSigner) -> None:
    """Re-issuing for a known participant keeps the id, so votes stay theirs."""
    participant, token = signer.issue(SESSION, "abc123")
    assert participant == "abc123"
    assert signer.verify(token, SESSION) == "abc123"


def test_new_participants_get_different_ids(signer: TokenSigner) -> None:
    """Two issues without an id give two different participants."""
    assert signer.issue(SESSION)[0] != signer.issue(SESSION)[0]


def test_tampered_mac_is_refused(signer: TokenSigner) -> None:
    """Changing one character of the signature makes the token invalid."""
    _, token = signer.issue(SESSION)
    last = "A" if token[-1] != "A" else "B"
    with pytest.raises(TokenError) as exc_info:
        signer.verify(token[:-1] + last, SESSION)
    assert exc_info.value.code == "invalid_token"


def test_tampered_participant_is_refused(signer: TokenSigner) -> None:
    """Swapping in another participant id (identity theft) breaks the signature."""
    _, token = signer.issue(SESSION, "alice")
    forged = token.replace(".alice.", ".mallory.")
    with pytest.raises(TokenError) as exc_info:
        signer.verify(forged, SESSION)
    assert exc_info.value.code == "invalid_token"


def test_token_signed_with_another_secret_is_refused(signer: TokenSigner) -> None:
    """A token from a server with a different key does not verify."""
    _, token = TokenSigner(secret="other-key").issue(SESSION)
    with pytest.raises(TokenError) as exc_info:
        signer.verify(token, SESSION)
    assert exc_info.value.code == "invalid_token"


def test_token_for_another_session_is_refused(signer: TokenSigner) -> None:
    """A valid token cannot be used to join a different session."""
    _, token = signer.issue("ledarskap-2020-05-15")
    with pytest.raises(TokenError) as exc_info:
        signer.verify(token, SESSION)
    assert exc_info.value.code == "invalid_token"


def test_token_expires_after_max_age(signer: TokenSigner) -> None:
    """A token is valid up to max_age seconds after issue and expired one second later."""
    participant, token = signer.issue(SESSION)
    issued = issued_at(token)
    assert signer.verify(token, SESSION, now=issued + 3600) == participant
    with pytest.raises(TokenError) as exc_info:
        signer.verify(token, SESSION, now=issued + 3601)
    assert exc_info.value.code == "token_expired"


def test_issue_uses_the_current_time(signer: TokenSigner) -> None:
    """The issue time inside a token is the wall-clock time of issue."""
    before = int(time.time())
    _, token = signer.issue(SESSION)
    assert before <= issued_at(token) <= int(time.time())


@pytest.mark.parametrize(
    "token",
    [
        None,
        12345,
        b"a.b.c.d",
        "",
        "no-dots-at-all",
        "a.b.c",
        "a.b.c.d.e",
        "....",
        "x" * 301,
        f"{SESSION}.p.1.{'m' * 290}",
    ],
)
def test_malformed_tokens_are_refused(signer: TokenSigner, token: object) -> None:
    """Non-strings, wrong shapes and oversized tokens give invalid_token, not a crash."""
    with pytest.raises(TokenError) as exc_info:
        signer.verify(token, SESSION)
    assert exc_info.value.code == "invalid_token"


@pytest.mark.parametrize("token", ["a.b.c.é", f"{SESSION}.p.1.ünïcødé"])
def test_non_ascii_token_is_refused_as_invalid(signer: TokenSigner, token: str) -> None:
    """A token with non-ASCII characters is answered with invalid_token like any forgery."""
    with pytest.raises(TokenError) as exc_info:
        signer.verify(token, SESSION)
    assert exc_info.value.code == "invalid_token"
