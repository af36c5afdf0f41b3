"""The compose topology, started without Docker: redis-server, two `companion serve`
replicas, Debian's nginx with deploy/nginx.conf (paths and ports substituted, nothing
else; a self-signed certificate made with openssl) and coturn with
deploy/turnserver.conf, each replica configured as docker-compose.yml configures it.
Everything below goes through nginx over TLS, as an operator's users would.

Covered: pages and CSP in Chromium; votes through both replicas adding up; a SIGKILLed
replica's clients resuming on the other by `seq`; WHIP/WHEP in four sessions (aiortc) and
in three sessions with Chromium on the camera and remote pages (video within 2 s, the
camera page counting the viewer whichever replica its socket reached); a
relay-only aiortc viewer through coturn; the stream offline within seconds after the
publisher's replica is killed; presence the session's on both replicas, also after one is
killed, and the report's attendance peak the session's. Not covered: a relay-only
*browser* viewer."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from playwright.async_api import expect

from tests.e2e.browser import LAPTOP, chromium, new_page
from tests.media.peers import CounterTrack, Publisher, Viewer, http, wait_until
from tests.nginxproc import NginxProcess
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess
from tests.turnproc import TurnProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(180)

SESSION = "ledarskap-2020-05-05"
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@dataclass
class Topology:
    redis: RedisProcess
    replicas: list[ServerProcess]
    nginx: NginxProcess
    turn: TurnProcess

    @property
    def https(self) -> str:
        return self.nginx.https

    @property
    def wss(self) -> str:
        return f"wss://localhost:{self.nginx.https_port}/ws"

    @property
    def tls(self) -> ssl.SSLContext:
        """Trusts the test's self-signed certificate, and nothing else."""
        return ssl.create_default_context(cafile=str(self.nginx.certificate))

    async def join(self, **fields: object) -> Client:
        client = await Client.open(self.wss, ssl=self.tls)
        welcome = await client.join(**fields)
        assert welcome["type"] == "welcome", welcome
        return client


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    root = Path(tmp_path_factory.mktemp("topology"))
    redis = RedisProcess(root / "redis")
    redis.start()
    turn = TurnProcess(root / "turn")
    turn.start()
    replicas = [ServerProcess(root / name) for name in ("companion-1", "companion-2")]
    nginx = NginxProcess(root / "nginx", [(r.port, r.ws_port) for r in replicas])
    public = f"localhost:{nginx.https_port}"
    for replica in replicas:
        replica.data_dir.mkdir()
        # As docker-compose.yml sets them (the secret key is the test's own).
        replica.extra_env.update(
            REDIS_URL=redis.url,
            COMPANION_HOST="127.0.0.1",
            COMPANION_PUBLIC_URL=f"https://{public}",
            COMPANION_PUBLIC_WS_URL=f"wss://{public}/ws",
            COMPANION_ICE_SERVERS=turn.url,
            COMPANION_TURN_SECRET=turn.secret,
            COMPANION_TRUST_PROXY="1",
        )
    assert replicas[0].import_programme().returncode == 0
    for replica in replicas:
        replica.start()
    nginx.start()
    yield Topology(redis, replicas, nginx, turn)
    nginx.stop()
    for replica in replicas:
        replica.stop()
    turn.stop()
    redis.stop()


async def test_pages_load_through_nginx_with_a_matching_csp(topology: Topology) -> None:
    """The remote page over https through nginx: its CSP names the wss URL the page uses, Chromium connects the realtime socket with no console error (a CSP violation would be one)."""
    code, _ = topology.replicas[0].access()[SESSION]
    request = urllib.request.Request(f"{topology.https}/remote/{code}")
    with urllib.request.urlopen(request, context=topology.tls, timeout=10) as response:
        assert response.status == 200
        csp = response.headers["content-security-policy"]
    connect = re.search(r"connect-src ([^;]+)", csp).group(1).split()
    assert f"wss://localhost:{topology.nginx.https_port}" in connect, csp
    async with chromium() as browser:
        _, page = await new_page(browser, LAPTOP, ignore_https_errors=True)
        await page.goto(f"{topology.https}/remote/{code}")
        await expect(page.locator("body")).to_have_attribute(
            "data-connection", "live", timeout=15_000
        )
        assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]


