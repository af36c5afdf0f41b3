"""Slates in the live stream, end to end: a real server process, an aiortc publisher
sending counter frames and a tone, aiortc viewers over WHEP that decode every frame.

A move into the break puts the slate (told apart from the camera by its drawn background)
on the viewers' one track, the move out of it brings the camera's counter back on the
same connection; a publisher that drops is covered by "we'll be right back" within 2 s.
"""

from __future__ import annotations

import itertools
import time

import pytest

from tests.media.conftest import Stage
from tests.media.peers import CounterTrack, Publisher, ToneTrack, Viewer, wait_until
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(90)


async def ack(moderator: Client, message: dict) -> None:
    reply = await moderator.request(message)
    assert reply["type"] == "ack", reply


def slates_since(viewer: Viewer, kind: str, since: float) -> list[float]:
    return [at for k, at in viewer.slates if k == kind and at >= since]


async def test_a_break_shows_the_slate_and_its_end_the_camera_on_the_same_track(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """Välkommen (camera) → Fika (slate, room muted; then kept by hand) → Diskussion (camera):
    one WHEP connection all along, the slate within a second of each move."""
    stage = Stage(media_server, "ledarskap-2020-05-05", opened)
    moderator = await stage.moderator()
    publisher, viewer = await stage.on_air(CounterTrack(), ToneTrack())
    assert viewer.pc is not None
    answer = viewer.pc.remoteDescription.sdp
    await ack(moderator, {"type": "agenda.goto", "item": "valkommen"})
    assert await wait_until(lambda: len(viewer.frames) >= 30 and viewer.audio_frames >= 50, 15)
    assert not viewer.slates

    moved = time.monotonic()
    await ack(moderator, {"type": "agenda.goto", "item": "fika"})  # a break: slate by default
    assert await wait_until(lambda: len(slates_since(viewer, "planned", moved)) >= 10, 5)
    first_slate = slates_since(viewer, "planned", moved)[0]
    print(f"slate {first_slate - moved:.3f} s after the move into the break")  # -s shows it
    assert first_slate - moved < 1.0
    last_camera = max(at for _, at, _ in viewer.frames)
    assert last_camera < first_slate + 0.3  # the camera stops where the slate starts
    # The room is muted under the slate (the default): no sound comes while it shows.
    heard = viewer.audio_frames
    audio_quiet_from = time.monotonic()
    await wait_until(lambda: False, 1.0)
    assert viewer.audio_frames - heard <= 5, "the room was heard under a muted slate"
    assert not [k for k, at, _ in viewer.frames if at > audio_quiet_from]  # no camera frame
    # The moderator keeps the room's sound: heard again, the slate still showing.
    await ack(moderator, {"type": "show.slate_audio", "audio": "room"})
    heard = viewer.audio_frames
    assert await wait_until(lambda: viewer.audio_frames - heard >= 25, 3)

    back = time.monotonic()
    await ack(moderator, {"type": "agenda.next"})  # Diskussion: the camera again
    assert await wait_until(lambda: len(viewer.counters(since=back)) >= 30, 5)
    returned = viewer.counters(since=back)
    camera_back = min(at for _, at, _ in viewer.frames if at >= back) - back
    print(f"camera {camera_back:.3f} s after the move out of the break")
    assert camera_back < 1.0
    assert all(b > a for a, b in itertools.pairwise(returned))  # the live camera, in order
    assert returned[0] > max(viewer.counters(since=0)[: -len(returned)])
    assert not slates_since(viewer, "planned", back + 0.5)
    assert viewer.unreadable <= 2
    # Never renegotiated: the same connection, the same answer, one viewer resource.
    assert viewer.pc.connectionState == "connected"
    assert viewer.pc.remoteDescription.sdp == answer
    stats = await stage.stats()
    assert stats["viewers"] == 1 and stats["opened"] >= 2
    broadcast = stats["broadcasts"][stage.session]
    assert broadcast["showing"] == "camera" and broadcast["slate_frames"] >= 10
    # Drawn once a second at most (the countdown), not once a frame.
    assert broadcast["slates_drawn"] <= broadcast["slate_frames"] / 5
    await viewer.stop()
    await publisher.stop()


async def test_a_dropped_publisher_is_covered_by_right_back_within_two_seconds(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """A publisher that vanishes without a word (no DELETE): "we'll be right back" reaches
    the viewer within 2 s instead of a frozen frame; a new publish brings the camera back
    on the same connection."""
    stage = Stage(media_server, "ledarskap-2020-05-15", opened)
    first, viewer = await stage.on_air(CounterTrack(), audio=False)
    assert await wait_until(lambda: len(viewer.frames) >= 30, 15)

    dropped = time.monotonic()
    await first.stop(delete=False)  # the encoder dies: no DELETE
    assert await wait_until(lambda: bool(slates_since(viewer, "right_back", dropped)), 3)
    covered = slates_since(viewer, "right_back", dropped)[0] - dropped
    print(f"right back {covered:.3f} s after the publisher dropped")
    assert covered < 2.0, covered
    assert await wait_until(lambda: len(slates_since(viewer, "right_back", dropped)) >= 5, 3)

    second_video = CounterTrack()
    second = Publisher(media_server.http, stage.session, stage.stream_key, second_video)
    again = time.monotonic()
    assert (await second.start()).status == 201
    assert await wait_until(lambda: len(viewer.counters(since=again)) >= 20, 10)
    assert viewer.pc is not None and viewer.pc.connectionState == "connected"
    # Only the new publisher's frames after it: its counter started again from 0.
    assert max(viewer.counters(since=again)) < second_video.count
    await viewer.stop()
    await second.stop()


async def test_a_publisher_that_stops_on_purpose_leaves_no_right_back_slate(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """A DELETE is a stop, not a drop: the viewer gets no "right back" after it (its player
    shows the stream as offline), and the camera comes back with the next publisher."""
    stage = Stage(media_server, "ledarskap-2020-06", opened)
    first, viewer = await stage.on_air(CounterTrack(), audio=False)
    assert await wait_until(lambda: len(viewer.frames) >= 20, 15)
    stopped = time.monotonic()
    assert (await first.stop()).status == 200  # DELETE
    await wait_until(lambda: False, 2.5)
    assert not slates_since(viewer, "right_back", stopped)
    assert (await stage.stats())["broadcasts"][stage.session]["showing"] == "nothing"
    second = Publisher(media_server.http, stage.session, stage.stream_key, CounterTrack())
    again = time.monotonic()
    assert (await second.start()).status == 201
    assert await wait_until(lambda: len(viewer.counters(since=again)) >= 20, 10)
    await viewer.stop()
    await second.stop()
