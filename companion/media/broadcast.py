"""Encode once, send to many: the stream of one session.

Whatever publisher is live hands its decoded tracks to the session's `Broadcast`, which
encodes the video once (VP8, in its own single encoder thread) and the audio once (Opus),
and gives the packets to every viewer through the fan-outs. The broadcast outlives
publishers, so viewers stay connected while the publisher stops and starts again, and
their RTP timestamps keep advancing with one clock. A slate (`companion.media.slate`) is
one more source for the same encoder: in a break, before the start, or while a publisher
has dropped, viewers get it on the same track instead of the camera.

The voices of remote participants on stage (`companion.media.stage_voices`) are mixed into
the audio before the one Opus encoder, so they cost nothing per viewer. While the room's
publisher sends audio, its frames carry the mix (nobody on stage: the room's frames go to
the encoder untouched, as they always did); when it sends none (no publisher, or it
stalled), a loop paced at 20 ms on the broadcast's clock encodes the voices alone. The
room's sound also goes, decoded, to each speaker's return feed
(`companion.media.return_feed`), which leaves their own voice out. A speaker who shows
their camera gets a tile in the picture (`companion.media.camera_tile`), drawn by the same
encoder thread as the lower third.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from companion.media.camera_tile import MAX_TILES, CameraTiles, SpeakerCamera
from companion.media.encoder import (
    AUDIO_RATE,
    VIDEO_CLOCK,
    AudioEncoder,
    KeyframePolicy,
    VideoEncoder,
    fit_size,
    seconds_to_pts,
)
from companion.media.fanout import Fanout
from companion.media.name_card import LowerThird
from companion.media.slate import Cue, NameCard, SlateKind, SlateText
from companion.media.slate_picture import DEFAULT_SIZE, SlatePainter
from companion.media.voice_mix import FRAME, RATE, StereoPcm, VoiceMix, pcm_frame

log = logging.getLogger(__name__)

SLATE_FPS = 10  # a slate changes once a second; new viewers still get a picture soon
CUE_EVERY = 0.2  # how often the loop asks what to show (break start, end: this late)
# No camera picture for this long: "we'll be right back" instead of a frozen frame (the
# publisher is not yet known to be gone: that takes up to 10 s, or ICE's 12.5 s).
CAMERA_LOST_AFTER = 1.0
# A publisher that stalls (no DELETE, no frames) is taken as silent after this many of the
# voice loop's 20 ms ticks without a room frame, counting only ticks that came on time: a
# late tick means this process was busy, and the room's frames may be waiting behind it
# (taking them for a stall cut voice-only frames into the room's sound on busy cores).
ROOM_QUIET_TICKS = 5
# While voices are mixed, a room frame that would take the stream's audio further than
# this ahead of the wall clock is dropped (the voice loop filled its gap meanwhile).
MAX_AUDIO_AHEAD = RATE // 10


class _Latest:
    """A one-frame mailbox: the reader overwrites, the encoder takes the newest.

    When encoding falls behind, frames are skipped here instead of queueing up delay.
    """

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self.at = -math.inf  # monotonic time of the last frame put
        self.skipped = 0
        self._ready = asyncio.Event()

    def put(self, frame: av.VideoFrame) -> None:
        if self.frame is not None:
            self.skipped += 1
        self.frame = frame
        self.at = time.monotonic()
        self._ready.set()

    def drop(self) -> None:
        """Forget the waiting frame (a slate is shown instead)."""
        if self.frame is not None:
            self.skipped += 1
            self.frame = None

    async def wait(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for a frame; whether one is there."""
        if self.frame is None:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        return self.frame is not None

    async def take(self, timeout: float) -> av.VideoFrame | None:
        """The newest frame, waiting at most `timeout` seconds for one (then None)."""
        await self.wait(timeout)
        frame, self.frame = self.frame, None
        return frame


def _camera_only(camera_ok: bool) -> Cue:
    """No show to follow (the unit tests' broadcasts): the camera, else "right back"."""
    if camera_ok:
        return Cue(None, True)
    return Cue(SlateText(SlateKind.RIGHT_BACK, "", "", "", "", "", ""), False)


