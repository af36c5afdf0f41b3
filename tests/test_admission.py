"""Fresh participant identities: per address, per session, and what the moderator is shown."""

from __future__ import annotations

from dataclasses import replace

from companion.realtime.admission import Admission
from companion.settings import Settings


def admission(**limits: int) -> Admission:
    return Admission(replace(Settings(), **limits))


def test_a_session_limits_fresh_identities_from_every_address_together() -> None:
    """Past the session's burst, fresh identities are refused whatever address asks, with a
    wait; other sessions go on."""
    gate = admission(session_new_participant_burst=3, session_new_participants_per_minute=1)
    assert [gate.new_identity(f"10.0.0.{i}", "s") for i in range(4)] == [True] * 3 + [False]
    assert gate.identity_retry_after("10.0.0.3", "s") > 30
    assert gate.new_identity("10.0.0.3", "other")


def test_a_refusal_by_the_session_leaves_the_address_its_allowance() -> None:
    """An address whose fresh identity a full session refused has not spent its own."""
    gate = admission(
        new_participant_burst=2,
        new_participants_per_minute=1,
        session_new_participant_burst=1,
        session_new_participants_per_minute=1,
    )
    assert gate.new_identity("10.0.0.1", "s")
    assert not gate.new_identity("10.0.0.1", "s")
    assert gate.new_identity("10.0.0.1", "other")


def test_an_address_is_limited_across_sessions() -> None:
    """One address's allowance covers every session; past it, a wait is given."""
    gate = admission(new_participant_burst=2, new_participants_per_minute=60)
    assert gate.new_identity("10.0.0.1", "a") and gate.new_identity("10.0.0.1", "b")
    assert not gate.new_identity("10.0.0.1", "a")
    assert 0 < gate.identity_retry_after("10.0.0.1", "a") <= 1.0
    assert gate.new_identity("10.0.0.2", "a")


def test_the_moderator_sees_how_many_came_from_one_address() -> None:
    """Counts per session: fresh identities given, and the most from one address."""
    gate = admission()
    assert gate.identity_counts("s") == {"new": 0, "most_from_one_address": 0}
    for address in ["10.0.0.1"] * 5 + ["10.0.0.2"] * 2:
        assert gate.new_identity(address, "s")
    assert gate.new_identity("10.0.0.9", "other")
    assert gate.identity_counts("s") == {"new": 7, "most_from_one_address": 5}
