"""A speaker's return feed, unit by unit (companion.media.return_feed): the speaker's own
samples never enter it, it follows the session's broadcast as it comes and goes, and it
stops listening to the room when it stops. The whole path with real peers is in
tests/media/test_stage_voices.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from companion.media.return_feed import ROOM, ReturnFeed
from companion.media.voice_mix import FRAME


@dataclass
class FakeBroadcast:
    room_listeners: dict[str, Callable[[np.ndarray], None]] = field(default_factory=dict)


def samples(value: int) -> np.ndarray:
    return np.full(FRAME, value, np.int16)


async def test_the_own_voice_is_left_out_and_the_others_summed_with_the_room() -> None:
    broadcast = FakeBroadcast()
    feed = ReturnFeed("anna", lambda key: key != "muted", lambda: broadcast)
    await feed.recv()  # the first frame taps the room (nothing buffered yet: silence)
    assert set(broadcast.room_listeners) == {"anna"}
    feed.feed_voice("anna", samples(1000))  # her own: never heard
    feed.feed_voice("bo", samples(30))
    feed.feed_voice("muted", samples(5000))
    broadcast.room_listeners["anna"](samples(7))
    frame = await feed.recv()
    assert set(frame.to_ndarray().reshape(-1).tolist()) == {37}
    feed.stop()


async def test_it_follows_a_new_broadcast_and_lets_go_when_stopped() -> None:
    current: list[FakeBroadcast | None] = [None]
    feed = ReturnFeed("anna", lambda _key: True, lambda: current[0])
    await feed.recv()  # no stream yet: nothing to tap
    first = FakeBroadcast()
    current[0] = first
    await feed.recv()
    assert "anna" in first.room_listeners
    first.room_listeners["anna"](samples(9))
    second = FakeBroadcast()  # the first closed, a publisher made another
    current[0] = second
    await feed.recv()
    assert "anna" not in first.room_listeners and "anna" in second.room_listeners
    assert ROOM not in feed.mix.buffers  # the old room's buffered sound went with it
    feed.stop()
    assert not second.room_listeners