class Broadcast:
    """One session's shared encoders and its viewers' fan-outs.

    Its one video loop sends the camera's newest frame or a slate (`cue` says which, from
    the session's show and whether the camera's pictures are coming) through the same
    encoder, so viewers keep their connection and track across breaks and publishers.
    """

    def __init__(
        self, session_id: str, kbps: int = 0, cue: Callable[[bool], Cue] = _camera_only
    ) -> None:
        self.session_id = session_id
        self.cue = cue
        self.keyframes = KeyframePolicy()
        self.video = Fanout("video", self.keyframes.request)
        self.audio = Fanout("audio")
        self._video_encoder = VideoEncoder(kbps)
        self._audio_encoder = AudioEncoder()
        self._painter = SlatePainter()  # touched by the encoder thread only
        self._lower_third = LowerThird()  # likewise
        self._tiles = CameraTiles()  # likewise
        self.cameras: dict[str, SpeakerCamera] = {}  # speakers' cameras, on the loop
        self.tiles_shown = 0  # camera tiles in the last encoded frame
        self.on_stage: tuple[NameCard, ...] = ()  # who the lower third names now
        # One thread per session: frames of one stream are encoded in order, and a frame
        # object is only ever touched by this thread once handed over.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"encode-{session_id[:20]}")
        self._epoch = time.monotonic()
        self._last_pts = -1
        self._camera = _Latest()
        self._loop: asyncio.Task[None] | None = None
        self.room_audio = True  # the audio pump sends the room's sound
        self.voices = VoiceMix()  # the on-stage voices, mixed into the audio
        # The speakers' return feeds (by their resource id): each gets the room's sound as
        # mono 48 kHz samples, silent when a slate mutes the room.
        self.room_listeners: dict[str, Callable[[np.ndarray], None]] = {}
        self._stereo = StereoPcm()
        self._voice_loop: asyncio.Task[None] | None = None
        self._room_pumps = 0  # publisher audio tracks being pumped
        self._quiet_ticks = 0  # the voice loop's on-time ticks since the room's last frame
        self.mixed_frames = 0  # room frames that carried voices
        self.voice_frames = 0  # frames of voices alone (no room audio)
        self.audio_dropped = 0  # room frames dropped to keep the audio's clock
        # The publisher said it stopped (a DELETE): no "right back", viewers' players then
        # show the stream as offline. A publisher that vanished gets the slate instead.
        self.stopped = False
        self.showing = "camera"  # a SlateKind value, or "nothing": what viewers see now
        self.frames_in = 0
        self.slate_frames = 0
        self.encode_seconds = 0.0

    @property
    def frames_skipped(self) -> int:
        """Camera frames never encoded (the encoder was busy, or a slate was shown)."""
        return self._camera.skipped

    def clock(self) -> float:
        """Seconds on the stream's clock (monotonic, shared by audio and video)."""
        return time.monotonic() - self._epoch

    def new_source(self) -> None:
        """A publisher starts: its first frame is a keyframe and viewers resync to it."""
        self.stopped = False
        self.keyframes.reset()
        self.video.resync()

    def start(self) -> None:
        """Start the video loop (idempotent; needs a running event loop)."""
        if self._loop is None or self._loop.done():
            self._loop = asyncio.ensure_future(self._run_video())

    def stats(self) -> dict[str, Any]:
        """Counters for the stats endpoint, tests and the benchmark."""
        return {
            "frames_in": self.frames_in,
            "frames_encoded": self._video_encoder.frames - self.slate_frames,  # the camera's
            "frames_skipped": self.frames_skipped,
            "slate_frames": self.slate_frames,
            "slates_drawn": self._painter.drawn,
            "name_cards": len(self.on_stage),
            "name_cards_drawn": self._lower_third.drawn,
            "cameras": len(self.cameras),  # speakers' cameras kept (on stage)
            "camera_tiles": self.tiles_shown,
            "camera_tiles_scaled": self._tiles.scaled,
            "showing": self.showing,
            "encode_seconds": round(self.encode_seconds, 3),
            "keyframes": self.keyframes.keyframes,
            "keyframe_requests": self.keyframes.requests,
            "video_viewers": len(self.video.tracks),
            "audio_viewers": len(self.audio.tracks),
            "voices": len(self.voices.buffers),
            "return_feeds": len(self.room_listeners),
            "mixed_frames": self.mixed_frames,
            "voice_frames": self.voice_frames,
            "audio_dropped": self.audio_dropped,
        }

    async def pump_video(self, track: MediaStreamTrack, on_media: Callable[[], None]) -> None:
        """Hand a publisher's decoded video to the video loop until the track ends."""
        self.start()
        try:
            while True:
                frame = await track.recv()
                self.frames_in += 1
                if isinstance(frame, av.VideoFrame):  # a received track gives decoded frames
                    self._camera.put(frame)
                    on_media()
        except MediaStreamError:
            return

    async def _run_video(self) -> None:
        """Encode the camera's newest frame, or a slate SLATE_FPS times a second."""
        cue = Cue(None, True)
        cued_at = -math.inf
        while True:
            if time.monotonic() - cued_at >= CUE_EVERY:
                camera_ok = time.monotonic() - self._camera.at < CAMERA_LOST_AFTER
                try:
                    cue = self.cue(camera_ok)
                except Exception:  # a state being folded, a bad title: keep the last cue
                    log.exception("%s: slate not decided", self.session_id)
                cued_at = time.monotonic()
                self.room_audio = cue.room_audio
                self.on_stage = cue.on_stage
                if cue.slate is None:
                    self.showing = "camera"
                elif cue.slate.kind == SlateKind.RIGHT_BACK and self.stopped:
                    self.showing = "nothing"
                else:
                    self.showing = cue.slate.kind.value
            if cue.slate is None:
                frame = await self._camera.take(CUE_EVERY)
                if frame is not None:
                    await self._encode(frame, None)
                continue
            self._camera.drop()
            due = time.monotonic() + 1 / SLATE_FPS  # paced from the start of this frame
            if self.video.tracks and self.showing != "nothing":  # nobody watching: no drawing
                await self._encode(None, cue.slate)
            rest = max(0.0, due - time.monotonic())
            if cue.slate.kind != SlateKind.RIGHT_BACK:
                await asyncio.sleep(rest)
            elif await self._camera.wait(rest):
                cued_at = -math.inf  # the camera is back: show it from this frame on

    async def _encode(self, frame: av.VideoFrame | None, slate: SlateText | None) -> None:
        now = self.clock()
        pts = max(seconds_to_pts(now, VIDEO_CLOCK), self._last_pts + 1)
        self._last_pts = pts
        keyframe = self.keyframes.due(now)
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        cards = self.on_stage
        # The speakers' cameras that sent a frame within a second; new frames are handed
        # to the encoder thread here, once.
        shown = [(key, cam.take()) for key, cam in self.cameras.items() if cam.fresh()]
        shown = shown[:MAX_TILES]
        self.tiles_shown = len(shown)
        try:
            packets = await loop.run_in_executor(
                self._thread, self._encode_in_thread, frame, slate, cards, shown, pts, keyframe
            )
        except (av.FFmpegError, ValueError, OSError) as exc:
            log.warning("%s: video frame not encoded: %s", self.session_id, exc)
            return
        except Exception:  # never let one frame end the session's video loop
            log.exception("%s: video frame not encoded", self.session_id)
            return
        self.encode_seconds += time.perf_counter() - started
        if slate is not None:
            self.slate_frames += 1
        for packet in packets:
            is_key = bool(packet.is_keyframe)
            if is_key:
                self.keyframes.sent(now)
            self.video.push(packet, is_key)

    def _encode_in_thread(
        self,
        frame: av.VideoFrame | None,
        slate: SlateText | None,
        cards: tuple[NameCard, ...],
        shown: list[tuple[str, av.VideoFrame | None]],
        pts: int,
        keyframe: bool,
    ) -> list[av.Packet[Any]]:
        if slate is not None:  # drawn at the size viewers already decode
            width, height = self._video_encoder.size if self._video_encoder.codec else (0, 0)
            frame = self._painter.frame(slate, *((width, height) if width else DEFAULT_SIZE))
        assert frame is not None
        size = fit_size(frame.width, frame.height, self._video_encoder.max_height)
        tiles = self._tiles.patches(shown, size)
        if cards or tiles:  # the lower third and the cameras, drawn at the encoded size
            frame = self._lower_third.over(frame, cards, size, tiles)
        return self._video_encoder.encode(frame, pts, keyframe)

    async def pump_audio(self, track: MediaStreamTrack, on_media: Callable[[], None]) -> None:
        """Encode a publisher's audio track, with any voices on stage, until it ends.

        Opus at 20 ms costs a fraction of a millisecond a frame, so it runs on the loop.
        """
        self._room_pumps += 1
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                if isinstance(frame, av.AudioFrame):  # a received track gives decoded frames
                    self._room_frame(frame, on_media)
        finally:
            self._room_pumps -= 1

    def _room_frame(self, frame: av.AudioFrame, on_media: Callable[[], None]) -> None:
        now_pts = seconds_to_pts(self.clock(), AUDIO_RATE)
        mixed = self.voices.active
        if mixed or self.room_listeners:
            room = self._stereo.convert(frame)
            if not self.room_audio:
                room[:] = 0
            if self.room_listeners:
                mono = (room.sum(axis=1) // 2).astype(np.int16)
                for listener in list(self.room_listeners.values()):
                    listener(mono)
        if mixed:
            # A voice on stage is heard even in a slate with the room muted: the
            # moderator put it there on purpose.
            voices = self.voices.take(len(room))
            if voices is not None:
                room += voices[:, None]
            frame = pcm_frame(room, "stereo")
            if self._audio_encoder.ahead(now_pts) > MAX_AUDIO_AHEAD:
                self.audio_dropped += 1
                self._quiet_ticks = 0
                on_media()
                return
        try:
            packets = self._audio_encoder.encode(frame, now_pts)
        except (av.FFmpegError, ValueError, AssertionError) as exc:
            log.warning("%s: audio frame not encoded: %s", self.session_id, exc)
            return
        self._quiet_ticks = 0
        on_media()
        if mixed:
            self.mixed_frames += 1
        elif not self.room_audio:
            return  # a slate with the room muted: viewers hear nothing
        for packet in packets:
            self.audio.push(packet)

    def feed_voice(self, key: str, samples: np.ndarray) -> None:
        """Mono 48 kHz samples of a voice on stage (decoded once, by its pump)."""
        self.voices.feed(key, samples)
        if self._voice_loop is None or self._voice_loop.done():
            self._voice_loop = asyncio.ensure_future(self._run_voices())

    def drop_voice(self, key: str) -> None:
        """A voice left the stage or was muted: silent from the next frame."""
        self.voices.drop(key)

    def feed_camera(self, key: str, frame: av.VideoFrame) -> None:
        """A decoded frame of an on-stage speaker's camera (the newest one is kept)."""
        self.cameras.setdefault(key, SpeakerCamera()).put(frame)

    def drop_camera(self, key: str) -> None:
        """The speaker left the stage: no tile from the next frame."""
        self.cameras.pop(key, None)

    def _room_sends_audio(self) -> bool:
        return self._room_pumps > 0 and self._quiet_ticks < ROOM_QUIET_TICKS

    async def _run_voices(self) -> None:
        """While voices are on stage and the room sends no audio: encode them alone, every
        20 ms on the broadcast's clock, never ahead of it (so a room frame and a voice frame
        never both fill the same 20 ms for long)."""
        due = self.clock()
        while self.voices.active:
            due += FRAME / RATE
            wait = due - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            late = self.clock() - due
            if late < FRAME / RATE:
                self._quiet_ticks += 1  # on time, and no room frame since the last tick
            elif late > 0.1:
                due = self.clock()  # the loop was held up: go on from now, no burst
            if self._room_sends_audio():
                continue  # the room's frames carry the voices
            now_pts = seconds_to_pts(self.clock(), AUDIO_RATE)
            if self._audio_encoder.ahead(now_pts) > 0:
                continue  # the room's late frames already cover this moment
            voices = self.voices.take(FRAME)
            mono = np.zeros(FRAME, np.int32) if voices is None else voices
            frame = pcm_frame(np.repeat(mono, 2), "stereo")
            try:
                packets = self._audio_encoder.encode(frame, now_pts)
            except (av.FFmpegError, ValueError, AssertionError) as exc:
                log.warning("%s: voice frame not encoded: %s", self.session_id, exc)
                continue
            self.voice_frames += 1
            for packet in packets:
                self.audio.push(packet)

    def close(self) -> None:
        """Stop the video loop and release the encoder thread."""
        if self._loop is not None:
            self._loop.cancel()
        if self._voice_loop is not None:
            self._voice_loop.cancel()
        self._thread.shutdown(wait=False, cancel_futures=True)
