"""WHIP and WHEP over HTTP: status codes, headers, CORS, and no peer connection left
behind by any refused or ended request."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from companion.media.codecs import accept_publisher_codecs
from tests.e2e.conftest import started
from tests.media.conftest import Stage, udp_sockets
from tests.media.peers import (
    CounterTrack,
    HttpAnswer,
    Publisher,
    ToneTrack,
    Viewer,
    http,
    prefer,
    wait_until,
)
from tests.media.test_stage_voices import ack, on_stage, speaker, voice
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(60)


async def offer(
    kinds: tuple[str, ...] = ("video", "audio"),
    direction: str = "sendonly",
    h264_only: bool = False,
) -> str:
    """A real SDP offer from aiortc (the connection is closed again at once)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for kind in kinds:
        transceiver = pc.addTransceiver(kind, direction=direction)
        if h264_only and kind == "video":
            prefer(transceiver, "video/H264")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def assert_problem(answer: HttpAnswer, status: int, code: str | None = None) -> dict:
    """An error answer: the status, JSON with a code and a message, CORS, no stack trace."""
    assert answer.status == status, (answer.status, answer.text)
    assert answer.headers["access-control-allow-origin"] == "*"
    body = json.loads(answer.body)
    assert set(body) == {"code", "message"} and body["message"]
    if code is not None:
        assert body["code"] == code, body
    assert "Traceback" not in answer.text and 'File "' not in answer.text
    return body


