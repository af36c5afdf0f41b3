"""Encode once, send to many: the stream of one session.

Whatever publisher is live hands its decoded tracks to the session's `Broadcast`, which
encodes the video once (VP8, in its own single encoder thread) and the audio once (Opus),
and gives the packets to every viewer through the fan-outs. The broadcast outlives
publishers, so viewers stay connected while the publisher stops and starts again, and
their RTP timestamps keep advancing with one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from companion.media.encoder import (
    AUDIO_RATE,
    VIDEO_CLOCK,
    AudioEncoder,
    KeyframePolicy,
    VideoEncoder,
    seconds_to_pts,
)
from companion.media.fanout import Fanout

log = logging.getLogger(__name__)


class _Latest:
    """A one-frame mailbox: the reader overwrites, the encoder takes the newest.

    When encoding falls behind, frames are skipped here instead of queueing up delay.
    """

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self.ended = False
        self.skipped = 0
        self._ready = asyncio.Event()

    def put(self, frame: av.VideoFrame) -> None:
        if self.frame is not None:
            self.skipped += 1
        self.frame = frame
        self._ready.set()

    def end(self) -> None:
        self.ended = True
        self._ready.set()

    async def take(self) -> av.VideoFrame:
        while self.frame is None:
            if self.ended:
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        frame, self.frame = self.frame, None
        return frame


class Broadcast:
    """One session's shared encoders and its viewers' fan-outs."""

    def __init__(self, session_id: str, kbps: int = 0) -> None:
        self.session_id = session_id
        self.keyframes = KeyframePolicy()
        self.video = Fanout("video", self.keyframes.request)
        self.audio = Fanout("audio")
        self._video_encoder = VideoEncoder(kbps)
        self._audio_encoder = AudioEncoder()
        # One thread per session: frames of one stream are encoded in order, and a frame
        # object is only ever touched by this thread once handed over.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"encode-{session_id[:20]}")
        self._epoch = time.monotonic()
        self._last_pts = -1
        self.frames_in = 0
        self.frames_skipped = 0
        self.encode_seconds = 0.0

    def clock(self) -> float:
        """Seconds on the stream's clock (monotonic, shared by audio and video)."""
        return time.monotonic() - self._epoch

    def new_source(self) -> None:
        """A publisher starts: its first frame is a keyframe and viewers resync to it."""
        self.keyframes.reset()
        self.video.resync()

    def stats(self) -> dict[str, Any]:
        """Counters for the stats endpoint, tests and the benchmark."""
        return {
            "frames_in": self.frames_in,
            "frames_encoded": self._video_encoder.frames,
            "frames_skipped": self.frames_skipped,
            "encode_seconds": round(self.encode_seconds, 3),
            "keyframes": self.keyframes.keyframes,
            "keyframe_requests": self.keyframes.requests,
            "video_viewers": len(self.video.tracks),
            "audio_viewers": len(self.audio.tracks),
        }

    async def pump_video(self, track: MediaStreamTrack, on_media: Callable[[], None]) -> None:
        """Encode a publisher's video track until it ends (returns then)."""
        mailbox = _Latest()
        reader = asyncio.ensure_future(self._read(track, mailbox))
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    frame = await mailbox.take()
                except MediaStreamError:
                    return
                now = self.clock()
                pts = max(seconds_to_pts(now, VIDEO_CLOCK), self._last_pts + 1)
                self._last_pts = pts
                keyframe = self.keyframes.due(now)
                started = time.perf_counter()
                try:
                    packets = await loop.run_in_executor(
                        self._thread, self._video_encoder.encode, frame, pts, keyframe
                    )
                except (av.FFmpegError, ValueError) as exc:
                    log.warning("%s: video frame not encoded: %s", self.session_id, exc)
                    continue
                self.encode_seconds += time.perf_counter() - started
                for packet in packets:
                    is_key = bool(packet.is_keyframe)
                    if is_key:
                        self.keyframes.sent(now)
                    self.video.push(packet, is_key)
                on_media()
        finally:
            self.frames_skipped += mailbox.skipped
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, track: MediaStreamTrack, mailbox: _Latest) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames_in += 1
                if isinstance(frame, av.VideoFrame):  # a received track gives decoded frames
                    mailbox.put(frame)
        except MediaStreamError:
            pass
        finally:
            mailbox.end()

    async def pump_audio(self, track: MediaStreamTrack, on_media: Callable[[], None]) -> None:
        """Encode a publisher's audio track until it ends (returns then).

        Opus at 20 ms costs a fraction of a millisecond a frame, so it runs on the loop.
        """
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):  # a received track gives decoded frames
                continue
            try:
                packets = self._audio_encoder.encode(
                    frame, seconds_to_pts(self.clock(), AUDIO_RATE)
                )
            except (av.FFmpegError, ValueError, AssertionError) as exc:
                log.warning("%s: audio frame not encoded: %s", self.session_id, exc)
                continue
            for packet in packets:
                self.audio.push(packet)
            on_media()

    def close(self) -> None:
        """Release the encoder thread."""
        self._thread.shutdown(wait=False, cancel_futures=True)
