"""On-stage voices summed into 20 ms frames, for the room's speakers and for the stream.

Each voice (mono 48 kHz, decoded once by its pump in `companion.media.stage_voices`) waits
in its own buffer; a frame takes whole frames of every voice that has one, so a voice
whose packets come a little late is heard a frame later rather than cut into pieces, and
a voice running further ahead than MAX_BUFFERED loses its oldest samples (low delay wins
over completeness). Everything here runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av.audio.resampler import AudioResampler

RATE = 48_000
FRAME = 960  # 20 ms at 48 kHz, Opus's usual frame
# What a voice may run ahead of the mix before its oldest samples are dropped: enough for
# network jitter, little enough that the room hears the speaker with low delay.
MAX_BUFFERED = RATE * 120 // 1000


def _always(_key: str) -> bool:
    return True


class VoiceMix:
    """The buffered samples of each voice (by key), summed on demand."""

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    @property
    def active(self) -> bool:
        """Whether any voice is being fed (it stays so until it is dropped)."""
        return bool(self.buffers)

    def feed(self, key: str, samples: np.ndarray) -> None:
        """Mono 48 kHz int16 samples of one voice; the oldest go past MAX_BUFFERED."""
        buffered = np.concatenate((self.buffers.get(key, np.zeros(0, np.int16)), samples))
        self.buffers[key] = buffered[-MAX_BUFFERED:]

    def drop(self, key: str) -> None:
        """Forget a voice and what it had buffered (ended, muted)."""
        self.buffers.pop(key, None)

    def take(self, n: int, audible: Callable[[str], bool] = _always) -> np.ndarray | None:
        """The next `n` samples of the voices summed (int32), or None when no voice had
        `n` samples ready (those wait for the next call). A voice that is not `audible`
        loses its samples without being heard."""
        mixed: np.ndarray | None = None
        for key in list(self.buffers):
            buffered = self.buffers[key]
            if len(buffered) < n:
                continue
            self.buffers[key] = buffered[n:]
            if audible(key):
                part = buffered[:n].astype(np.int32)
                mixed = part if mixed is None else mixed + part
        return mixed


class PacedMix(MediaStreamTrack):
    """An audio track of a `VoiceMix`, one 20 ms frame at a time on the wall clock.

    Silence when no voice has a whole frame ready. Subclasses say which keys are heard
    now (`heard`) and may prepare each frame (`before_frame`).
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.mix = VoiceMix()
        self._start: float | None = None
        self._pts = 0

    def heard(self, key: str) -> bool:
        return True

    def before_frame(self) -> None:
        """Called before each frame is mixed."""

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self.before_frame()
        if self._start is None:
            self._start = time.time()
        else:
            self._pts += FRAME
            wait = self._start + self._pts / RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        mixed = self.mix.take(FRAME, self.heard)
        frame = pcm_frame(np.zeros(FRAME, np.int32) if mixed is None else mixed, "mono")
        frame.pts = self._pts
        return frame


def pcm_frame(samples: np.ndarray, layout: str) -> av.AudioFrame:
    """Packed int samples (`n` mono, or `n x 2` stereo) as an s16 48 kHz frame, clipped."""
    pcm = np.clip(samples, -32768, 32767).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
    frame.sample_rate = RATE
    frame.time_base = fractions.Fraction(1, RATE)
    return frame


class StereoPcm:
    """Any decoded audio frame as packed s16 48 kHz stereo samples (`n x 2`, int32).

    A publisher may change its codec, rate or layout (a new publisher, PCMU instead of
    Opus): PyAV's resampler refuses a frame unlike its first, so it is made anew then.
    """

    def __init__(self) -> None:
        self._resampler: AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None

    def convert(self, frame: av.AudioFrame) -> np.ndarray:
        signature = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._resampler is None or signature != self._input:
            self._resampler = AudioResampler(format="s16", layout="stereo", rate=RATE)
            self._input = signature
        chunks = [out.to_ndarray().reshape(-1, 2) for out in self._resampler.resample(frame)]
        if not chunks:
            return np.zeros((0, 2), np.int32)
        return np.concatenate(chunks).astype(np.int32)
