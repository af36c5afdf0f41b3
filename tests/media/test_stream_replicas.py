"""The stream and the voices on stage with two server processes on one Redis: a viewer
that reaches the process without the live stream's publisher is told so (503, try
again), never given a 201 with no picture behind it; through nginx (deploy/nginx.conf), a
voice invited through either process reaches the room's speakers."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import nginx_pair
from tests.media.conftest import Stage, replicas
from tests.media.peers import (
    TONE_HZ,
    CounterTrack,
    Publisher,
    ToneTrack,
    Viewer,
    http,
    room_audio,
    wait_until,
)
from tests.media.test_stage_voices import speaker
from tests.netproxy import SilentProxy
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(90)

SESSION = "tema-2-session-2"


def stage_voice(base: str, token: str) -> Publisher:
    """An aiortc participant's microphone on stage: a 440 Hz tone to `/whip-stage`."""
    return Publisher(base, SESSION, token, audio=ToneTrack(), endpoint="whip-stage")


async def test_whep_to_a_replica_without_the_publisher_is_503_and_the_right_one_plays(
    tmp_path: Path,
) -> None:
    """Publisher on A: WHEP to B answers 503 publisher_elsewhere with Retry-After and leaves no peer connection; WHEP to A plays, and the moderator on B (the camera page's connection) counts that viewer."""
    async with replicas(tmp_path, SESSION) as pair:
        stage_a, stage_b = pair.a, pair.b
        token = await stage_b.participant_token()
        on_b = await stage_b.moderator()

        # Offline: a viewer may wait anywhere (media starts when a publisher comes).
        early = pair.keep(Viewer(stage_b.server.http, SESSION, token, audio=False))
        assert (await early.start()).status == 201
        await early.stop()

        publisher = pair.keep(
            Publisher(stage_a.server.http, SESSION, stage_a.stream_key, CounterTrack())
        )
        assert (await publisher.start()).status == 201
        await on_b.wait_for(
            lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live", 15
        )

        wrong = pair.keep(Viewer(stage_b.server.http, SESSION, token, audio=False))
        answer = await wrong.start()
        assert answer.status == 503, (answer.status, answer.text)
        assert answer.headers["retry-after"] == "2"
        assert answer.headers["access-control-allow-origin"] == "*"
        body = json.loads(answer.body)
        assert body["code"] == "publisher_elsewhere" and "another server" in body["message"]
        assert (await stage_b.stats())["peer_connections"] == 0

        right = pair.keep(Viewer(stage_a.server.http, SESSION, token, audio=False))
        assert (await right.start()).status == 201
        assert await wait_until(lambda: len(right.counters()) >= 5, 15), "no frames on A"
        # Viewers are the session's: the one on A is counted on B's connections and API.
        await on_b.wait_for(lambda m: m["type"] == "presence" and m["viewers"] == 1, 10)
        assert (await stage_b.load_settings())["viewers"] == 1


async def test_a_killed_publishers_replica_leaves_the_stream_offline_within_seconds(
    tmp_path: Path,
) -> None:
    """Publisher on A, SIGKILL A: B ends the stream (its lease lapsed) within 8 s, a viewer on B is then accepted (201, no 503), and A restarted does not bring it back."""
    async with replicas(tmp_path, SESSION) as pair:
        stage_a, stage_b = pair.a, pair.b
        token = await stage_b.participant_token()
        on_b = await stage_b.moderator()
        publisher = pair.keep(
            Publisher(stage_a.server.http, SESSION, stage_a.stream_key, CounterTrack())
        )
        assert (await publisher.start()).status == 201
        await on_b.wait_for(
            lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live", 15
        )
        await asyncio.sleep(4)  # longer than a lease: a live publisher keeps renewing it
        assert on_b.welcome is not None
        live = [m for m in on_b.messages if m["type"] == "session"][-1]
        assert live["session"]["stream"]["status"] == "live"

        stage_a.server.kill()
        killed_at = time.monotonic()
        await on_b.wait_for(
            lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "offline",
            15,
        )
        took = time.monotonic() - killed_at
        assert took < 8.0, took
        viewer = pair.keep(Viewer(stage_b.server.http, SESSION, token, audio=False))
        assert (await viewer.start()).status == 201

        stage_a.server.start()
        await asyncio.sleep(3)
        assert [m for m in on_b.messages if m["type"] == "session"][-1]["session"]["stream"][
            "status"
        ] == "offline"


