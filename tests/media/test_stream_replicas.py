"""The stream with two server processes on one Redis: a viewer that reaches the process
without the live stream's publisher is told so (503, try again), never given a 201 with
no picture behind it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import redis_pair
from tests.media.conftest import Stage
from tests.media.peers import CounterTrack, Publisher, Viewer, wait_until
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(90)

SESSION = "tema-2-session-2"


async def test_whep_to_a_replica_without_the_publisher_is_503_and_the_right_one_plays(
    tmp_path: Path,
) -> None:
    """Publisher on A: WHEP to B answers 503 publisher_elsewhere with Retry-After and leaves no peer connection; WHEP to A plays, and the moderator on B (the camera page's connection) counts that viewer."""
    with redis_pair(tmp_path) as (_, a, b):
        opened: list[Client] = []
        publisher: Publisher | None = None
        viewers: list[Viewer] = []
        try:
            stage_a = Stage(a, SESSION, opened)
            stage_b = Stage(b, SESSION, opened)
            await stage_a.load_settings()
            token = await stage_b.participant_token()
            on_b = await stage_b.moderator()

            # Offline: a viewer may wait anywhere (media starts when a publisher comes).
            early = Viewer(b.http, SESSION, token, audio=False)
            viewers.append(early)
            assert (await early.start()).status == 201
            await early.stop()

            publisher = Publisher(a.http, SESSION, stage_a.stream_key, CounterTrack())
            assert (await publisher.start()).status == 201
            await on_b.wait_for(
                lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live", 15
            )

            wrong = Viewer(b.http, SESSION, token, audio=False)
            viewers.append(wrong)
            answer = await wrong.start()
            assert answer.status == 503, (answer.status, answer.text)
            assert answer.headers["retry-after"] == "2"
            assert answer.headers["access-control-allow-origin"] == "*"
            body = json.loads(answer.body)
            assert body["code"] == "publisher_elsewhere" and "another server" in body["message"]
            assert (await stage_b.stats())["peer_connections"] == 0

            right = Viewer(a.http, SESSION, token, audio=False)
            viewers.append(right)
            assert (await right.start()).status == 201
            assert await wait_until(lambda: len(right.counters()) >= 5, 15), "no frames on A"
            # Viewers are the session's: the one on A is counted on B's connections and API.
            await on_b.wait_for(lambda m: m["type"] == "presence" and m["viewers"] == 1, 10)
            assert (await stage_b.load_settings())["viewers"] == 1
        finally:
            for viewer in viewers:
                await viewer.stop(delete=False)
            if publisher is not None:
                await publisher.stop()
            for client in opened:
                await client.close()


async def test_a_killed_publishers_replica_leaves_the_stream_offline_within_seconds(
    tmp_path: Path,
) -> None:
    """Publisher on A, SIGKILL A: B ends the stream (its lease lapsed) within 8 s, a viewer on B is then accepted (201, no 503), and A restarted does not bring it back."""
    with redis_pair(tmp_path) as (_, a, b):
        opened: list[Client] = []
        viewers: list[Viewer] = []
        publisher: Publisher | None = None
        try:
            stage_a = Stage(a, SESSION, opened)
            stage_b = Stage(b, SESSION, opened)
            await stage_a.load_settings()
            token = await stage_b.participant_token()
            on_b = await stage_b.moderator()
            publisher = Publisher(a.http, SESSION, stage_a.stream_key, CounterTrack())
            assert (await publisher.start()).status == 201
            await on_b.wait_for(
                lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live", 15
            )
            await asyncio.sleep(4)  # longer than a lease: a live publisher keeps renewing it
            assert on_b.welcome is not None
            live = [m for m in on_b.messages if m["type"] == "session"][-1]
            assert live["session"]["stream"]["status"] == "live"

            a.kill()
            killed_at = time.monotonic()
            await on_b.wait_for(
                lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "offline",
                15,
            )
            took = time.monotonic() - killed_at
            assert took < 8.0, took
            viewer = Viewer(b.http, SESSION, token, audio=False)
            viewers.append(viewer)
            assert (await viewer.start()).status == 201

            a.start()
            await asyncio.sleep(3)
            assert [m for m in on_b.messages if m["type"] == "session"][-1]["session"]["stream"][
                "status"
            ] == "offline"
        finally:
            for viewer in viewers:
                await viewer.stop(delete=False)
            if publisher is not None:
                await publisher.stop(delete=False)
            for client in opened:
                await client.close()


async def test_a_slate_put_on_through_one_replica_reaches_the_viewers_of_the_other(
    tmp_path: Path,
) -> None:
    """Publisher and viewer on A, the moderator on B: `show.stream` slate through B puts the
    slate into A's encoded video within a second and a half (A follows the session's events
    through Redis); `show.stream` camera brings the camera back on the same connection."""
    with redis_pair(tmp_path) as (_, a, b):
        opened: list[Client] = []
        publisher: Publisher | None = None
        viewer: Viewer | None = None
        try:
            stage_a = Stage(a, SESSION, opened)
            stage_b = Stage(b, SESSION, opened)
            await stage_a.load_settings()
            token = await stage_a.participant_token()
            on_b = await stage_b.moderator()
            publisher = Publisher(a.http, SESSION, stage_a.stream_key, CounterTrack())
            assert (await publisher.start()).status == 201
            viewer = Viewer(a.http, SESSION, token, audio=False)
            assert (await viewer.start()).status == 201
            assert await wait_until(lambda: len(viewer.counters()) >= 10, 15), "no frames on A"

            asked = time.monotonic()
            reply = await on_b.request({"type": "show.stream", "stream": "slate"})
            assert reply["type"] == "ack", reply
            assert await wait_until(
                lambda: any(k == "planned" and at >= asked for k, at in viewer.slates), 5
            )
            came = min(at for k, at in viewer.slates if k == "planned" and at >= asked) - asked
            print(f"slate on A {came:.3f} s after show.stream on B")
            assert came < 1.5

            back = time.monotonic()
            reply = await on_b.request({"type": "show.stream", "stream": "camera"})
            assert reply["type"] == "ack", reply
            assert await wait_until(lambda: len(viewer.counters(since=back)) >= 10, 5)
            assert viewer.pc is not None and viewer.pc.connectionState == "connected"
        finally:
            if viewer is not None:
                await viewer.stop(delete=False)
            if publisher is not None:
                await publisher.stop()
            for client in opened:
                await client.close()
