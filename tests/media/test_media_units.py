"""The parts of encode-once, one at a time: keyframe policy, encoders, fan-out queues, the
broadcast with a real encoder, stream keys, ICE links and the stream's session events."""

from __future__ import annotations

import asyncio
import itertools
import time

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from companion.cli import demo_programme_text
from companion.domain import events as ev
from companion.domain.errors import InvalidState
from companion.domain.session_state import SessionState
from companion.media.broadcast import Broadcast
from companion.media.encoder import (
    AUDIO_FRAME,
    AudioEncoder,
    KeyframePolicy,
    VideoEncoder,
    auto_kbps,
    fit_size,
)
from companion.media.fanout import Fanout
from companion.media.ice_servers import IceServers, rest_credential
from companion.media.signalling import ice_links
from companion.media.slate import Cue
from companion.programme_file import parse_programme
from companion.services.projection import project
from companion.services.stream_access import stream_key
from companion.settings import Settings
from tests.media.peers import CounterTrack, ToneTrack, counter_frame, read_counter

pytestmark = pytest.mark.timeout(30)


# -- keyframe policy -------------------------------------------------------------------


def test_first_frame_and_gop_floor_are_keyframes() -> None:
    """The first frame is a keyframe, and then at least one every max_interval."""
    policy = KeyframePolicy(min_interval=0.5, max_interval=2.0)
    assert policy.due(0.0)
    policy.sent(0.0)
    assert not policy.due(1.9)
    assert policy.due(2.0)


def test_a_flood_of_requests_is_rate_limited() -> None:
    """Requests before every frame of 10 s at 30 fps give 20 keyframes, not 300."""
    policy = KeyframePolicy(min_interval=0.5, max_interval=2.0)
    keyframes = 0
    for i in range(300):
        now = i / 30
        policy.request()
        if policy.due(now):
            policy.sent(now)
            keyframes += 1
    assert 19 <= keyframes <= 21
    assert policy.requests == 300


def test_a_request_waits_for_the_interval_but_is_not_lost() -> None:
    """A request right after a keyframe is served once the interval has passed."""
    policy = KeyframePolicy(min_interval=0.5, max_interval=10.0)
    policy.sent(0.0)
    policy.request()
    assert not policy.due(0.2)
    assert policy.due(0.5)
    policy.reset()
    assert policy.due(0.6)  # a new publisher starts with a keyframe at once


def test_sizes_and_bitrates() -> None:
    """Pictures above 720 lines are scaled down with even sides; the bitrate follows the size."""
    assert fit_size(1920, 1080) == (1280, 720)
    assert fit_size(641, 361) == (640, 360)
    assert fit_size(320, 240) == (320, 240)
    assert auto_kbps(640, 360) < auto_kbps(1280, 720) <= 2500
    assert auto_kbps(16, 16) == 300


# -- encoders --------------------------------------------------------------------------


def test_video_encoder_forces_keyframes_and_keeps_content() -> None:
    """Forced frames come out as keyframes, the others not; decoding gives the counters back."""
    encoder = VideoEncoder()
    decoder = av.CodecContext.create("libvpx", "r")
    seen = []
    for k in range(12):
        packets = encoder.encode(counter_frame(k, 320, 240), k * 3000, keyframe=k in (0, 8))
        assert len(packets) == 1
        assert bool(packets[0].is_keyframe) == (k in (0, 8))
        for frame in decoder.decode(packets[0]):
            seen.append(read_counter(frame))
    assert seen == [(k, True) for k in range(12)]


def test_video_encoder_scales_big_pictures_and_follows_size_changes() -> None:
    """1080p is encoded as 720p; a new size restarts the encoder with a keyframe."""
    encoder = VideoEncoder()
    big = encoder.encode(counter_frame(1, 1920, 1080), 0, keyframe=False)
    assert encoder.size == (1280, 720) and big[0].is_keyframe
    encoder.encode(counter_frame(2, 1920, 1080), 3000, keyframe=False)
    small = encoder.encode(counter_frame(3, 320, 240), 6000, keyframe=False)
    assert encoder.size == (320, 240) and small[0].is_keyframe


def test_audio_encoder_timestamps_follow_the_clock() -> None:
    """Opus packets are 20 ms apart, and jump forward after a gap instead of lagging."""
    encoder = AudioEncoder()
    tone = ToneTrack()
    loop = asyncio.new_event_loop()
    try:
        frames = [loop.run_until_complete(tone.recv()) for _ in range(10)]
    finally:
        loop.close()
    packets = []
    for i, frame in enumerate(frames[:5]):
        packets += encoder.encode(frame, i * AUDIO_FRAME)
    pts = [p.pts for p in packets]
    assert pts == list(range(pts[0], pts[0] + AUDIO_FRAME * len(pts), AUDIO_FRAME))
    later = encoder.encode(frames[5], 48000 * 60)  # a minute later: a new publisher
    assert all(p.pts >= 48000 * 60 for p in later)


