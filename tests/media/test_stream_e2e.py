"""The live stream end to end: a real server process, aiortc publishers over WHIP and
aiortc viewers over WHEP that decode what they get and read the frame counters back."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from companion.media.codecs import accept_publisher_codecs
from tests.media.conftest import Stage
from tests.media.peers import (
    TONE_HZ,
    CounterTrack,
    H264HighTrack,
    Publisher,
    ToneTrack,
    Viewer,
    wait_until,
)
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(60)


def advancing(counters: list[int], minimum: int) -> bool:
    """At least `minimum` counters, strictly increasing (frames may be skipped, never reordered)."""
    return len(counters) >= minimum and all(b > a for a, b in itertools.pairwise(counters))


async def stream_status(moderator: Client, status: str, start: int = 0) -> dict:
    """The next `session` message (from index `start`) with that stream status."""
    return await moderator.wait_for(
        lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == status,
        timeout=10,
        start=start,
    )


async def test_two_viewers_get_the_counter_frames_and_the_tone(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """One publisher, two viewers: both decode advancing counters with the right colours, hear the tone, and every page learns the stream is live with 2 viewers."""
    stage = Stage(media_server, "ledarskap-2020-05-05", opened)
    await stage.load_settings()
    moderator = await stage.moderator()
    token = await stage.participant_token()

    video = CounterTrack()
    publisher = Publisher(media_server.http, stage.session, stage.stream_key, video, ToneTrack())
    assert (await publisher.start()).status == 201
    live = await stream_status(moderator, "live")
    assert live["session"]["stream"]["since"] > 0

    viewers = [Viewer(media_server.http, stage.code, token) for _ in range(2)]
    for viewer in viewers:
        assert (await viewer.start()).status == 201
    assert await wait_until(lambda: all(len(v.frames) >= 45 for v in viewers), 15)
    await moderator.wait_for(lambda m: m["type"] == "presence" and m.get("viewers") == 2)

    for viewer in viewers:
        counters = viewer.counters()
        assert advancing(counters, 45), counters[:60]
        assert all(ok for _, _, ok in viewer.frames), (
            "a background colour did not match its counter"
        )
        assert viewer.unreadable <= 2  # the very first frames may still be settling
        # Counters are the publisher's: nothing invented, nothing from the future.
        assert max(counters) < video.count
        assert await wait_until(lambda v=viewer: v.audio_frames >= 60, 5)
        assert abs(viewer.tone_hz() - TONE_HZ) < 15

    # Glass to glass on loopback: a few hundred milliseconds at most.
    delays = sorted(at - video.sent_at[k] for k, at, _ in viewers[0].frames[-30:])
    assert delays[len(delays) // 2] < 0.5, delays

    stats = (await stage.stats())["broadcasts"][stage.session]
    assert stats["video_viewers"] == 2
    # Encoded once: one encode per publisher frame, whatever the number of viewers.
    assert stats["frames_encoded"] <= stats["frames_in"]

    await publisher.stop()
    await stream_status(moderator, "offline")
    for viewer in viewers:
        await viewer.stop()


async def test_late_viewer_sees_a_picture_within_two_seconds(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """A viewer who joins while live gets a keyframe at once instead of waiting for the next GOP."""
    stage = Stage(media_server, "ledarskap-2020-05-15", opened)
    publisher, first = await stage.on_air(CounterTrack(), audio=False)
    token = await stage.participant_token()
    assert await wait_until(lambda: len(first.frames) >= 20, 10)

    for _ in range(2):
        late = Viewer(media_server.http, stage.session, token, audio=False)
        asked = time.monotonic()
        assert (await late.start()).status == 201
        assert await wait_until(lambda v=late: bool(v.frames), 5)
        assert late.frames[0][1] - asked < 2.0
        assert late.unreadable == 0  # it started on a keyframe: no broken first picture
        await late.stop()
        await asyncio.sleep(0.3)

    await first.stop()
    await publisher.stop()


async def test_publisher_stops_and_starts_again_and_viewers_resume(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """Viewers keep their connection while the publisher is away and get the new publisher's picture (another source, size and codec) without reconnecting."""
    stage = Stage(media_server, "ledarskap-2020-06", opened)
    moderator = await stage.moderator()
    first, viewer = await stage.on_air(CounterTrack(320, 240), audio=False)
    assert await wait_until(lambda: len(viewer.frames) >= 20, 10)

    mark = len(moderator.messages)
    await first.stop()
    offline = await stream_status(moderator, "offline", mark)
    assert offline["session"]["stream"]["since"] > 0
    stopped_at = len(viewer.frames)
    await asyncio.sleep(1.0)
    assert len(viewer.frames) - stopped_at <= 3  # nothing new while offline

    # The camera page's way in: the moderator token, from a browser-like publisher.
    accept_publisher_codecs()
    second_video = H264HighTrack(384, 216)
    second = Publisher(
        media_server.http, stage.session, stage.moderator_token, second_video, h264_profile="64001f"
    )
    assert (await second.start()).status == 201
    await stream_status(moderator, "live", mark)

    # (aiortc's receiver hands out the old publisher's last frame only when the next
    # packet arrives, so count from the first frame of the new picture size.)
    def after() -> list[int]:
        resumed = viewer.sizes.get((384, 216))
        return [] if resumed is None else viewer.counters(since=resumed)

    assert await wait_until(lambda: len(after()) >= 20, 10)
    assert advancing(after(), 20), str(after())
    assert all(ok for _, at, ok in viewer.frames if at >= viewer.sizes[(384, 216)])
    assert (await stage.stats())["viewers"] >= 1  # the same viewer resource all along
    await viewer.stop()
    await second.stop()


async def test_keyframe_requests_from_viewers_are_rate_limited(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """A flood of PLIs from a viewer reaches the shared encoder but yields at most two keyframes a second."""
    stage = Stage(media_server, "tema-1-session-2", opened)
    publisher, viewer = await stage.on_air(CounterTrack(), audio=False)
    assert await wait_until(lambda: len(viewer.frames) >= 10, 10)

    before = (await stage.stats())["broadcasts"][stage.session]
    receiver: RTCRtpReceiver = viewer.pc.getReceivers()[0]  # type: ignore[union-attr]
    ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams))  # type: ignore[attr-defined]
    started = time.monotonic()
    while time.monotonic() - started < 2.0:
        for _ in range(10):
            await receiver._send_rtcp_pli(ssrc)
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    after = (await stage.stats())["broadcasts"][stage.session]
    assert after["keyframe_requests"] - before["keyframe_requests"] >= 200
    # 2.3 s at most one keyframe per 0.5 s, plus the one in progress.
    assert after["keyframes"] - before["keyframes"] <= 6
    assert after["frames_encoded"] - before["frames_encoded"] >= 40  # still 30 fps or so
    await viewer.stop()
    await publisher.stop()
