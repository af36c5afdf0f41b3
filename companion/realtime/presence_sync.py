"""Presence shared between the processes of one store (Redis), so that what every client
sees is the session's: distinct participants in the room and remote, moderators,
screens, stream viewers and fresh identities over every live process.

Every `SYNC_SECONDS` this process sends each session's part (its changes since the last
time, or everything after its part was lost) to the store's presence board in one round
trip, and takes back the merged presence; the hub tells clients when it changed. A join
costs nothing here but a dict entry: a crowd of a thousand phones is a few round trips a
second, and at most one presence message per flush. A process that dies stops renewing
its part, and the store drops it within its lease (`companion.backends.redis_presence`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

from companion.backends.base import PresenceBoard, PresenceShare, StoreUnavailable
from companion.realtime.hub import Hub, Room

log = logging.getLogger(__name__)

SYNC_SECONDS = 0.5


class PresenceSync:
    """Shares this process's presence of every session and takes the session's back."""

    def __init__(
        self,
        hub: Hub,
        board: PresenceBoard,
        identities: Callable[[str], dict[str, int] | None] | None = None,
        interval: float = SYNC_SECONDS,
    ) -> None:
        self.hub = hub
        self.board = board
        # Fresh identities given out here since the last share, per address digest
        # (companion.realtime.admission); those of a failed share are not counted.
        self.identities = identities
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Share every `interval` seconds until stopped."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop sharing (this process's parts then lapse by themselves)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failing = False  # told once per outage, not twice a second
        while True:
            try:
                await self.sync()
                if failing:
                    log.warning("presence shared again")
                failing = False
            except StoreUnavailable as exc:  # the store is away: counts stay as they were
                if not failing:
                    log.warning("presence not shared until the store answers: %s", exc)
                failing = True
            except Exception:
                log.exception("presence not shared")
            await asyncio.sleep(self.interval)

    async def sync(self) -> None:
        """One round: send every session's part, take in the session's presence."""
        rooms: list[Room] = []
        shares: list[PresenceShare] = []
        for room in list(self.hub.rooms.values()):
            share = room.presence.share(room.session_id, len(room.moderators))
            if share is None:
                continue
            if self.identities is not None:
                fresh = self.identities(room.session_id)
                if fresh:
                    share = replace(share, identities=fresh)
            rooms.append(room)
            shares.append(share)
        if not shares:
            return
        try:
            merged = await self.board.share(shares)
        except BaseException:
            for room in rooms:
                room.presence.share_lost()
            raise
        for room, presence in zip(rooms, merged, strict=True):
            room.presence.merge(presence)