def test_audio_encoder_follows_a_change_of_input_format() -> None:
    """A publisher replaced by one with another codec (PCMU decodes to 8 kHz mono), or the
    stage mix's stereo after a mono source: the encoder goes on (PyAV's resampler refused
    every frame unlike its first, and the audio fell silent)."""
    encoder = AudioEncoder()
    packets = []
    for i in range(5):
        stereo = av.AudioFrame.from_ndarray(
            np.zeros((1, 2 * AUDIO_FRAME), np.int16), format="s16", layout="stereo"
        )
        stereo.sample_rate = 48000
        packets += encoder.encode(stereo, i * AUDIO_FRAME)
    before = len(packets)
    for i in range(5, 15):
        mono = av.AudioFrame.from_ndarray(np.zeros((1, 160), np.int16), format="s16", layout="mono")
        mono.sample_rate = 8000
        packets += encoder.encode(mono, i * AUDIO_FRAME)
    assert before >= 4 and len(packets) - before >= 8
    pts = [p.pts for p in packets]
    assert all(b > a for a, b in itertools.pairwise(pts))


# -- fan-out ---------------------------------------------------------------------------


def packet(size: int = 10) -> av.Packet:
    """A stand-in encoded packet."""
    return av.Packet(b"\0" * size)


async def test_new_video_viewer_asks_for_a_keyframe_and_starts_on_one() -> None:
    """A viewer attaches on its first read, asks for a keyframe and skips everything before it."""
    requests = []
    fanout = Fanout("video", lambda: requests.append(1), limit=5)
    track = fanout.track()
    reading = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    assert requests == [1] and track in fanout.tracks
    fanout.push(packet(1), keyframe=False)
    key = packet(2)
    fanout.push(key, keyframe=True)
    assert await asyncio.wait_for(reading, 1) is key
    track.stop()
    assert track not in fanout.tracks


async def test_a_slow_viewer_drops_to_the_next_keyframe_without_holding_up_others() -> None:
    """A viewer that does not read loses its backlog and resumes at a keyframe; a reading one gets everything."""
    requests = []
    fanout = Fanout("video", lambda: requests.append(1), limit=5)
    slow, fast = fanout.track(), fanout.track()
    for track in (slow, fast):
        fanout.attach(track)
    got = []
    fanout.push(packet(), keyframe=True)
    for i in range(20):
        fanout.push(packet(), keyframe=False)
        got.append(await asyncio.wait_for(fast.recv(), 1))
        if i == 0:
            got.append(await asyncio.wait_for(fast.recv(), 1))
    assert len(got) == 21 and fast.dropped == 0
    assert slow.dropped >= 15 and len(slow._queue) <= 5
    assert len(requests) >= 3  # two attaches, then the slow viewer's own request
    fanout.push(key := packet(3), keyframe=True)
    assert await asyncio.wait_for(slow.recv(), 1) is key


async def test_audio_viewer_drops_the_oldest() -> None:
    """Audio keeps the newest second: the oldest packets go first."""
    fanout = Fanout("audio", limit=3)
    track = fanout.track()
    fanout.attach(track)
    packets = [packet(i + 1) for i in range(5)]
    for p in packets:
        fanout.push(p)
    assert [await track.recv() for _ in range(3)] == packets[2:]


async def test_stopped_track_ends_its_reader() -> None:
    """Stopping a track (the sender stopped) ends a pending read."""
    fanout = Fanout("audio")
    track = fanout.track()
    reading = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    track.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(reading, 1)


# -- the broadcast, with a real encoder ------------------------------------------------


class FastCounter(MediaStreamTrack):
    """Counter frames as fast as asked, then the end of the track."""

    kind = "video"

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.left = frames
        self.k = 0

    async def recv(self) -> av.VideoFrame:
        if self.left == 0:
            raise MediaStreamError
        self.left -= 1
        await asyncio.sleep(1 / 30)
        frame = counter_frame(self.k, 320, 240)
        self.k += 1
        return frame


async def test_broadcast_encodes_once_for_every_viewer() -> None:
    """Ten viewers get the very same packets; one encode per frame; keyframe requests from all of them are rate-limited."""
    broadcast = Broadcast("s1", cue=lambda camera_ok: Cue(None, True))  # the camera only
    tracks = [broadcast.video.track() for _ in range(10)]
    for track in tracks:
        broadcast.video.attach(track)
    media = []
    started = time.monotonic()
    await broadcast.pump_video(FastCounter(45), lambda: media.append(1))
    await asyncio.sleep(0.3)  # the video loop encodes the last frame (a slate only after 1 s)
    elapsed = time.monotonic() - started
    stats = broadcast.stats()
    assert stats["frames_encoded"] + stats["frames_skipped"] == len(media) == 45
    assert stats["frames_skipped"] <= 2
    assert stats["keyframe_requests"] >= 10
    assert stats["keyframes"] <= 1 + elapsed / 0.5 + 1
    first = [tracks[0]._queue[i] for i in range(len(tracks[0]._queue))]
    for track in tracks[1:]:
        assert list(track._queue) == first  # the same packet objects: encoded once
    decoder = av.CodecContext.create("libvpx", "r")
    counters = [read_counter(f) for p in first for f in decoder.decode(p)]
    assert counters and all(c is not None and c[1] for c in counters)
    broadcast.close()