async def test_votes_through_both_replicas_add_up_and_a_killed_replica_is_resumed_from(
    topology: Topology,
) -> None:
    """20 participants through nginx (spread over both replicas), concurrent votes count exactly; SIGKILL one replica: its clients reconnect through nginx to the other with their token and `since`, get `resumed` (not a snapshot), and vote on."""
    code, key = topology.replicas[0].access()[SESSION]
    opened: list[Client] = []
    try:
        moderator = await topology.join(role="moderator", session=SESSION, moderator_token=key)
        opened.append(moderator)
        voters = [await topology.join(code=code, where="remote") for _ in range(20)]
        opened += voters
        qid = (await voters[0].request({"type": "ask", "text": "Genom nginx?"}))["question"]
        await moderator.request({"type": "question.approve", "question": qid})  # if moderated
        for voter in voters:  # each replica has the question before its voters vote on it
            await voter.wait_for(
                lambda m: m["type"] == "questions" and any(q["id"] == qid for q in m["questions"]),
                timeout=10,
            )
        replies = await asyncio.gather(
            *(v.request({"type": "vote", "question": qid}) for v in voters)
        )
        assert all(r["type"] == "ack" and r["voted"] for r in replies), [
            r for r in replies if r["type"] != "ack" or not r["voted"]
        ]
        await moderator.wait_for(
            lambda m: m["type"] == "counts" and m["counts"].get(str(qid)) == 20, timeout=10
        )

        killed = topology.replicas[0]
        killed.kill()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(v.closed for v in voters):
            await asyncio.sleep(0.1)
        cut = [v for v in voters if v.closed]
        # least_conn spread the sockets: the killed replica held some, not all.
        assert 0 < len(cut) < len(voters), len(cut)
        for client in cut:
            assert client.welcome is not None and client.seq is not None
            token = client.welcome["participant"]["token"]
            back = await Client.open(topology.wss, ssl=topology.tls)
            opened.append(back)
            welcome = await back.join(code=code, where="remote", token=token, since=client.seq)
            assert welcome["type"] == "welcome", welcome
            await back.wait_for(lambda m: m["type"] == "resumed", timeout=5)
            assert not any(m["type"] == "snapshot" for m in back.messages)
            again = await back.request({"type": "vote", "question": qid})
            assert again["type"] == "ack" and again["voted"] is False  # its vote was kept
        # A moderator joining now (through nginx, so on the survivor) sees the exact total.
        check = await topology.join(role="moderator", session=SESSION, moderator_token=key)
        opened.append(check)
        snapshot = await check.wait_for(lambda m: m["type"] == "snapshot")
        question = next(q for q in snapshot["questions"] if q["id"] == qid)
        assert question["votes"] == 20 - len(cut)
    finally:
        for client in opened:
            await client.close()
        if topology.replicas[0].proc and topology.replicas[0].proc.poll() is not None:
            topology.replicas[0].start()  # back for the next test, on the same ports


