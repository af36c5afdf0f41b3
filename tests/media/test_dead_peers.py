"""Peers that vanish without a DELETE (the process killed: no DTLS close, no more ICE
consent answers): a viewer is counted out within 15 s, a publisher's stream goes offline
within 15 s, and a publish with the session's stream key takes over at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.media.conftest import Stage
from tests.media.peer_process import PeerProcess
from tests.media.peers import CounterTrack, Publisher, ToneTrack, http, wait_until
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(90)

DEAD_WITHIN = 15.0


@pytest.mark.parametrize("live", [True, False], ids=["live", "offline"])
async def test_a_killed_viewer_is_counted_out_within_15_seconds(
    media_server: ServerProcess, opened: list[Client], live: bool
) -> None:
    """Two viewers in their own processes, a stream live or offline (no media flowing, so
    no RTCP either); one is SIGKILLed: the server's count and the moderator's presence
    drop to 1 within 15 s; the other stays."""
    stage = Stage(media_server, "tema-3-session-2" if live else "tema-1-session-2", opened)
    await stage.load_settings()
    moderator = await stage.moderator()
    publisher = Publisher(
        media_server.http, stage.session, stage.stream_key, CounterTrack(), ToneTrack()
    )
    if live:
        assert (await publisher.start()).status == 201
    viewers = [
        await PeerProcess.start(
            "viewer", media_server.http, stage.session, await stage.participant_token()
        )
        for _ in range(2)
    ]
    try:
        await moderator.wait_for(lambda m: m["type"] == "presence" and m.get("viewers") == 2, 10)
        start = len(moderator.messages)
        died = viewers[0].kill()
        counted_out = await wait_until(
            lambda: any(
                m["type"] == "presence" and m.get("viewers") == 1
                for m in moderator.messages[start:]
            ),
            DEAD_WITHIN + 5,
        )
        took = time.monotonic() - died
        print(f"killed viewer ({'live' if live else 'offline'}) counted out after {took:.1f} s")
        assert counted_out and took < DEAD_WITHIN, took
        # This session's count: the process total may still hold the previous case's
        # viewers, which the fixture's shared server counts out on its own clock.
        assert (await stage.load_settings())["viewers"] == 1
        # The survivor is still watching, and can still end its own resource.
        gone = await http(
            "DELETE", viewers[1].location, token=None, content_type=None
        )  # no token: refused, so it is still there
        assert gone.status == 401
    finally:
        for viewer in viewers:
            viewer.kill()
        await publisher.stop(delete=live)


async def test_a_killed_publisher_goes_offline_within_15_seconds(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """An encoder that dies without a DELETE: the stream is offline within 15 s."""
    stage = Stage(media_server, "tema-4-session-2", opened)
    await stage.load_settings()
    moderator = await stage.moderator()
    process = await PeerProcess.start(
        "publisher", media_server.http, stage.session, stage.stream_key
    )
    try:
        await moderator.wait_for(
            lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live", 10
        )
        start = len(moderator.messages)
        died = process.kill()
        await moderator.wait_for(
            lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "offline",
            DEAD_WITHIN + 5,
            start=start,
        )
        took = time.monotonic() - died
        print(f"killed publisher offline after {took:.1f} s")
        assert took < DEAD_WITHIN, took
        assert (await stage.stats())["publishers"] == 0
    finally:
        process.kill()


async def test_a_publish_with_the_stream_key_takes_over_from_a_killed_publisher_at_once(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """The encoder crashed and is restarted at once: its new publish is not refused
    (no 409 until the old one times out); the dead one's resource is gone."""
    stage = Stage(media_server, "ledarskap-2020-05-15", opened)
    await stage.load_settings()
    moderator = await stage.moderator()
    process = await PeerProcess.start(
        "publisher", media_server.http, stage.session, stage.stream_key
    )
    await moderator.wait_for(
        lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live", 10
    )
    process.kill()
    again = Publisher(media_server.http, stage.session, stage.stream_key, CounterTrack())
    asked = time.monotonic()
    answer = await again.start()
    took = time.monotonic() - asked
    try:
        assert answer.status == 201, answer.text
        assert took < 3, took
        old = await http("DELETE", process.location, token=stage.stream_key, content_type=None)
        assert old.status == 404  # the server closed the dead publisher's resource
        stats = await stage.stats()
        assert stats["publishers"] == 1
        start = len(moderator.messages)
        await moderator.wait_for(
            lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live",
            10,
            start=start,
        )
    finally:
        await again.stop()


async def test_a_new_publish_replaces_a_live_publisher_and_closes_its_connection(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """Any existing publisher is replaced by an authorised publish: the camera page going
    live over OBS, or OBS restarted with its old connection still up."""
    stage = Stage(media_server, "ledarskap-2020-06", opened)
    await stage.load_settings()
    first = Publisher(media_server.http, stage.session, stage.stream_key, CounterTrack())
    assert (await first.start()).status == 201
    assert first.pc is not None
    pc = first.pc
    assert await wait_until(lambda: pc.connectionState == "connected", 10)
    intruder = Publisher(media_server.http, stage.session, "sk_not-the-key", CounterTrack())
    assert (await intruder.start()).status == 403
    await asyncio.sleep(1)
    assert pc.connectionState == "connected"  # a wrong key cuts nobody off
    second = Publisher(media_server.http, stage.session, stage.moderator_token, CounterTrack())
    try:
        assert (await second.start()).status == 201
        # The server closed the first one's connection (DTLS close: it knows at once).
        assert await wait_until(lambda: pc.connectionState in ("closed", "failed"), 5)
        stats = await stage.stats()
        assert stats["publishers"] == 1
        gone = await http("DELETE", first.location or "", token=stage.stream_key, content_type=None)
        assert gone.status == 404
    finally:
        await second.stop()
        await first.stop(delete=False)