async def test_broadcast_skips_frames_it_cannot_encode_in_time() -> None:
    """When frames arrive faster than the encoder, the newest wins: no queue of delay."""
    broadcast = Broadcast("s2", cue=lambda camera_ok: Cue(None, True))

    class Burst(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.k = 0

        async def recv(self) -> av.VideoFrame:
            if self.k >= 200:
                await asyncio.sleep(0.2)
                raise MediaStreamError
            self.k += 1
            if self.k % 20 == 0:
                await asyncio.sleep(0)
            return counter_frame(self.k, 640, 360)

    await broadcast.pump_video(Burst(), lambda: None)
    stats = broadcast.stats()
    assert stats["frames_in"] == 200
    assert stats["frames_encoded"] < 200 and stats["frames_skipped"] > 0
    broadcast.close()


# -- keys, ICE, session events ---------------------------------------------------------


def test_stream_keys_are_per_session_and_secret() -> None:
    """Each session has its own key, stable for one secret, different under another."""
    a = stream_key("secret", "s1")
    assert a == stream_key("secret", "s1")
    assert a != stream_key("secret", "s2") and a != stream_key("other", "s1")
    assert a.startswith("sk_") and len(a) >= 32


def test_ice_servers_become_link_headers() -> None:
    """Configured STUN/TURN servers are announced as RFC 9725 Link headers, TURN with credentials."""
    settings = Settings(
        ice_servers="stun:stun.example.org:3478 turn:turn.example.org:3478?transport=udp",
        turn_username="user",
        turn_credential="pass",
    )
    links = ice_links(IceServers(settings).for_user("p1"))
    assert links[0] == '<stun:stun.example.org:3478>; rel="ice-server"'
    assert links[1].startswith('<turn:turn.example.org:3478?transport=udp>; rel="ice-server"')
    assert 'username="user"' in links[1] and 'credential="pass"' in links[1]
    assert ice_links(IceServers(Settings()).for_user("p1")) == []


def test_turn_secret_gives_each_user_credentials_that_expire() -> None:
    """With a TURN secret: username "<expiry>:<user>", expiry = now + TTL, a different password per user and per expiry (coturn's acceptance: tests/media/test_turn_relay.py)."""
    settings = Settings(
        ice_servers="turn:turn.example.org:3478?transport=udp", turn_secret="s3", turn_ttl=600
    )
    before = int(time.time())
    (server,) = IceServers(settings).for_user("p:1")
    expiry, user = server.username.split(":", 1)
    assert user == "p.1" and before + 600 <= int(expiry) <= int(time.time()) + 600
    other = IceServers(settings).for_user("p2")[0]
    assert server.credential and other.credential != server.credential
    assert rest_credential("s3", "p2", 600, now=0) != rest_credential("s3", "p2", 601, now=0)
    link = ice_links([server])[0]
    assert f'username="{server.username}"' in link and "static" not in link


def test_stream_events_fold_into_the_session_view() -> None:
    """stream.started / stream.stopped set status and since, reach every role as a `session` message, and refuse repeats."""
    programme = parse_programme(demo_programme_text(), "demo/programme.yaml")
    found = programme.find_session("ledarskap-2020-05-05")
    assert found is not None
    state = SessionState(found[3])
    with pytest.raises(InvalidState):
        state.stop_stream("deleted")
    draft = state.start_stream("whip")
    assert draft.type == ev.STREAM_STARTED
    change = project(state, state.apply(ev.Event("s", 1, draft.type, draft.data, 1000.0)), {})
    assert change.public == change.moderator
    assert change.public is not None
    assert change.public["session"]["stream"] == {"status": "live", "since": 1000.0}
    with pytest.raises(InvalidState):
        state.start_stream("whip")
    with pytest.raises(InvalidState):
        SessionState(found[3]).start_stream("somewhere")
    stop = state.stop_stream("timeout")
    state.apply(ev.Event("s", 2, stop.type, stop.data, 1010.0))
    assert (state.stream_status, state.stream_since) == ("offline", 1010.0)


def test_counter_track_paces_frames() -> None:
    """The test publisher's frames come at about 30 per second (sanity of the test peers)."""
    track = CounterTrack()
    loop = asyncio.new_event_loop()
    try:
        started = time.monotonic()
        for _ in range(10):
            loop.run_until_complete(track.recv())
        elapsed = time.monotonic() - started
    finally:
        loop.close()
    assert 0.2 < elapsed < 0.6
    assert track.count == 10
