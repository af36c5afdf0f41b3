"""Hands the same encoded packets to every viewer's sender, each through a bounded queue.

A viewer's RTCRtpSender reads a `PacketTrack`: since it yields `av.Packet`s rather than
frames, the sender only packetises and encrypts them (aiortc's "packet mode"). Packets are
shared between viewers but only read, and only on the event loop thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

# About one second of media per viewer. A viewer whose sender falls further behind than
# that (its event-loop turn comes too rarely, its socket is full) drops instead of
# delaying anyone else; video then waits for the next keyframe, since frames after a gap
# cannot be decoded.
VIDEO_QUEUE = 30
AUDIO_QUEUE = 50


class PacketTrack(MediaStreamTrack):
    """One viewer's track of already-encoded packets."""

    def __init__(self, kind: str, fanout: Fanout, limit: int) -> None:
        super().__init__()
        self.kind = kind
        self._fanout = fanout
        self._limit = limit
        self._queue: deque[av.Packet[Any]] = deque()
        self._wake = asyncio.Event()
        self._attached = False
        self._need_keyframe = kind == "video"
        self.delivered = 0
        self.dropped = 0

    async def recv(self) -> av.Packet[Any]:
        """The next packet for this viewer; waits while the stream is offline."""
        if not self._attached:
            # Attach on the sender's first read, i.e. once the viewer is connected, so no
            # stale packets pile up during ICE and the keyframe request comes just in time.
            self._attached = True
            self._fanout.attach(self)
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._wake.clear()
            await self._wake.wait()
        self.delivered += 1
        return self._queue.popleft()

    def offer(self, packet: av.Packet[Any], keyframe: bool) -> None:
        """Queue a packet for this viewer, or drop it (see VIDEO_QUEUE)."""
        if self._need_keyframe:
            if not keyframe:
                self.dropped += 1
                return
            self._need_keyframe = False
        if len(self._queue) >= self._limit:
            if self.kind == "video":
                self.dropped += len(self._queue)
                self._queue.clear()
                if not keyframe:
                    self.dropped += 1
                    self._need_keyframe = True
                    self._fanout.request_keyframe()
                    return
            else:
                self.dropped += 1
                self._queue.popleft()
        self._queue.append(packet)
        self._wake.set()

    def resync(self) -> None:
        """Skip to the next keyframe (the picture source changed)."""
        if self.kind == "video":
            self._queue.clear()
            self._need_keyframe = True

    def stop(self) -> None:
        """Detach from the fan-out; the sender's pending read ends."""
        super().stop()
        self._fanout.detach(self)
        self._queue.clear()
        self._wake.set()


class Fanout:
    """The viewers' tracks of one kind (audio or video) of one session."""

    def __init__(
        self, kind: str, request_keyframe: Callable[[], None] = lambda: None, limit: int = 0
    ) -> None:
        self.kind = kind
        self.request_keyframe = request_keyframe
        self.limit = limit or (VIDEO_QUEUE if kind == "video" else AUDIO_QUEUE)
        self.tracks: set[PacketTrack] = set()
        self.packets = 0

    def track(self) -> PacketTrack:
        """A new viewer's track; it joins the fan-out when its sender first reads it."""
        return PacketTrack(self.kind, self, self.limit)

    def attach(self, track: PacketTrack) -> None:
        """Start delivering to a track; a new video viewer needs a keyframe to start."""
        if track.readyState != "live":
            return
        self.tracks.add(track)
        if self.kind == "video":
            self.request_keyframe()

    def detach(self, track: PacketTrack) -> None:
        """Stop delivering to a track."""
        self.tracks.discard(track)

    def push(self, packet: av.Packet[Any], keyframe: bool = False) -> None:
        """Give one encoded packet to every viewer."""
        self.packets += 1
        for track in tuple(self.tracks):
            track.offer(packet, keyframe)

    def resync(self) -> None:
        """Make every viewer wait for the next keyframe (a new publisher)."""
        for track in self.tracks:
            track.resync()
