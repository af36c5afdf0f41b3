"""The presence sync loop on its own: what a failed share leaves behind, and how an outage
of the store is logged."""

from __future__ import annotations

import asyncio
import logging

import pytest

from companion.backends.base import PresenceShare, SessionPresence, StoreUnavailable
from companion.realtime.hub import Hub
from companion.realtime.presence_sync import PresenceSync


class Board:
    """A presence board that fails while `down`, and otherwise counts what it was told."""

    def __init__(self) -> None:
        self.down = False
        self.received: list[PresenceShare] = []

    async def share(self, shares: list[PresenceShare]) -> list[SessionPresence]:
        if self.down:
            raise StoreUnavailable("Redis: connection refused")
        self.received += shares
        return [
            SessionPresence(len(s.people), 0, s.moderators, 0, 0, 0, 0, leader=True) for s in shares
        ]


def shared_hub() -> Hub:
    hub = Hub()
    hub.shared_presence = True
    hub.ensure_room("s", 0)
    return hub


async def test_after_a_failed_share_the_next_carries_everyone() -> None:
    """A share that may not have landed is followed by a full one, and the people who
    came meanwhile are counted; clients are told only once the store has merged."""
    hub, board = shared_hub(), Board()
    sync = PresenceSync(hub, board)
    presence = hub.rooms["s"].presence
    presence.arrive("participant", "p1", "room")
    await sync.sync()
    assert board.received[-1].full and presence.changed
    presence.changed = False

    presence.arrive("participant", "p2", "room")
    assert not presence.changed  # one process's count alone is never told
    board.down = True
    with pytest.raises(StoreUnavailable):
        await sync.sync()
    board.down = False
    presence.arrive("participant", "p3", "room")
    await sync.sync()
    last = board.received[-1]
    assert last.full and set(last.people) == {"p1", "p2", "p3"}
    assert presence.changed and hub.rooms["s"].counts()["room"] == 3


async def test_an_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    """Twice a second for as long as Redis is away would flood the log: one line when
    sharing stops, one when it works again."""
    hub, board = shared_hub(), Board()
    hub.rooms["s"].presence.arrive("participant", "p1", "room")
    sync = PresenceSync(hub, board, interval=0.01)
    board.down = True
    with caplog.at_level(logging.WARNING, logger="companion.realtime.presence_sync"):
        sync.start()
        await asyncio.sleep(0.2)
        board.down = False
        await asyncio.sleep(0.1)
        await sync.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("presence not shared until the store answers")
    assert lines[1] == "presence shared again"
