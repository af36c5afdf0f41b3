"""One publisher's connection (OBS over WHIP, or the camera page) feeding its session's
broadcast: it is live from its first decoded media until its tracks end, its connection
fails, or nothing arrives for a while."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aiortc import RTCPeerConnection

from companion.media.aiortc_internals import negotiated_codecs
from companion.media.broadcast import Broadcast

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 20.0  # from the answer to the first media
MEDIA_TIMEOUT = 10.0  # no media for this long: the publisher is gone (before ICE notices)


class Publication:
    """A publisher's peer connection and the tasks that pump its tracks."""

    def __init__(
        self,
        pc: RTCPeerConnection,
        broadcast: Broadcast,
        source: str,
        on_live: Callable[[Publication], Awaitable[None]],
        on_end: Callable[[Publication, str], Awaitable[None]],
    ) -> None:
        self.pc = pc
        self.broadcast = broadcast
        self.source = source
        self.codecs: dict[str, str] = {}
        self.live = False
        self.ended = False
        self.last_media = time.monotonic()
        self._on_live = on_live
        self._on_end = on_end
        self._tasks: list[asyncio.Task[None]] = []
        self._callbacks: set[asyncio.Task[None]] = set()  # on_live / on_end calls

    def start(self) -> None:
        """Start pumping the publisher's tracks into the broadcast."""
        self.broadcast.new_source()
        for transceiver in self.pc.getTransceivers():
            track = transceiver.receiver.track
            if track is None:
                continue
            codecs = negotiated_codecs(transceiver)  # the first is what the publisher sends
            if codecs:
                self.codecs[track.kind] = codecs[0].mimeType
            pump = self.broadcast.pump_video if track.kind == "video" else self.broadcast.pump_audio
            self._tasks.append(asyncio.ensure_future(self._run(pump(track, self._media))))
        self._tasks.append(asyncio.ensure_future(self._watch()))

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                self._finish(f"connection {self.pc.connectionState}")

    def _media(self) -> None:
        self.last_media = time.monotonic()
        if not self.live and not self.ended:
            self.live = True
            self._spawn(self._on_live(self))

    async def _run(self, pump: Awaitable[None]) -> None:
        try:
            await pump
        except Exception:
            log.exception("%s: publisher track failed", self.broadcast.session_id)
        # The publisher's tracks end together when it hangs up.
        self._finish("ended")

    async def _watch(self) -> None:
        started = time.monotonic()
        while not self.ended:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if not self.live and now - started > CONNECT_TIMEOUT:
                self._finish("no media")
            elif self.live and now - self.last_media > MEDIA_TIMEOUT:
                self._finish("timeout")

    def _finish(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        self._spawn(self._on_end(self, reason))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    async def stop(self) -> None:
        """Stop pumping (the registry closes the peer connection)."""
        self.ended = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
