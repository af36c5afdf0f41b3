"""Presence shared on Redis: each process's part of a session, merged into the session's
distinct counts, and a process's part dropped when it stops renewing it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from companion.backends.base import SessionPresence
from companion.backends.redis import RedisStore
from companion.backends.redis_presence import RedisPresence
from companion.realtime.presence import Presence
from tests.redisproc import RedisProcess


class Process:
    """One process's presence of session `s` and its board on a shared Redis."""

    def __init__(self, store: RedisStore, name: str, lease: float = 4.0) -> None:
        board = store.presence_board(name)
        board.lease = lease
        self.board: RedisPresence = board
        self.presence = Presence(shared=True)
        self.moderators = 0

    async def sync(self, identities: dict[str, int] | None = None) -> SessionPresence:
        share = self.presence.share("s", self.moderators)
        assert share is not None
        if identities:
            share = replace(share, identities=identities)
        (merged,) = await self.board.share([share])
        self.presence.merge(merged)
        return merged


@pytest.fixture
async def store(redis: RedisProcess) -> AsyncIterator[RedisStore]:
    s = RedisStore(redis.url)
    await s.open()
    yield s
    await s.close()


async def test_two_processes_count_each_participant_once(store: RedisStore) -> None:
    """Parts of two processes add up; a participant connected to both counts once, where
    their latest join said; only changes travel after the first share; one leader."""
    a, b = Process(store, "a"), Process(store, "b")
    for i in range(7):
        a.presence.arrive("participant", f"p{i}", "room")
    for i in range(7, 15):
        a.presence.arrive("participant", f"p{i}", "remote")
    for i in range(15, 23):
        b.presence.arrive("participant", f"p{i}", "room")
    for i in range(23, 30):
        b.presence.arrive("participant", f"p{i}", "remote")
    b.presence.arrive("screen", None, None)
    a.moderators, b.moderators = 1, 2
    await a.sync()
    merged = await b.sync()
    assert (merged.room, merged.remote, merged.moderators, merged.screens) == (15, 15, 3, 1)
    assert (await a.sync()).room == 15

    # p0 (in the room on a) opens a second tab on b, remote, later: counted once, remote.
    await asyncio.sleep(0.01)
    b.presence.arrive("participant", "p0", "remote")
    share = b.presence.share("s", b.moderators)
    assert share is not None and not share.full and list(share.people) == ["p0"]
    (merged,) = await b.board.share([share])
    assert (merged.room, merged.remote) == (14, 16)

    # The tab on b closes: p0 is in the room again (on a).
    b.presence.leave("participant", "p0")
    merged = await b.sync()
    assert (merged.room, merged.remote) == (15, 15)
    leaders = [(await a.sync()).leader, (await b.sync()).leader]
    assert sorted(leaders) == [False, True]


async def test_a_process_that_stops_renewing_drops_out_and_one_that_left_withdraws(
    store: RedisStore,
) -> None:
    """A part not renewed within its lease leaves the counts (a dead process); the same
    participants reconnected to the survivor meanwhile count once. A process whose last
    connection closed takes its part away at once."""
    a, b = Process(store, "a", lease=1.0), Process(store, "b", lease=1.0)
    for i in range(10):
        a.presence.arrive("participant", f"p{i}", "room")
    for i in range(10, 20):
        b.presence.arrive("participant", f"p{i}", "remote")
    await a.sync()
    assert (await b.sync()).room == 10
    # a "dies": three of its people reconnect to b before a's part has lapsed.
    for i in range(3):
        b.presence.arrive("participant", f"p{i}", "room")
    merged = await b.sync()
    assert (merged.room, merged.remote) == (10, 10)
    for _ in range(4):  # b renews its part as a live process does; a does not
        await asyncio.sleep(0.3)
        merged = await b.sync()
    assert (merged.room, merged.remote, merged.leader) == (3, 10, True)

    # a comes back after its part lapsed: its changes alone are refused, then all is sent.
    a.presence.arrive("participant", "p20", "room")
    refused = await a.sync()
    assert refused.resend and a.presence.full_due
    merged = await a.sync()
    assert (merged.room, merged.remote) == (11, 10)

    for i in range(10):
        a.presence.leave("participant", f"p{i}")
    a.presence.leave("participant", "p20")
    last = a.presence.share("s", 0)
    assert last is not None and last.withdraw
    await a.board.share([last])
    assert a.presence.share("s", 0) is None  # nothing here, nothing in the store
    assert (await b.sync()).room == 3


async def test_fresh_identities_add_up_per_address_across_processes(store: RedisStore) -> None:
    """Fresh identities from one address given out by two processes are one address's."""
    a, b = Process(store, "a"), Process(store, "b")
    a.presence.arrive("participant", "x", "room")
    b.presence.arrive("participant", "y", "room")
    await a.sync({"venue": 120, "home": 1})
    merged = await b.sync({"venue": 90, "phone": 1})
    assert (merged.new_identities, merged.most_from_one_address) == (212, 210)
