"""TURN with time-limited credentials, through a real coturn started with
deploy/turnserver.conf: the credentials the server mints (in the WHEP answer's `Link`
header and from /api/ice) are accepted by coturn, and a relay-only viewer gets video."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from companion.media.ice_servers import rest_credential
from tests.media.conftest import Stage
from tests.media.peers import CounterTrack, Publisher, Viewer, http, wait_until
from tests.serverproc import ServerProcess
from tests.turnproc import TurnProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(120)

SESSION = "tema-2-session-2"
LINK = re.compile(r'<([^>]+)>; rel="ice-server"; username="([^"]+)"; credential="([^"]+)"')


def relay_only(url: str, username: str, credential: str) -> RTCConfiguration:
    """A viewer that may only use relay candidates (a strict NAT in a test)."""
    return RTCConfiguration(
        iceServers=[RTCIceServer(url, username, credential)],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )


async def test_relay_only_viewer_gets_video_with_minted_credentials(tmp_path: Path) -> None:
    """Link header and /api/ice carry "<expiry>:<participant>" credentials that expire in COMPANION_TURN_TTL; coturn accepts them and a relay-only viewer gets frames; an expired one gets nothing."""
    turn = TurnProcess(tmp_path / "turn")
    turn.start()
    server = ServerProcess(
        tmp_path / "server",
        extra_env={
            "COMPANION_ICE_SERVERS": turn.url,
            "COMPANION_TURN_SECRET": turn.secret,
            "COMPANION_TURN_TTL": "600",
        },
    )
    server.data_dir.mkdir()
    assert server.import_programme().returncode == 0
    server.start()
    opened: list[Client] = []
    peers: list[Viewer | Publisher] = []
    try:
        stage = Stage(server, SESSION, opened)
        await stage.load_settings()
        token = await stage.participant_token()
        publisher = Publisher(server.http, SESSION, stage.stream_key, CounterTrack())
        peers.append(publisher)
        assert (await publisher.start()).status == 201

        # What a page gets before it offers.
        answer = await http(
            "GET", f"{server.http}/api/ice/{SESSION}", token=token, content_type=None
        )
        assert answer.status == 200, answer.text
        (entry,) = json.loads(answer.body)["ice_servers"]
        assert entry["urls"] == turn.url
        expiry, user = entry["username"].split(":", 1)
        assert user and user != "companion"  # the participant's own
        assert 590 <= int(expiry) - time.time() <= 600
        refused = await http(
            "GET", f"{server.http}/api/ice/{SESSION}", token="x", content_type=None
        )
        assert refused.status == 403 and "credential" not in refused.text

        viewer = Viewer(
            server.http,
            SESSION,
            token,
            audio=False,
            config=relay_only(entry["urls"], entry["username"], entry["credential"]),
        )
        peers.append(viewer)
        created = await viewer.start()
        assert created.status == 201, created.text
        link = LINK.search(created.headers["link"])
        assert link is not None, created.headers["link"]
        assert link.group(1) == turn.url and link.group(2).endswith(f":{user}")
        assert await wait_until(lambda: len(viewer.counters()) >= 10, 30), "no frames via TURN"
        assert viewer.pc is not None
        pair = viewer.pc.getTransceivers()[0].receiver.transport.transport._connection
        local = pair._nominated[1].local_candidate  # the pair in use (component 1)
        assert local.type == "relay", local

        # A credential past its expiry: coturn refuses the allocation, no picture comes.
        old_user, old_password = rest_credential(turn.secret, user, -60)
        expired = Viewer(
            server.http,
            SESSION,
            token,
            audio=False,
            config=relay_only(turn.url, old_user, old_password),
        )
        peers.append(expired)
        await expired.start()
        assert not await wait_until(lambda: len(expired.counters()) > 0, 6)
    finally:
        for peer in peers:
            await peer.stop(delete=False)
        for client in opened:
            await client.close()
        server.stop()
        turn.stop()
