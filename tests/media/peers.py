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
from collections import deque
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

from companion.media.name_card import CARD, card_boxes
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
ROOM_HZ = 1000  # the room publisher's tone when a voice on stage is mixed with it
HEARS = 100  # spectrum magnitude per sample at a tone's frequency: 8000-amplitude tone ~2000


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


def decode_queued(track: Any, decoder: av.CodecContext) -> list[av.VideoFrame]:
    """The frames of the packets queued for a fan-out track (a viewer without a network)."""
    frames: list[av.VideoFrame] = []
    while track._queue:
        frames.extend(decoder.decode(track._queue.popleft()))  # type: ignore[arg-type]
    return frames


def name_cards_shown(frame: av.VideoFrame) -> int:
    """How many of the stream's name cards (the lower third) a decoded frame shows: 0, 1
    or 2, told by the card's colour in the empty strip along each card's bottom edge."""
    rgb = frame.to_ndarray(format="rgb24")
    height, width = rgb.shape[:2]
    pad = max(2, round(height * 0.022))

    def card_at(box: Any) -> bool:
        bottom = box.y + box.height
        strip = rgb[bottom - pad + 2 : bottom - 2, box.x + box.width // 2 : box.x + box.width - 4]
        got = strip.reshape(-1, 3).mean(axis=0)
        return all(abs(float(a) - b) < 24 for a, b in zip(got, CARD, strict=True))

    for count in (2, 1):
        if all(card_at(box) for box in card_boxes(count, width, height)):
            return count
    return 0


def muted_cards_shown(frame: av.VideoFrame) -> int:
    """How many of the name cards a decoded frame shows with "Mikrofonen är avstängd": told
    by the badge's red over the card's lower left, where the English line is otherwise."""
    rgb = frame.to_ndarray(format="rgb24").astype(int)
    height, width = rgb.shape[:2]
    pad = max(2, round(height * 0.022))
    muted = 0
    for box in card_boxes(name_cards_shown(frame), width, height):
        bottom = box.y + box.height - pad
        area = rgb[bottom - round(height * 0.04) : bottom, box.x : box.x + box.width // 2]
        red = (area[..., 0] > 130) & (area[..., 1] < 80) & (area[..., 2] < 80)
        muted += int(red.mean() > 0.15)
    return muted


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
    """A sine (440 Hz unless told), 48 kHz mono, 20 ms frames."""

    def __init__(self, hz: float = TONE_HZ) -> None:
        super().__init__()
        self.hz = hz
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
        pcm = (np.sin(2 * math.pi * self.hz * t) * 8000).astype(np.int16).reshape(1, -1)
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


async def negotiate(pc: RTCPeerConnection, url: str, token: str) -> HttpAnswer:
    """Offer what `pc` has, POST it (WHIP or WHEP) and apply a 201's answer; on any other
    answer the connection is closed."""
    await pc.setLocalDescription(await pc.createOffer())
    answer = await http("POST", url, pc.localDescription.sdp, token)
    if answer.status == 201:
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
    else:
        await pc.close()
    return answer


class Heard:
    """Decoded audio as it came: each frame's arrival (monotonic) and its left channel.

    Keeps the last `keep` frames (a minute at 20 ms), so long runs do not grow without end.
    """

    def __init__(self, keep: int = 3000) -> None:
        self.frames: deque[tuple[float, np.ndarray]] = deque(maxlen=keep)

    def __iter__(self) -> Any:
        return iter(self.frames)

    def add(self, frame: av.AudioFrame, at: float) -> None:
        pcm = frame.to_ndarray().reshape(-1).astype(np.float64)
        self.frames.append((at, pcm[:: len(frame.layout.channels)]))  # packed: interleaved

    def since(self, start: float, end: float | None = None) -> np.ndarray:
        chunks = [p for at, p in self.frames if at >= start and (end is None or at < end)]
        return np.concatenate(chunks) if chunks else np.zeros(0)

    def level(self, hz: float, start: float, end: float | None = None) -> float:
        """How much of a tone is in the audio heard between two moments: the windowed
        spectrum's magnitude within 10 Hz of `hz`, per sample (about a quarter of the
        tone's amplitude; 0 for silence, or for less than 2048 samples)."""
        pcm = self.since(start, end)
        if len(pcm) < 2048:
            return 0.0
        spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
        step = 48000 / len(pcm)
        low, high = int((hz - 10) / step), int((hz + 10) / step) + 1
        return float(spectrum[low : high + 1].max() / len(pcm))

    def hears(self, hz: float, seconds: float = 0.2) -> bool:
        """Whether the tone is clearly in the last `seconds` of audio."""
        return self.level(hz, time.monotonic() - seconds) > HEARS

    def gone_since(self, hz: float, start: float, window: float = 0.1) -> float | None:
        """When a tone stopped being heard for good after `start` (the start of the first
        `window`-second stretch after which none has the tone), if it did."""
        times = [at for at, _ in self.frames if at >= start]
        gone_from = None
        for at in times:
            if self.level(hz, at, at + window) > HEARS:
                gone_from = None
            elif gone_from is None:
                gone_from = at
        return gone_from

    def silent_since(self, start: float) -> float | None:
        """When the audio heard after `start` went quiet for good (RMS under 30), if it did."""
        quiet_from = None
        for at, pcm in self.frames:
            if at < start:
                continue
            if float(np.sqrt(np.mean(pcm**2))) >= 30:
                quiet_from = None
            elif quiet_from is None:
                quiet_from = at
        return quiet_from


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
    # A voice on stage that offers sendrecv, as the remote page does: its return feed,
    # decoded and timed, and when that track ended (None while it goes on).
    hear: bool = False
    heard: Heard = field(default_factory=Heard)
    heard_until: float | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> HttpAnswer:
        """Offer, POST to WHIP, apply the answer; returns the HTTP answer."""
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if self.video is not None:
            transceiver = self.pc.addTransceiver(self.video, direction="sendonly")
            if self.h264_profile:
                prefer(transceiver, "video/H264", self.h264_profile)
        if self.audio is not None:
            self.pc.addTransceiver(self.audio, direction="sendrecv" if self.hear else "sendonly")

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

        url = f"{self.base}/{self.endpoint}/{self.session}"
        self.answer = await negotiate(self.pc, url, self.token)
        if self.answer.status == 201:
            self.location = self.answer.headers["location"]
        return self.answer

    async def _listen(self, track: MediaStreamTrack) -> None:
        """What the server sends back (a voice's return feed), until it ends."""
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.heard.add(frame, time.monotonic())
        self.heard_until = time.monotonic()

    async def stop(self, delete: bool = True) -> HttpAnswer | None:
        """DELETE the resource (unless told not to) and close the connection."""
        result = None
        if delete and self.location:
            result = await http("DELETE", self.location, token=self.token, content_type=None)
        if self.pc is not None:
            await self.pc.close()
        for task in self._tasks:
            task.cancel()
        return result


@dataclass
class Viewer:
    """An aiortc WHEP viewer that decodes what it receives and reads the counters; with
    `endpoint="whep-room-audio"` and `video=False`, the room's speakers."""

    base: str
    session: str
    token: str
    audio: bool = True
    video: bool = True
    endpoint: str = "whep"
    heard: Heard = field(default_factory=Heard)  # the decoded audio, timed
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
    audio_pts: list[int] = field(default_factory=list)  # each audio frame's RTP timestamp
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    on_frame: Callable[[int, float], None] | None = None
    config: RTCConfiguration | None = None  # ICE servers and policy (none: host candidates)
    watch_cards: bool = False  # also read the lower third of every frame (into `cards`)
    cards: list[tuple[int, float]] = field(default_factory=list)  # name cards shown, time
    on_picture: Callable[[av.VideoFrame, float], None] | None = None  # every video frame
    muted_cards: list[tuple[int, float]] = field(default_factory=list)  # of them muted, time

    async def start(self) -> HttpAnswer:
        """Offer (receive only), POST to WHEP, apply the answer."""
        self.pc = RTCPeerConnection(self.config or RTCConfiguration(iceServers=[]))
        if self.video:
            self.pc.addTransceiver("video", direction="recvonly")
        if self.audio:
            self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._read(track)))

        answer = await negotiate(self.pc, f"{self.base}/{self.endpoint}/{self.session}", self.token)
        if answer.status == 201:
            self.location = answer.headers["location"]
        return answer

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if track.kind == "audio":
                    self.audio_frames += 1
                    self.audio_at.append(now)
                    self.heard.add(frame, now)
                    self.audio_pts.append(frame.pts)
                    if len(self.audio_samples) < 400:
                        self.audio_samples.append(frame.to_ndarray().reshape(-1))
                    continue
                self.sizes.setdefault((frame.width, frame.height), now)
                if self.on_picture is not None:
                    self.on_picture(frame, now)
                if self.first_frame_at is None:
                    self.first_frame_at = now
                if self.watch_cards:
                    self.cards.append((name_cards_shown(frame), now))
                    self.muted_cards.append((muted_cards_shown(frame), now))
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


def room_audio(base: str, session: str, token: str) -> Viewer:
    """The room's speakers: an audio-only viewer of /whep-room-audio (the on-stage voices)."""
    return Viewer(base, session, token, video=False, endpoint="whep-room-audio")


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll a condition until it holds or the time is up; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()
