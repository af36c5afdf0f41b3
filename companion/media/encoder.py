"""The shared encoders of a session's stream: VP8 video and Opus audio, encoded once for
every viewer, and the keyframe policy that serves all viewers' keyframe requests."""

from __future__ import annotations

import fractions
import math
from typing import Any

import av
from aiortc.codecs.vpx import number_of_threads
from av.audio.resampler import AudioResampler
from av.video.frame import PictureType

VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_RATE = 48_000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)
AUDIO_FRAME = 960  # 20 ms, what browsers expect of Opus

# A keyframe request (PLI/FIR, a new viewer) is honoured at most this often, so a flood
# of requests cannot turn every frame into a keyframe...
KEYFRAME_MIN_INTERVAL = 0.5
# ...and a keyframe comes at least this often whatever happens (the GOP floor), so a
# viewer that lost packets without asking recovers within this time.
KEYFRAME_MAX_INTERVAL = 2.0
MAX_HEIGHT = 720  # larger pictures are scaled down before encoding (CPU, viewers' bandwidth)
MIN_KBPS, MAX_KBPS = 300, 2500


class KeyframePolicy:
    """Decides which frames the shared encoder forces to be keyframes.

    Pure bookkeeping over the times it is given; the broadcast asks `due(now)` before
    each frame and reports every keyframe the encoder produced with `sent(now)`.
    """

    def __init__(
        self,
        min_interval: float = KEYFRAME_MIN_INTERVAL,
        max_interval: float = KEYFRAME_MAX_INTERVAL,
    ) -> None:
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.requested = False
        self.last: float | None = None
        self.requests = 0  # counters, for stats and tests
        self.keyframes = 0

    def request(self) -> None:
        """A viewer needs a keyframe (new viewer, PLI, FIR, dropped packets)."""
        self.requested = True
        self.requests += 1

    def reset(self) -> None:
        """Force the next frame to be a keyframe (a new publisher: a new picture)."""
        self.last = None

    def due(self, now: float) -> bool:
        """Whether the frame encoded at `now` must be a keyframe."""
        if self.last is None:
            return True
        elapsed = now - self.last
        return elapsed >= self.max_interval or (self.requested and elapsed >= self.min_interval)

    def sent(self, now: float) -> None:
        """The encoder produced a keyframe at `now`; it serves every pending request."""
        self.last = now
        self.requested = False
        self.keyframes += 1


def auto_kbps(width: int, height: int, fps: float = 30.0) -> int:
    """A VP8 bitrate for a picture size: about 0.12 bit per pixel, within sane bounds."""
    return max(MIN_KBPS, min(MAX_KBPS, round(width * height * fps * 0.12 / 1000)))


def fit_size(width: int, height: int, max_height: int = MAX_HEIGHT) -> tuple[int, int]:
    """The encoded size: at most `max_height` lines, aspect kept, both sides even."""
    if height > max_height:
        width = round(width * max_height / height)
        height = max_height
    return max(2, width - width % 2), max(2, height - height % 2)


class VideoEncoder:
    """One VP8 encoder (libvpx, realtime) for the whole audience of a session.

    Not thread-safe: the broadcast calls `encode` from its one encoder thread only, and
    every frame it gets is owned by that call (frames are never shared across threads).
    """

    def __init__(self, kbps: int = 0, max_height: int = MAX_HEIGHT) -> None:
        self.kbps = kbps
        self.max_height = max_height
        self.codec: av.VideoCodecContext | None = None
        self.size = (0, 0)
        self.frames = 0

    def _open(self, width: int, height: int) -> av.VideoCodecContext:
        bit_rate = 1000 * (self.kbps or auto_kbps(width, height))
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height = width, height
        codec.pix_fmt = "yuv420p"
        codec.bit_rate = bit_rate
        codec.time_base = VIDEO_TIME_BASE
        codec.framerate = fractions.Fraction(30, 1)
        codec.gop_size = 300  # backstop only: KeyframePolicy forces keyframes sooner
        codec.qmin, codec.qmax = 2, 56
        # Realtime one-pass CBR, as aiortc's own VP8 encoder does, without lag.
        codec.options = {
            "bufsize": str(bit_rate),
            "cpu-used": "-6",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": str(bit_rate),
            "maxrate": str(bit_rate),
            "overshoot-pct": "15",
            "undershoot-pct": "100",
            "partitions": "0",
            "static-thresh": "1",
        }
        codec.thread_count = number_of_threads(width * height, 2)
        self.size = (width, height)
        return codec

    def encode(self, frame: av.VideoFrame, pts: int, keyframe: bool) -> list[av.Packet[Any]]:
        """Encode one decoded frame at `pts` (90 kHz); returns the packets, usually one."""
        width, height = fit_size(frame.width, frame.height, self.max_height)
        if frame.format.name != "yuv420p" or (width, height) != (frame.width, frame.height):
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        if self.codec is None or self.size != (width, height):
            self.codec = self._open(width, height)
            keyframe = True
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        packets = self.codec.encode(frame)
        for packet in packets:
            packet.time_base = VIDEO_TIME_BASE
        self.frames += 1
        return packets


class AudioEncoder:
    """One Opus encoder for the whole audience of a session: 20 ms packets, 48 kHz stereo.

    Packet timestamps follow a sample clock that `encode` re-anchors to the wall clock when
    it has fallen behind (the publisher paused or was replaced), so viewers' RTP timestamps
    always advance with real time.
    """

    def __init__(self, kbps: int = 64) -> None:
        self.codec = av.CodecContext.create("libopus", "w")
        self.codec.bit_rate = kbps * 1000
        self.codec.format = "s16"
        self.codec.layout = "stereo"
        self.codec.sample_rate = AUDIO_RATE
        self.codec.time_base = AUDIO_TIME_BASE
        self.codec.options = {"application": "audio"}
        self.resampler = self._resampler()
        self._input: tuple[str, str, int] | None = None
        self.next_pts: int | None = None

    @staticmethod
    def _resampler() -> AudioResampler:
        return AudioResampler(
            format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=AUDIO_FRAME
        )

    def ahead(self, now_pts: int) -> int:
        """How far (in samples) the encoded audio has run ahead of the wall clock."""
        return 0 if self.next_pts is None else self.next_pts - now_pts

    def encode(self, frame: av.AudioFrame, now_pts: int) -> list[av.Packet[Any]]:
        """Encode one decoded frame; `now_pts` is the wall clock in 48 kHz samples."""
        if self.next_pts is None or now_pts - self.next_pts > AUDIO_RATE // 5:
            self.next_pts = now_pts
        # PyAV's resampler refuses a frame unlike its first (another publisher's codec,
        # the stage mix's stereo after a mono one): a new input gets a new resampler.
        signature = (frame.format.name, frame.layout.name, frame.sample_rate)
        if signature != self._input:
            if self._input is not None:
                self.resampler = self._resampler()
            self._input = signature
        frame.pts = None  # the publisher's clock means nothing to ours
        out: list[av.Packet[Any]] = []
        for chunk in self.resampler.resample(frame):
            out.extend(self.codec.encode(chunk))
        for packet in out:
            packet.pts = packet.dts = self.next_pts
            packet.time_base = AUDIO_TIME_BASE
            self.next_pts += AUDIO_FRAME
        return out


def seconds_to_pts(seconds: float, clock: int) -> int:
    """A time in seconds as a whole number of clock ticks."""
    return math.floor(seconds * clock)