async def test_stream_through_nginx_in_several_sessions_and_a_relay_only_viewer(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through nginx: in 4 sessions an aiortc publisher (WHIP) and a viewer (WHEP) meet on the same replica (201 at once, never 503) and the viewer's first frame comes within 2 s; DELETE reaches the resource (200). A relay-only viewer with the credentials from /api/ice gets video through coturn."""
    # The peers' HTTP (tests/media/peers.py) trusts the test's certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(topology.nginx.certificate))
    access = topology.replicas[1].access()
    sessions = ["tema-1-session-2", "tema-2-session-2", "tema-3-session-2", "tema-4-session-2"]
    opened: list[Client] = []
    peers: list[Publisher | Viewer] = []
    try:
        for session in sessions:
            code, key = access[session]
            settings = await http(
                "GET", f"{topology.https}/api/stream/{session}", token=key, content_type=None
            )
            assert settings.status == 200, settings.text
            info = json.loads(settings.body)
            assert info["whep_url"] == f"{topology.https}/whep/{session}"
            moderator = await topology.join(role="moderator", session=session, moderator_token=key)
            opened.append(moderator)
            publisher = Publisher(topology.https, session, info["stream_key"], CounterTrack())
            peers.append(publisher)
            assert (await publisher.start()).status == 201
            await moderator.wait_for(
                lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "live",
                15,
            )
            participant = await topology.join(code=code, where="remote")
            opened.append(participant)
            token = participant.welcome["participant"]["token"]  # type: ignore[index]
            viewer = Viewer(topology.https, session, token, audio=False)
            peers.append(viewer)
            started = time.monotonic()
            answer = await viewer.start()
            assert answer.status == 201, (session, answer.status, answer.text)
            assert await wait_until(lambda v=viewer: v.first_frame_at is not None, 2.0), session
            assert viewer.first_frame_at is not None and viewer.first_frame_at - started < 2.0

        # Each session's media is in one replica, publisher and viewer together (asked of
        # each replica directly). Which replica depends on the hash of the (random) ports.
        owners: dict[str, list[int]] = {session: [] for session in sessions}
        counts = [0, 0]
        for index, replica in enumerate(topology.replicas):
            stats = json.loads((await http("GET", f"{replica.http}/healthz/media")).body)
            for session in stats["broadcasts"]:
                owners[session].append(index)
            counts[index] = stats["publishers"] + stats["viewers"]
        assert all(len(where) == 1 for where in owners.values()), owners
        assert sum(counts) == 2 * len(sessions), counts

        # A viewer behind a strict NAT: relay candidates only, through coturn.
        session = sessions[0]
        code, _ = access[session]
        participant = await topology.join(code=code, where="remote")
        opened.append(participant)
        token = participant.welcome["participant"]["token"]  # type: ignore[index]
        ice = await http(
            "GET", f"{topology.https}/api/ice/{session}", token=token, content_type=None
        )
        (entry,) = json.loads(ice.body)["ice_servers"]
        relayed = Viewer(
            topology.https,
            session,
            token,
            audio=False,
            config=RTCConfiguration(
                iceServers=[RTCIceServer(entry["urls"], entry["username"], entry["credential"])],
                iceTransportPolicy=RTCIceTransportPolicy.RELAY,
            ),
        )
        peers.append(relayed)
        assert (await relayed.start()).status == 201
        assert await wait_until(lambda: len(relayed.counters()) >= 10, 20), "no frames via coturn"
        assert relayed.pc is not None
        ice_connection = relayed.pc.getTransceivers()[0].receiver.transport.transport._connection
        assert ice_connection._nominated[1].local_candidate.type == "relay"

        for peer in peers:
            deleted = await peer.stop()
            assert deleted is not None and deleted.status == 200, deleted
        peers.clear()
    finally:
        for peer in peers:
            await peer.stop(delete=False)
        for client in opened:
            await client.close()


async def test_browsers_publish_and_play_through_nginx_within_two_seconds(
    topology: Topology,
) -> None:
    """Chromium through nginx over TLS, in 3 sessions live at once: the camera page publishes (WHIP), the remote page plays within 2 s of the camera going live, with no console error (no 404 of a DELETE sent to the wrong replica, no 503), and the camera page says "1 tittare"."""
    access = topology.replicas[1].access()
    sessions = ["ledarskap-2020-05-15", "ledarskap-2020-06", "tema-4-session-2"]
    profile = json.dumps(json.dumps({"where": "remote"}))
    async with chromium(FAKE_MEDIA) as browser:
        pages = []
        for session in sessions:
            code, key = access[session]
            _, camera = await new_page(browser, LAPTOP, ignore_https_errors=True)
            await camera.goto(f"{topology.https}/camera/{session}#key={key}")
            await expect(camera.locator("#go-live")).to_be_enabled(timeout=10_000)
            _, remote = await new_page(browser, LAPTOP, ignore_https_errors=True)
            await remote.add_init_script(f"localStorage.setItem('companion.profile', {profile})")
            await remote.goto(f"{topology.https}/remote/{code}")
            await expect(remote.locator("body")).to_have_attribute("data-connection", "live")
            pages += [camera, remote]

            await camera.locator("#go-live").click()
            await expect(camera.locator("#camera-status")).to_have_attribute(
                "data-status", "live", timeout=15_000
            )
            live_at = time.monotonic()
            await remote.wait_for_function(
                "() => { const v = document.getElementById('stream-video');"
                " return v.videoWidth > 0 && v.currentTime > 0; }",
                timeout=10_000,
            )
            waited = time.monotonic() - live_at
            print(f"{session}: video {waited:.2f} s after the camera went live")  # -s shows it
            assert waited < 2.0, (session, waited)
            # The camera page counts the viewer, whichever replica its socket reached.
            await expect(camera.locator("#camera-status")).to_contain_text(
                "· 1 tittare", timeout=5_000
            )
        for page in pages:
            assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]


async def test_a_killed_publishers_replica_makes_the_stream_offline_within_seconds(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publisher through nginx; SIGKILL the replica that holds it: a moderator through nginx (now on the survivor) sees the stream offline within 8 s, and a viewer through nginx is accepted again (201)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(topology.nginx.certificate))
    session = "tema-3-session-2"
    code, key = topology.replicas[1].access()[session]
    info = json.loads(
        (
            await http(
                "GET", f"{topology.https}/api/stream/{session}", token=key, content_type=None
            )
        ).body
    )
    publisher = Publisher(topology.https, session, info["stream_key"], CounterTrack())
    opened: list[Client] = []
    killed: ServerProcess | None = None
    try:
        assert (await publisher.start()).status == 201
        for replica in topology.replicas:
            stats = json.loads((await http("GET", f"{replica.http}/healthz/media")).body)
            if session in stats["broadcasts"]:
                killed = replica
        assert killed is not None
        watcher = await topology.join(role="moderator", session=session, moderator_token=key)
        opened.append(watcher)
        await watcher.wait_for(
            lambda m: (
                m["type"] in ("session", "snapshot") and m["session"]["stream"]["status"] == "live"
            ),
            15,
        )
        killed.kill()
        killed_at = time.monotonic()
        survivor = await topology.join(role="moderator", session=session, moderator_token=key)
        opened.append(survivor)
        await survivor.wait_for(
            lambda m: (
                m["type"] in ("session", "snapshot")
                and m["session"]["stream"]["status"] == "offline"
            ),
            15,
        )
        took = time.monotonic() - killed_at
        print(f"stream offline {took:.1f} s after its replica was killed")  # -s shows it
        assert took < 8.0, took
        participant = await topology.join(code=code, where="remote")
        opened.append(participant)
        token = participant.welcome["participant"]["token"]  # type: ignore[index]
        viewer = Viewer(topology.https, session, token, audio=False)
        assert (await viewer.start()).status == 201
        await viewer.stop()
    finally:
        await publisher.stop(delete=False)
        for client in opened:
            await client.close()
        if killed is not None and killed.proc and killed.proc.poll() is not None:
            killed.start()


