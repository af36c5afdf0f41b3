"""Real aiortc peers for stream tests and the fan-out benchmark: a WHIP publisher sending
frames that carry a counter (as blocks of binary digits and a background colour) plus a
tone, and WHEP viewers that decode and read them back.

Frame k shows k as 16 black/white blocks in the top band, the same bits inverted in a
second band (a check that the picture was decoded right, not guessed), and a background
colour picked by k modulo the palette. Nothing here mocks the media path.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import (
    AudioStreamTrack,
    MediaStreamError,
    MediaStreamTrack,
    VideoStreamTrack,
)

from companion.media.slate_picture import BACKGROUNDS

BITS = 16
# Background colours as (Y, U, V), far apart so lossy coding cannot turn one into another.
PALETTE = [
    (81, 90, 240),
    (145, 54, 34),
    (41, 240, 110),
    (210, 16, 146),
    (170, 166, 16),
    (106, 202, 222),
]
TONE_HZ = 440


@dataclass
class HttpAnswer:
    """Status, headers (lower-case names; repeated ones joined with newlines) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")


def _http(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> HttpAnswer:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, raw, data = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, raw, data = exc.code, exc.headers, exc.read()
    merged: dict[str, str] = {}
    for name, value in raw.items():
        key = name.lower()
        merged[key] = f"{merged[key]}\n{value}" if key in merged else value
    return HttpAnswer(status, merged, data)


async def http(
    method: str,
    url: str,
    body: str | bytes | None = None,
    token: str | None = None,
    content_type: str | None = "application/sdp",
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """One HTTP request from a worker thread (so the event loop keeps serving media)."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    if body is not None and content_type:
        all_headers["Content-Type"] = content_type
    data = body.encode() if isinstance(body, str) else body
    return await asyncio.to_thread(_http, method, url, data, all_headers)


# -- the picture -------------------------------------------------------------------------


def counter_frame(
    k: int, width: int, height: int, noise: np.ndarray | None = None
) -> av.VideoFrame:
    """Frame number k as a yuv420p frame (see the module docstring)."""
    y_bg, u_bg, v_bg = PALETTE[k % len(PALETTE)]
    y = np.full((height, width), y_bg, dtype=np.uint8)
    if noise is not None:  # moving texture, so the encoder has real work to do
        shift = (k * 7) % noise.shape[1]
        y[height // 2 :] = np.roll(noise, shift, axis=1)[: height - height // 2, :width]
    band = height // 6
    block = width // BITS
    for i in range(BITS):
        bit = (k >> (BITS - 1 - i)) & 1
        y[0:band, i * block : (i + 1) * block] = 235 if bit else 16
        y[band : 2 * band, i * block : (i + 1) * block] = 16 if bit else 235
    u = np.full((height // 2, width // 2), u_bg, dtype=np.uint8)
    v = np.full((height // 2, width // 2), v_bg, dtype=np.uint8)
    u[:band] = 128  # the two bit bands (2 * band luma rows) are grey-scale
    v[:band] = 128
    return av.VideoFrame.from_ndarray(
        np.concatenate([y, u.reshape(-1, width), v.reshape(-1, width)]), format="yuv420p"
    )


def camera_like_texture(height: int, width: int) -> np.ndarray:
    """Smooth shapes plus a little sensor noise: costs an encoder about what a camera does."""
    rng = np.random.default_rng(1)
    rows = np.sin(np.arange(height) / 9) * 60
    cols = np.cos(np.arange(width) / 13) * 60
    texture = np.add.outer(rows, cols) + 128 + rng.integers(0, 20, (height, width))
    return texture.clip(0, 255).astype(np.uint8)


def read_counter(frame: av.VideoFrame) -> tuple[int, bool] | None:
    """(counter, colour matches) of a decoded frame, or None if the bits do not check out."""
    width, height = frame.width, frame.height
    planes = frame.to_ndarray(format="yuv420p")
    y = planes[:height]
    band = height // 6
    block = width // BITS
    value = 0
    for i in range(BITS):
        cx = i * block + block // 2
        top = int(y[band // 2, cx])
        bottom = int(y[band + band // 2, cx])
        bit = top > 128
        if bit == (bottom > 128):
            return None  # the check band disagrees: not a clean picture
        value = (value << 1) | int(bit)
    # The background, sampled in the upper half below the bands, plus its colour.
    row = min(height // 2 - 2, 2 * band + (height // 2 - 2 * band) // 2)
    u_plane = planes[height : height + height // 4].reshape(height // 2, width // 2)
    v_plane = planes[height + height // 4 :].reshape(height // 2, width // 2)
    got = (
        int(y[row, width // 2]),
        int(u_plane[row // 2, width // 4]),
        int(v_plane[row // 2, width // 4]),
    )
    want = PALETTE[value % len(PALETTE)]
    colour_ok = all(abs(a - b) < 24 for a, b in zip(got, want, strict=True))
    return value, colour_ok


def slate_kind(frame: av.VideoFrame) -> str | None:
    """The kind of slate a decoded frame shows (by its background colour, sampled in the
    bottom right corner, where a slate has no text), or None for anything else."""
    rgb = frame.to_ndarray(format="rgb24")
    height, width = rgb.shape[:2]
    patch = rgb[int(height * 0.95) : int(height * 0.99), int(width * 0.96) : int(width * 0.99)]
    got = patch.reshape(-1, 3).mean(axis=0)
    for kind, colour in BACKGROUNDS.items():
        if all(abs(float(a) - b) < 20 for a, b in zip(got, colour, strict=True)):
            return kind.value
    return None


class CounterTrack(VideoStreamTrack):
    """Video whose frame k shows the counter k; remembers when each frame was made."""

    def __init__(self, width: int = 320, height: int = 240, noise: bool = False) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.count = 0
        self.sent_at: dict[int, float] = {}
        self._noise = camera_like_texture(height, width * 2) if noise else None

    async def recv(self) -> av.VideoFrame:
        """The next frame, paced at 30 fps by aiortc's clock."""
        pts, time_base = await self.next_timestamp()
        k = self.count
        self.count += 1
        frame = counter_frame(k, self.width, self.height, self._noise)
        frame.pts, frame.time_base = pts, time_base
        self.sent_at[k & 0xFFFF] = time.monotonic()
        return frame


class ToneTrack(AudioStreamTrack):
    """A 440 Hz sine, 48 kHz mono, 20 ms frames."""

    def __init__(self) -> None:
        super().__init__()
        self._samples = 0

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms of tone, paced in real time."""
        if self.readyState != "live":
            raise MediaStreamError
        rate, n = 48000, 960
        if hasattr(self, "_start"):
            self._timestamp += n
            wait = self._start + self._timestamp / rate - time.time()
            await asyncio.sleep(max(0.0, wait))
        else:
            self._start = time.time()
            self._timestamp = 0
        t = (np.arange(n) + self._samples) / rate
        self._samples += n
        pcm = (np.sin(2 * math.pi * TONE_HZ * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, rate)
        return frame


class H264HighTrack(MediaStreamTrack):
    """Counter frames pre-encoded with libx264 high profile (Annex B), as OBS sends them."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.source = CounterTrack(width, height)
        self.codec = av.CodecContext.create("libx264", "w")
        self.codec.width, self.codec.height = width, height
        self.codec.pix_fmt = "yuv420p"
        self.codec.time_base = fractions.Fraction(1, 90000)
        self.codec.framerate = fractions.Fraction(30, 1)
        self.codec.profile = "High"
        self.codec.gop_size = 30
        self.codec.options = {"tune": "zerolatency", "preset": "ultrafast"}
        self._pending: list[av.Packet] = []

    @property
    def sent_at(self) -> dict[int, float]:
        """When each counter frame was made."""
        return self.source.sent_at

    async def recv(self) -> av.Packet:
        """The next encoded packet."""
        while not self._pending:
            frame = await self.source.recv()
            self._pending = list(self.codec.encode(frame))
        packet = self._pending.pop(0)
        packet.time_base = fractions.Fraction(1, 90000)
        return packet


def prefer(transceiver: Any, mime: str, profile: str | None = None) -> None:
    """Make a transceiver negotiate one codec (and RTX)."""
    kind = mime.split("/")[0]
    codecs = [
        c
        for c in RTCRtpSender.getCapabilities(kind).codecs
        if c.mimeType.lower() == mime.lower()
        and (profile is None or c.parameters.get("profile-level-id") == profile)
    ]
    assert codecs, f"no {mime} {profile or ''} in aiortc's capabilities"
    rtx = [
        c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType.lower().endswith("/rtx")
    ]
    transceiver.setCodecPreferences(codecs + rtx)


# -- the peers -------------------------------------------------------------------------


@dataclass
class Publisher:
    """An aiortc WHIP publisher."""

    base: str
    session: str
    token: str
    video: MediaStreamTrack | None = None
    audio: MediaStreamTrack | None = None
    h264_profile: str | None = None
    pc: RTCPeerConnection | None = None
    answer: HttpAnswer | None = None
    location: str | None = None
    endpoint: str = "whip"  # "whip-stage" for a voice on stage

    async def start(self) -> HttpAnswer:
        """Offer, POST to WHIP, apply the answer; returns the HTTP answer."""
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if self.video is not None:
            transceiver = self.pc.addTransceiver(self.video, direction="sendonly")
            if self.h264_profile:
                prefer(transceiver, "video/H264", self.h264_profile)
        if self.audio is not None:
            self.pc.addTransceiver(self.audio, direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.answer = await http(
            "POST",
            f"{self.base}/{self.endpoint}/{self.session}",
            self.pc.localDescription.sdp,
            self.token,
        )
        if self.answer.status == 201:
            self.location = self.answer.headers["location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(self.answer.text, "answer"))
        else:
            await self.pc.close()
        return self.answer

    async def stop(self, delete: bool = True) -> HttpAnswer | None:
        """DELETE the resource (unless told not to) and close the connection."""
        result = None
        if delete and self.location:
            result = await http("DELETE", self.location, token=self.token, content_type=None)
        if self.pc is not None:
            await self.pc.close()
        return result


@dataclass
class Viewer:
    """An aiortc WHEP viewer that decodes what it receives and reads the counters."""

    base: str
    session: str
    token: str
    audio: bool = True
    decode: bool = True
    pc: RTCPeerConnection | None = None
    location: str | None = None
    frames: list[tuple[int, float, bool]] = field(default_factory=list)  # counter, time, colour ok
    unreadable: int = 0
    first_frame_at: float | None = None
    audio_frames: int = 0
    audio_samples: list[np.ndarray] = field(default_factory=list)
    sizes: dict[tuple[int, int], float] = field(default_factory=dict)  # size -> first seen
    slates: list[tuple[str, float]] = field(default_factory=list)  # slate kind, time
    audio_at: list[float] = field(default_factory=list)  # when each audio frame came
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    on_frame: Callable[[int, float], None] | None = None
    config: RTCConfiguration | None = None  # ICE servers and policy (none: host candidates)

    async def start(self) -> HttpAnswer:
        """Offer (receive only), POST to WHEP, apply the answer."""
        self.pc = RTCPeerConnection(self.config or RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        if self.audio:
            self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._read(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await http(
            "POST", f"{self.base}/whep/{self.session}", self.pc.localDescription.sdp, self.token
        )
        if answer.status == 201:
            self.location = answer.headers["location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        else:
            await self.pc.close()
        return answer

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if track.kind == "audio":
                    self.audio_frames += 1
                    self.audio_at.append(now)
                    if len(self.audio_samples) < 400:
                        self.audio_samples.append(frame.to_ndarray().reshape(-1))
                    continue
                self.sizes.setdefault((frame.width, frame.height), now)
                if self.first_frame_at is None:
                    self.first_frame_at = now
                got = read_counter(frame)
                if got is None:
                    kind = slate_kind(frame)
                    if kind is not None:
                        self.slates.append((kind, now))
                    else:
                        self.unreadable += 1
                    continue
                self.frames.append((got[0], now, got[1]))
                if self.on_frame is not None:
                    self.on_frame(got[0], now)

    def counters(self, since: float = 0.0) -> list[int]:
        """Counters read from frames received after `since` (monotonic)."""
        return [k for k, at, _ in self.frames if at >= since]

    def tone_hz(self) -> float:
        """The dominant frequency of the received audio (interleaved stereo, 48 kHz)."""
        pcm = np.concatenate(self.audio_samples[-100:]).astype(np.float64)
        left = pcm[0::2]
        spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
        return float(np.argmax(spectrum) * 48000 / len(left))

    async def stop(self, delete: bool = True) -> HttpAnswer | None:
        """DELETE the resource and close the connection."""
        result = None
        if delete and self.location:
            result = await http("DELETE", self.location, token=self.token, content_type=None)
        if self.pc is not None:
            await self.pc.close()
        for task in self._tasks:
            task.cancel()
        return result


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll a condition until it holds or the time is up; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()
