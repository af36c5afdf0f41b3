"""The on-stage voices' mix (companion.media.voice_mix) and its place in the broadcast's
one audio encode (companion.media.broadcast), with real Opus encoding and decoding."""

from __future__ import annotations

import asyncio
import itertools
import math

import av
import numpy as np

from companion.media.broadcast import Broadcast
from companion.media.slate import Cue
from companion.media.voice_mix import FRAME, MAX_BUFFERED, RATE, StereoPcm, VoiceMix


def tone(hz: float, n: int, start: int = 0) -> np.ndarray:
    t = (np.arange(n) + start) / RATE
    return (np.sin(2 * math.pi * hz * t) * 8000).astype(np.int16)


def test_a_voice_is_mixed_in_whole_frames_only() -> None:
    mix = VoiceMix()
    assert not mix.active and mix.take(FRAME) is None
    mix.feed("eva", np.full(FRAME // 2, 100, np.int16))
    assert mix.active and mix.take(FRAME) is None  # half a frame waits for the rest
    mix.feed("eva", np.full(FRAME // 2, 100, np.int16))
    mix.feed("olle", np.full(FRAME, 50, np.int16))
    mixed = mix.take(FRAME)
    assert mixed is not None and mixed.dtype == np.int32 and set(mixed.tolist()) == {150}
    assert mix.take(FRAME) is None  # both used up


def test_a_voice_that_may_not_be_heard_loses_its_samples_and_a_dropped_one_is_gone() -> None:
    mix = VoiceMix()
    mix.feed("eva", np.full(FRAME, 100, np.int16))
    mix.feed("olle", np.full(FRAME, 7, np.int16))
    mixed = mix.take(FRAME, audible=lambda key: key != "eva")
    assert mixed is not None and set(mixed.tolist()) == {7}
    assert mix.buffers["eva"].size == 0  # not kept for later either
    mix.drop("eva")
    mix.drop("olle")
    assert not mix.active


def test_a_voice_running_ahead_loses_its_oldest_samples() -> None:
    mix = VoiceMix()
    mix.feed("eva", np.arange(MAX_BUFFERED + FRAME, dtype=np.int16))
    assert len(mix.buffers["eva"]) == MAX_BUFFERED
    mixed = mix.take(FRAME)
    assert mixed is not None and int(mixed[0]) == FRAME  # the first FRAME samples went


def test_any_decoded_frame_becomes_stereo_48k_even_when_the_source_changes() -> None:
    pcm = StereoPcm()
    stereo = av.AudioFrame.from_ndarray(
        np.tile(np.array([[1, 2]], np.int16), FRAME).reshape(1, -1), format="s16", layout="stereo"
    )
    stereo.sample_rate = RATE
    out = pcm.convert(stereo)
    assert out.shape == (FRAME, 2) and out[0].tolist() == [1, 2]
    mono = av.AudioFrame.from_ndarray(np.full((1, 160), 300, np.int16), format="s16", layout="mono")
    mono.sample_rate = 8000
    converted = [pcm.convert(mono) for _ in range(5)]
    assert sum(len(c) for c in converted) > 4 * FRAME  # 8 kHz became 48 kHz, both channels
    assert all(c.shape[1] == 2 for c in converted)


def dominant_hz(packets: list[av.Packet]) -> float:
    decoder = av.CodecContext.create("opus", "r")
    frames = [f for p in packets for f in decoder.decode(p)]
    assert frames and all(f.format.is_planar for f in frames)  # FFmpeg's opus: fltp
    left = np.concatenate([f.to_ndarray()[0] for f in frames]).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    return float(np.argmax(spectrum) * RATE / len(left))


async def test_without_room_audio_the_voice_is_encoded_once_for_every_viewer() -> None:
    """No publisher: the paced loop encodes the voice alone, every viewer gets the very same
    packets (one encode), 20 ms apart on one clock; the loop ends when the voice goes."""
    broadcast = Broadcast("s1", cue=lambda camera_ok: Cue(None, True))
    tracks = [broadcast.audio.track() for _ in range(3)]
    for track in tracks:
        broadcast.audio.attach(track)
    for k in range(25):  # half a second of voice, fed in real time
        broadcast.feed_voice("eva", tone(440, FRAME, k * FRAME))
        await asyncio.sleep(FRAME / RATE)
    await asyncio.sleep(0.1)
    first = list(tracks[0]._queue)
    assert len(first) >= 20
    for track in tracks[1:]:
        assert list(track._queue) == first  # the same packet objects
    assert abs(dominant_hz(first) - 440) < 15
    steps = {b.pts - a.pts for a, b in itertools.pairwise(first)}
    assert steps == {FRAME}
    assert broadcast.stats()["voice_frames"] == len(first)
    loop = broadcast._voice_loop
    broadcast.drop_voice("eva")
    await asyncio.sleep(0.1)
    assert loop is not None and loop.done()
    broadcast.close()