async def test_a_slate_put_on_through_one_replica_reaches_the_viewers_of_the_other(
    tmp_path: Path,
) -> None:
    """Publisher and viewer on A, the moderator on B: `show.stream` slate through B puts the
    slate into A's encoded video within a second and a half (A follows the session's events
    through Redis); `show.stream` camera brings the camera back on the same connection."""
    async with replicas(tmp_path, SESSION) as pair:
        stage_a, stage_b = pair.a, pair.b
        token = await stage_a.participant_token()
        on_b = await stage_b.moderator()
        publisher = pair.keep(
            Publisher(stage_a.server.http, SESSION, stage_a.stream_key, CounterTrack())
        )
        assert (await publisher.start()).status == 201
        viewer = pair.keep(Viewer(stage_a.server.http, SESSION, token, audio=False))
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


async def test_a_voice_invited_through_either_replica_is_heard_through_nginx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through nginx, the room-audio listener and every voice of the session meet in one
    replica (the hash of the session id). The moderator and the participant are connected
    to the *other* replica's realtime port: an uninvited publish through nginx is 403
    not_on_stage, the invited one is 201 straight after the invitation's ack and the room
    hears its 440 Hz tone; another participant is still 403; after `hand.end` (through the
    other replica) the tone is gone within a second and the voice's connection closed."""
    with nginx_pair(tmp_path) as (nginx, a, b):
        monkeypatch.setenv("SSL_CERT_FILE", str(nginx.certificate))
        opened: list[Client] = []
        peers: list[Publisher | Viewer] = []
        try:
            _, moderator_token = a.access()[SESSION]
            room = room_audio(nginx.https, SESSION, moderator_token)
            peers.append(room)
            assert (await room.start()).status == 201
            assert await wait_until(lambda: len(room.heard.frames) > 10, 10), "no room audio"
            held = [
                json.loads((await http("GET", f"{r.http}/healthz/media")).body)["peer_connections"]
                for r in (a, b)
            ]
            assert sorted(held) == [0, 1], held
            elsewhere = Stage(b if held[0] else a, SESSION, opened)  # not the media's replica
            moderator = await elsewhere.moderator()
            eva, eva_token = await speaker(elsewhere, "Eva")
            _, olle_token = await speaker(elsewhere, "Olle")

            def voice(token: str) -> Publisher:
                peers.append(stage_voice(nginx.https, token))
                return peers[-1]

            answer = await voice(eva_token).start()
            assert answer.status == 403, answer.text
            assert json.loads(answer.body)["code"] == "not_on_stage"

            hand = (await eva.request({"type": "hand.raise", "topic": "Budget"}))["hand"]
            assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
            publisher = voice(eva_token)
            answer = await publisher.start()  # at once: the invitation was acked elsewhere
            assert answer.status == 201, answer.text
            assert answer.headers["location"].startswith(f"{nginx.https}/whip-stage/{SESSION}/")
            published = time.monotonic()
            assert await wait_until(lambda: room.heard.hears(TONE_HZ), 10), (
                "the room never heard the voice"
            )
            print(f"tone heard through nginx {time.monotonic() - published:.2f} s after publishing")
            assert (await voice(olle_token).start()).status == 403

            ended_at = time.monotonic()
            assert (await moderator.request({"type": "hand.end", "hand": hand}))["type"] == "ack"
            await asyncio.sleep(1.5)
            quiet = room.heard.silent_since(ended_at)
            assert quiet is not None and quiet - ended_at < 1.0, (quiet, ended_at)
            assert publisher.pc is not None
            assert await wait_until(
                lambda: publisher.pc.connectionState in ("closed", "failed"), 10
            )
            assert room.location is not None  # DELETE through nginx reaches the listener
            deleted = await http("DELETE", room.location, token=moderator_token, content_type=None)
            assert deleted.status == 200, deleted.text
            room.location = None
        finally:
            for peer in peers:
                await peer.stop()
            for client in opened:
                await client.close()


