"""Who may publish and watch a session's stream (companion/services/stream_access.py),
against a real service on SQLite with the demo programme."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from companion.backends.memory import MemoryBus
from companion.backends.sqlite import SQLiteStore
from companion.cli import demo_programme_text
from companion.domain.errors import DomainError, NotFound
from companion.programme_file import parse_programme
from companion.services.sessions import SessionService
from companion.services.stream_access import (
    MissingCredentials,
    StreamAccess,
    session_stream_key,
    stream_key,
)
from companion.services.tokens import TokenSigner

SID = "ledarskap-2020-05-05"
OTHER = "ledarskap-2020-05-15"
SECRET = "unit-test-secret"


@pytest.fixture
async def access(tmp_path: Path) -> AsyncIterator[StreamAccess]:
    store = SQLiteStore(tmp_path / "companion.db")
    await store.open()
    service = SessionService(store, MemoryBus())
    await service.import_programme(parse_programme(demo_programme_text(), "demo/programme.yaml"))
    await service.load()
    yield StreamAccess(service, SECRET, TokenSigner(SECRET))
    await store.close()


def refusal(call: object, *args: object) -> DomainError:
    """The DomainError a check raises."""
    with pytest.raises(DomainError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


async def test_publishers_need_this_sessions_stream_key_or_moderator_token(
    access: StreamAccess,
) -> None:
    moderator = access.service.access[SID].moderator_token
    assert access.check_publisher(SID, access.stream_key(SID)) == "whip"
    assert access.check_publisher(SID, moderator) == "browser"
    assert isinstance(refusal(access.check_publisher, SID, None), MissingCredentials)
    for wrong in (access.stream_key(OTHER), access.service.access[OTHER].moderator_token, "x"):
        assert refusal(access.check_publisher, SID, wrong).code == "forbidden"
    assert access.stream_key(SID) == session_stream_key(SECRET, SID, 0) == stream_key(SECRET, SID)
    assert access.stream_key(SID) != access.stream_key(OTHER)


async def test_viewers_need_a_participant_token_of_this_very_session(access: StreamAccess) -> None:
    _, mine = access.signer.issue(SID)
    _, theirs = access.signer.issue(OTHER)
    assert access.check_viewer(SID, mine) != "moderator"
    assert access.check_viewer(SID, access.service.access[SID].moderator_token) == "moderator"
    assert isinstance(refusal(access.check_viewer, SID, ""), MissingCredentials)
    assert refusal(access.check_viewer, SID, theirs).code != "unauthorized"
    assert refusal(access.check_viewer, SID, mine[:-2] + "xx").code != "unauthorized"


async def test_the_console_check_is_the_services_moderator_check(access: StreamAccess) -> None:
    access.check_moderator(SID, access.service.access[SID].moderator_token)
    assert isinstance(refusal(access.check_moderator, SID, None), MissingCredentials)
    assert refusal(access.check_moderator, SID, access.stream_key(SID)).code == "forbidden"
    assert access.resolve(access.service.access[SID].join_code) == SID
    assert isinstance(refusal(access.resolve, "no-such-session"), NotFound)
    assert refusal(access.resolve, "no-such-session").code == "unknown_session"
