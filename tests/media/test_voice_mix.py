"""The on-stage voices' mix (companion.media.voice_mix) and its place in the broadcast's
one audio encode (companion.media.broadcast), with real Opus encoding and decoding."""

from __future__ import annotations

import asyncio
import itertools
import math

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

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


def one_clock(pts: list[int]) -> bool:
    """Audio timestamps of one clock: each packet 20 ms after the one before, or, after
    the process was held up for 200 ms or more, re-anchored later (AudioEncoder): never a
    small hole, never two packets for the same 20 ms."""
    steps = [b - a for a, b in itertools.pairwise(pts)]
    return bool(steps) and all(s == FRAME or s > RATE // 5 for s in steps)


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
    assert one_clock([p.pts for p in first])
    assert broadcast.stats()["voice_frames"] == len(first) + tracks[0].dropped  # queue's limit
    loop = broadcast._voice_loop
    broadcast.drop_voice("eva")
    await asyncio.sleep(0.1)
    assert loop is not None and loop.done()
    broadcast.close()


class RoomTone(MediaStreamTrack):
    """A publisher's decoded audio: 1 kHz, 20 ms frames in real time, s16 stereo 48 kHz as
    aiortc's Opus decoder gives them; after `frames` it stalls (no frame, no end)."""

    kind = "audio"

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.left = frames
        self.k = 0
        self.stalled = asyncio.Event()

    async def recv(self) -> av.AudioFrame:
        if self.left == 0:
            self.stalled.set()
            await asyncio.Event().wait()  # a publisher gone quiet without a word
        self.left -= 1
        await asyncio.sleep(FRAME / RATE)
        mono = tone(1000, FRAME, self.k * FRAME)
        self.k += 1
        frame = av.AudioFrame.from_ndarray(
            np.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = RATE
        return frame


async def test_a_stalled_room_hands_the_voice_to_the_loop_on_one_clock() -> None:
    """While the room's frames come they carry the voice (the loop encodes nothing); when
    they stop coming without an end, the loop takes the voice on within a few frames; the
    packets' timestamps go on 20 ms apart throughout."""
    broadcast = Broadcast("s1", cue=lambda camera_ok: Cue(None, True))
    viewer = broadcast.audio.track()
    broadcast.audio.attach(viewer)
    room = RoomTone(frames=25)
    pump = asyncio.ensure_future(broadcast.pump_audio(room, lambda: None))

    fed: list[float] = []  # when each 20 ms of voice was fed

    async def speak() -> None:
        for k in range(60):
            broadcast.feed_voice("eva", tone(440, FRAME, k * FRAME))
            fed.append(asyncio.get_running_loop().time())
            await asyncio.sleep(FRAME / RATE)

    speaking = asyncio.ensure_future(speak())
    await room.stalled.wait()
    with_room = broadcast.stats()
    assert with_room["mixed_frames"] >= 20 and with_room["voice_frames"] <= 2, with_room
    stalled_at = asyncio.get_running_loop().time()
    await speaking
    alone = broadcast.stats()["voice_frames"] - with_room["voice_frames"]
    # Quiet machine: all but the 5 quiet ticks and a frame or two. On busy cores the loop's
    # late ticks do not count towards a stall, so it may take over later, never not at all.
    after = sum(1 for at in fed if at >= stalled_at)
    print(f"{alone} voice-alone frames of {after} fed after the stall")
    assert alone >= after - 8 or (alone > 0 and alone >= after / 2), (alone, after)
    assert one_clock([p.pts for p in viewer._queue])
    pump.cancel()
    broadcast.close()