async def test_whip_answers_and_refusals(media_server: ServerProcess, opened: list[Client]) -> None:
    """Every WHIP outcome: OPTIONS, 201 with Location/ETag, 401, 403, 404, 415, 400, 405, DELETE (a second publisher replaces the first: tests/media/test_dead_peers.py)."""
    stage = Stage(media_server, "tema-2-session-2", opened)
    info = await stage.load_settings()
    assert info["whip_url"].endswith(f"/whip/{stage.session}")
    assert info["stream_key"] and info["stream_key"] != stage.moderator_token
    url = f"{media_server.http}/whip/{stage.session}"
    base_udp = udp_sockets(media_server)
    base = await stage.stats()
    good = await offer()

    options = await http("OPTIONS", url, content_type=None)
    assert options.status == 204
    assert options.headers["access-control-allow-origin"] == "*"
    assert "POST" in options.headers["access-control-allow-methods"]
    assert "Authorization" in options.headers["access-control-allow-headers"]
    assert options.headers["accept-post"] == "application/sdp"

    missing = await http("POST", url, good)
    assert_problem(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert_problem(await http("POST", url, good, token="sk_not-the-key"), 403, "forbidden")
    assert_problem(
        await http(
            "POST", f"{media_server.http}/whip/no-such-session", good, token=stage.stream_key
        ),
        404,
        "unknown_session",
    )
    assert_problem(
        await http("POST", url, good, token=stage.stream_key, content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    assert_problem(
        await http("POST", url, "hello, world", token=stage.stream_key), 400, "bad_offer"
    )
    assert_problem(await http("POST", url, b"v=0\r\nm=video \xff\xfe", token=stage.stream_key), 400)
    # Looks like SDP, but without ICE credentials aiortc cannot use it.
    broken = re.sub(r"a=ice-(ufrag|pwd):.*\r\n", "", good)
    body = assert_problem(await http("POST", url, broken, token=stage.stream_key), 400, "bad_offer")
    assert "ICE" in body["message"]
    # Offers nothing to receive.
    assert_problem(
        await http("POST", url, await offer(direction="recvonly"), token=stage.stream_key), 400
    )
    assert_problem(
        await http("POST", url, "v=0\r\n" + "m=video\r\n" * 40_000, token=stage.stream_key), 413
    )
    assert (await http("GET", url, content_type=None)).status == 405
    # Nothing of those refusals is left running.
    assert (await stage.stats())["peer_connections"] == base["peer_connections"]

    publisher = Publisher(
        media_server.http, stage.session, stage.stream_key, CounterTrack(), ToneTrack()
    )
    created = await publisher.start()
    assert created.status == 201
    assert created.headers["content-type"] == "application/sdp"
    assert created.headers["location"].startswith(f"{url}/")
    assert re.fullmatch(r'"[0-9a-f]+"', created.headers["etag"])
    assert "Location" in created.headers["access-control-expose-headers"]
    assert "a=fingerprint" in created.text and "a=candidate" in created.text
    assert "link" not in created.headers  # no ICE servers configured
    assert udp_sockets(media_server) > base_udp  # what the leak check below counts

    location = created.headers["location"]
    assert (await http("OPTIONS", location, content_type=None)).status == 204
    assert_problem(await http("DELETE", location, token="wrong", content_type=None), 403)
    assert_problem(await http("DELETE", location, content_type=None), 401)
    deleted = await publisher.stop()
    assert deleted is not None and deleted.status == 200
    assert_problem(
        await http("DELETE", location, token=stage.stream_key, content_type=None), 404, "not_found"
    )

    after = await stage.stats()
    assert after["peer_connections"] == base["peer_connections"]
    assert after["opened"] - base["opened"] == after["closed"] - base["closed"]
    assert await _udp_back_to(media_server, base_udp)


async def _udp_back_to(server: ServerProcess, count: int) -> bool:
    """Whether the server's UDP sockets fall back to `count` (aioice closes them async)."""
    return await wait_until(lambda: udp_sockets(server) <= count, 5)


async def test_whep_answers_refusals_and_trickle(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """WHEP: participant tokens only for their session, VP8 required, PATCH trickle rules (428, 412, 415, 422, 204), DELETE."""
    stage = Stage(media_server, "tema-3-session-2", opened)
    other = Stage(media_server, "tema-4-session-2", opened)
    url = f"{media_server.http}/whep/{stage.session}"
    base = await stage.stats()
    base_udp = udp_sockets(media_server)
    token = await stage.participant_token()
    good = await offer(direction="recvonly")

    assert (await http("OPTIONS", url, content_type=None)).status == 204
    assert_problem(await http("POST", url, good), 401)
    assert_problem(await http("POST", url, good, token="a.b.c.d"), 403, "invalid_token")
    assert_problem(await http("POST", url, good, token=await other.participant_token()), 403)
    assert_problem(await http("POST", url, good, token=token, content_type="application/json"), 415)
    accept_publisher_codecs()
    body = assert_problem(
        await http("POST", url, await offer(("video",), "recvonly", h264_only=True), token=token),
        400,
    )
    assert "VP8" in body["message"]
    assert (await stage.stats())["peer_connections"] == base["peer_connections"]

    # The join code works as well as the session id (the remote page knows the code).
    viewer = Viewer(media_server.http, stage.code, token)
    created = await viewer.start()
    assert created.status == 201
    assert created.headers["location"].startswith(f"{url}/")
    location, etag = created.headers["location"], created.headers["etag"]
    frag = (
        "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=candidate:1 1 udp 2130706431 192.0.2.2 9 typ host\r\n"
    )
    ufrag = re.search(r"a=ice-ufrag:(\S+)", viewer.pc.localDescription.sdp).group(1)  # type: ignore[union-attr]
    pwd = re.search(r"a=ice-pwd:(\S+)", viewer.pc.localDescription.sdp).group(1)  # type: ignore[union-attr]
    trickle = "application/trickle-ice-sdpfrag"
    assert_problem(
        await http("PATCH", location, frag.format(ufrag, pwd), token=token, content_type=trickle),
        428,
    )
    assert_problem(
        await http(
            "PATCH",
            location,
            frag.format(ufrag, pwd),
            token=token,
            content_type=trickle,
            headers={"If-Match": '"stale"'},
        ),
        412,
    )
    assert_problem(
        await http(
            "PATCH",
            location,
            "x",
            token=token,
            content_type="text/plain",
            headers={"If-Match": etag},
        ),
        415,
    )
    assert_problem(
        await http(
            "PATCH",
            location,
            frag.format("restart", "newpassword0123456789"),
            token=token,
            content_type=trickle,
            headers={"If-Match": etag},
        ),
        422,
        "ice_restart",
    )
    patched = await http(
        "PATCH",
        location,
        frag.format(ufrag, pwd),
        token=token,
        content_type=trickle,
        headers={"If-Match": etag},
    )
    assert patched.status == 204, patched.text

    moderator = await stage.moderator()
    await moderator.wait_for(lambda m: m["type"] == "presence" and m.get("viewers") == 1)
    assert_problem(
        await http("DELETE", location, token=await stage.participant_token(), content_type=None),
        403,
    )
    assert (await viewer.stop()).status == 200  # type: ignore[union-attr]
    await moderator.wait_for(lambda m: m["type"] == "presence" and m.get("viewers") == 0)
    after = await stage.stats()
    assert after["peer_connections"] == base["peer_connections"]
    assert await _udp_back_to(media_server, base_udp)


async def test_a_viewer_that_hangs_up_without_delete_is_closed(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """A viewer whose tab just closes (no DELETE) is closed by the server and counted out."""
    stage = Stage(media_server, "ledarskap-omorganisationer", opened)
    token = await stage.participant_token()
    base = await stage.stats()
    viewer = Viewer(media_server.http, stage.session, token)
    assert (await viewer.start()).status == 201
    assert await wait_until(lambda: viewer.pc.connectionState == "connected", 5)  # type: ignore[union-attr]
    assert (await stage.stats())["viewers"] == base["viewers"] + 1
    await viewer.stop(delete=False)
    for _ in range(50):  # the DTLS close alert tells the server at once
        if (await stage.stats())["peer_connections"] == base["peer_connections"]:
            break
        await asyncio.sleep(0.1)
    after = await stage.stats()
    assert after["peer_connections"] == base["peer_connections"]
    assert after["viewers"] == base["viewers"]


async def test_restart_ends_a_stream_the_log_says_is_live(tmp_path: Path) -> None:
    """After a crash the publisher is gone: the restarted server says the stream is offline."""
    opened: list[Client] = []
    with started(ServerProcess(tmp_path)) as server:
        try:
            stage = Stage(server, "ledarskap-2020-05-05", opened)
            await stage.load_settings()
            moderator = await stage.moderator()
            publisher = Publisher(server.http, stage.session, stage.stream_key, CounterTrack())
            assert (await publisher.start()).status == 201
            await moderator.wait_for(
                lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live", 10
            )
            server.kill()
            await publisher.stop(delete=False)
            server.start()
            client = await Client.open(server.ws)
            opened.append(client)
            await client.join(
                role="moderator", session=stage.session, moderator_token=stage.moderator_token
            )
            snapshot = await client.wait_for(lambda m: m["type"] == "snapshot")
            assert snapshot["session"]["stream"]["status"] == "offline"
        finally:
            for client in opened:
                await client.close()


async def test_rotating_the_moderator_key_rotates_the_stream_key(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """A leaked stream key dies with the moderator key: after a rotation only the new one publishes."""
    stage = Stage(media_server, "tema-4-session-2", opened)
    old = (await stage.load_settings())["stream_key"]
    moderator = await stage.moderator()
    reply = await moderator.request({"type": "session.rotate_key"})
    assert reply["type"] == "ack", reply
    stage.moderator_token = reply["moderator_token"]
    new = (await stage.load_settings())["stream_key"]
    assert new != old
    url = f"{media_server.http}/whip/{stage.session}"
    assert_problem(await http("POST", url, await offer(), token=old), 403)
    publisher = Publisher(media_server.http, stage.session, new, CounterTrack())
    assert (await publisher.start()).status == 201
    await publisher.stop()


async def test_viewers_beyond_the_limit_are_refused_until_one_leaves(tmp_path: Path) -> None:
    """`COMPANION_STREAM_MAX_VIEWERS`: one viewer too many gets 503 `overloaded` and no peer
    connection; once a viewer leaves, the next one gets in."""
    opened: list[Client] = []
    limited = ServerProcess(tmp_path, extra_env={"COMPANION_STREAM_MAX_VIEWERS": "2"})
    with started(limited) as server:
        viewers: list[Viewer] = []
        try:
            stage = Stage(server, "tema-3-session-2", opened)
            base = await stage.stats()
            for _ in range(2):
                viewers.append(Viewer(server.http, stage.session, await stage.participant_token()))
                assert (await viewers[-1].start()).status == 201
            token = await stage.participant_token()
            refused = await http(
                "POST",
                f"{server.http}/whep/{stage.session}",
                await offer(direction="recvonly"),
                token=token,
            )
            assert_problem(refused, 503, "overloaded")
            assert (await stage.stats())["peer_connections"] == base["peer_connections"] + 2

            assert (await viewers.pop(0).stop()).status == 200  # type: ignore[union-attr]
            viewers.append(Viewer(server.http, stage.session, token))
            assert (await viewers[-1].start()).status == 201
        finally:
            for viewer in viewers:
                await viewer.stop()
            for client in opened:
                await client.close()


async def test_a_stage_voice_the_server_ended_answers_its_delete_with_404(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """A turn ended by the moderator closes the voice on the server; the page's DELETE
    that follows gets 404 `not_found` (it said 403 with that code), and a live voice's
    resource refuses another participant's token with 403 `forbidden`."""
    stage = Stage(media_server, "tema-1-session-2", opened)
    moderator = await stage.moderator()
    _, token, hand = await on_stage(stage, moderator, "Eva")
    _, other_token = await speaker(stage, "Olle")
    publisher = voice(stage, token)
    assert (await publisher.start()).status == 201
    assert publisher.location is not None
    stranger = await http("DELETE", publisher.location, token=other_token, content_type=None)
    assert (stranger.status, json.loads(stranger.body)["code"]) == (403, "forbidden")
    live = (await stage.stats())["peer_connections"]
    await ack(moderator, {"type": "hand.end", "hand": hand})
    for _ in range(50):  # the server closes the voice's connection
        if (await stage.stats())["peer_connections"] < live:
            break
        await asyncio.sleep(0.1)
    assert (await stage.stats())["peer_connections"] < live
    gone = await http("DELETE", publisher.location, token=token, content_type=None)
    assert (gone.status, json.loads(gone.body)["code"]) == (404, "not_found"), gone.text
    await publisher.stop(delete=False)