async def test_voices_and_room_audio_go_to_the_live_streams_replica_only(tmp_path: Path) -> None:
    """The stream live from A: a voice invited through B and published straight to B, or
    the room's audio opened on B, is answered 503 publisher_elsewhere (Retry-After 2) with
    no peer connection left on B, since the room's speakers and the stream's mix are in
    A's process; the same offers to A are accepted and the room hears the voice there."""
    async with replicas(tmp_path, SESSION) as pair:
        stage_a, stage_b = pair.a, pair.b
        on_b = await stage_b.moderator()
        eva, eva_token = await speaker(stage_b, "Eva")
        publisher = pair.keep(
            Publisher(stage_a.server.http, SESSION, stage_a.stream_key, CounterTrack())
        )
        assert (await publisher.start()).status == 201
        await on_b.wait_for(
            lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live", 15
        )
        hand = (await eva.request({"type": "hand.raise"}))["hand"]
        assert (await on_b.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"

        for answer in (
            await pair.keep(
                room_audio(stage_b.server.http, SESSION, stage_b.moderator_token)
            ).start(),
            await pair.keep(stage_voice(stage_b.server.http, eva_token)).start(),
        ):
            assert answer.status == 503, (answer.status, answer.text)
            assert json.loads(answer.body)["code"] == "publisher_elsewhere"
            assert answer.headers["retry-after"] == "2"
        assert (await stage_b.stats())["peer_connections"] == 0

        room = pair.keep(room_audio(stage_a.server.http, SESSION, stage_a.moderator_token))
        assert (await room.start()).status == 201
        assert (await pair.keep(stage_voice(stage_a.server.http, eva_token)).start()).status == 201
        assert await wait_until(lambda: room.heard.hears(TONE_HZ), 10), (
            "the room on A never heard the voice"
        )


async def test_an_invitation_not_yet_on_the_media_replicas_tail_still_lets_the_voice_in(
    tmp_path: Path,
) -> None:
    """The media's replica A hears Redis 0.6 s late (a proxy holds back Redis's bytes to A),
    the invitation is decided on B: a voice offer to A straight after the invitation's ack
    is accepted (A reads the log when its memory says "not on stage"), and the room on A
    hears it; a participant never invited is still 403, also when Redis goes silent for A
    (refused within the log read's bound, never a 5xx)."""
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    proxy = SilentProxy(redis.port)
    await proxy.start()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = ServerProcess(tmp_path / "a", extra_env={"REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"})
    b = ServerProcess(tmp_path / "b", extra_env={"REDIS_URL": redis.url})
    opened: list[Client] = []
    peers: list[Publisher | Viewer] = []
    # A talks to Redis through this test's event loop (the proxy): it is started and stopped
    # in a thread, so the loop keeps running meanwhile.
    assert b.import_programme().returncode == 0
    try:
        await asyncio.to_thread(a.start)
        b.start()
        try:
            try:
                stage_b = Stage(b, SESSION, opened)  # B reads the keys from Redis directly
                room = room_audio(a.http, SESSION, stage_b.moderator_token)
                peers.append(room)
                assert (await room.start()).status == 201
                on_b = await stage_b.moderator()
                eva, eva_token = await speaker(stage_b, "Eva")
                _, olle_token = await speaker(stage_b, "Olle")
                hand = (await eva.request({"type": "hand.raise"}))["hand"]

                proxy.lag = 0.6
                assert (await on_b.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
                asked = time.monotonic()
                voice = stage_voice(a.http, eva_token)
                peers.append(voice)
                answer = await voice.start()
                took = time.monotonic() - asked
                assert answer.status == 201, (answer.status, answer.text)
                print(f"voice accepted by the lagging replica in {took:.2f} s")
                other = stage_voice(a.http, olle_token)
                peers.append(other)
                assert (await other.start()).status == 403
                assert await wait_until(lambda: room.heard.hears(TONE_HZ), 10), "not heard"
                # Redis silent for A: the log cannot be read, memory's refusal stands (no 5xx).
                proxy.silent = True
                late = stage_voice(a.http, olle_token)
                peers.append(late)
                began = time.monotonic()
                answer = await late.start()
                took = time.monotonic() - began
                print(f"refused with Redis silent in {took:.2f} s")
                assert answer.status == 403, (answer.status, answer.text)
                assert took < 3.0, took  # the log's read is bounded (1 s), not Redis's timeout
            finally:
                for peer in peers:
                    await peer.stop(delete=False)
                for client in opened:
                    await client.close()
        finally:
            b.stop()
            await asyncio.to_thread(a.stop)
    finally:
        await proxy.stop()
        redis.stop()