PRESENCE_SESSION = "ledarskap-omorganisationer"  # no other test here joins it: its peak is ours


def report_attendance(topology: Topology, session: str, key: str) -> tuple[int, int]:
    """The report's attendance peak, fetched through nginx."""
    request = urllib.request.Request(
        f"{topology.https}/moderate/{session}/report.json",
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, context=topology.tls, timeout=10) as response:
        attendance = json.loads(response.read())["attendance"]
    return attendance["peak_room"], attendance["peak_remote"]


async def test_presence_through_nginx_is_the_sessions_on_both_replicas(
    topology: Topology,
) -> None:
    """4 moderators, 15 in the room and 15 remote through nginx (spread over both replicas): every moderator sees 15/15 and 4 moderators, and the report's peak is 15/15. SIGKILL one replica: its moderators and room participants reconnect through nginx, its remote ones do not; the survivors' moderators never see anyone twice and see the remote ones gone within 7 s; the peak stays 15/15."""
    session = PRESENCE_SESSION
    code, key = topology.replicas[0].access()[session]
    opened: list[Client] = []
    killed = topology.replicas[0]

    def presence(room: int, remote: int, moderators: int) -> Callable[[dict[str, Any]], bool]:
        return lambda m: (
            m["type"] == "presence"
            and (m["room"], m["remote"], m["moderators"]) == (room, remote, moderators)
        )

    try:
        moderators = [
            await topology.join(role="moderator", session=session, moderator_token=key)
            for _ in range(4)
        ]
        opened += moderators
        people = [await topology.join(code=code, where="room") for _ in range(15)]
        people += [await topology.join(code=code, where="remote") for _ in range(15)]
        opened += people
        for moderator in moderators:  # on both replicas (least_conn), each sees everyone
            await moderator.wait_for(presence(15, 15, 4), timeout=10)
        deadline = time.monotonic() + 10
        while (peak := report_attendance(topology, session, key)) != (15, 15):
            assert time.monotonic() < deadline, peak
            await asyncio.sleep(0.25)

        marks = {id(m): len(m.messages) for m in moderators}
        killed.kill()
        killed_at = time.monotonic()
        deadline = killed_at + 10
        while time.monotonic() < deadline and not any(c.closed for c in opened):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # every socket of the killed replica is closed by now
        cut = {id(c) for c in opened if c.closed}
        survivors = [m for m in moderators if id(m) not in cut]
        cut_remote = [p for p in people[15:] if id(p) in cut]
        assert survivors and len(survivors) < 4 and cut_remote, (len(survivors), len(cut_remote))
        for _ in [m for m in moderators if id(m) in cut]:
            opened.append(
                await topology.join(role="moderator", session=session, moderator_token=key)
            )
        for client in [p for p in people[:15] if id(p) in cut]:
            assert client.welcome is not None
            token = client.welcome["participant"]["token"]
            opened.append(
                await topology.join(code=code, where="room", token=token, since=client.seq)
            )
        for moderator in survivors:
            await moderator.wait_for(
                presence(15, 15 - len(cut_remote), 4), timeout=10, start=marks[id(moderator)]
            )
        took = time.monotonic() - killed_at
        print(f"killed replica's {len(cut_remote)} remote people gone after {took:.1f} s")
        assert took < 7.0, took
        for moderator in survivors:
            after = [
                m for m in moderator.messages[marks[id(moderator)] :] if m["type"] == "presence"
            ]
            assert all(m["room"] <= 15 and m["remote"] <= 15 for m in after), after
        await asyncio.sleep(2.5)  # a new peak would be recorded by now
        assert report_attendance(topology, session, key) == (15, 15)
    finally:
        for client in opened:
            await client.close()
        if killed.proc and killed.proc.poll() is not None:
            killed.start()
