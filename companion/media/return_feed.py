"""A speaker's return feed (mix-minus): what a voice on stage hears back on its own connection.

The stream carries the speaker's own voice a few hundred milliseconds late, and hearing
oneself late makes speaking very hard. So while someone is on stage, their `/whip-stage`
connection also sends them the room's sound (the room publisher's decoded audio, muted
when the stream's slate mutes the room) and the other voice on stage, never their own.
It is one track per speaker, encoded once by that connection's sender: at most two extra
Opus encodes per session (two on stage), none per viewer. It is paced at 20 ms like the
room-audio mix and buffers no more than the voices' mix does (MAX_BUFFERED); it ends with
the speaker's connection, which ends with the turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from companion.media.voice_mix import PacedMix

ROOM = "room"  # the key of the room's sound in the feed's mix (voices have resource ids)


class RoomTap(Protocol):
    """Where the room's decoded sound comes from: the session's broadcast."""

    room_listeners: dict[str, Callable[[np.ndarray], None]]


class ReturnFeed(PacedMix):
    """One speaker's track: the room and the other voices on stage, summed, 20 ms frames."""

    def __init__(
        self,
        key: str,
        audible: Callable[[str], bool],
        room: Callable[[], RoomTap | None],
    ) -> None:
        super().__init__()
        self.key = key  # the speaker's stage resource id: never fed into this feed
        self.audible = audible  # whether another voice (by resource id) may be heard now
        self.room = room  # the session's broadcast now, if any (it may come and go)
        self._tapped: RoomTap | None = None

    def feed_voice(self, key: str, samples: np.ndarray) -> None:
        """Another voice's mono 48 kHz samples; the speaker's own never come here."""
        if key != self.key:
            self.mix.feed(key, samples)

    def drop_voice(self, key: str) -> None:
        self.mix.drop(key)

    def feed_room(self, samples: np.ndarray) -> None:
        """The room's sound as the stream has it (silence under a slate that mutes it)."""
        self.mix.feed(ROOM, samples)

    def _tap(self) -> None:
        """Listen to the session's broadcast now (a publisher may create it after the
        speaker connected, and a new one replaces a closed one)."""
        source = self.room()
        if source is self._tapped:
            return
        self._untap()
        if source is not None:
            source.room_listeners[self.key] = self.feed_room
        self._tapped = source

    def _untap(self) -> None:
        if self._tapped is not None:
            self._tapped.room_listeners.pop(self.key, None)
            self._tapped = None
        self.mix.drop(ROOM)

    def heard(self, key: str) -> bool:
        return key == ROOM or self.audible(key)

    def before_frame(self) -> None:
        self._tap()

    def stop(self) -> None:
        self._untap()
        super().stop()
