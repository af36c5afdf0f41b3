"""The compose topology, started without Docker: redis-server, two `companion serve`
replicas, Debian's nginx with deploy/nginx.conf (paths and ports substituted, nothing
else; a self-signed certificate made with openssl) and coturn with
deploy/turnserver.conf, each replica configured as docker-compose.yml configures it.
Everything below goes through nginx over TLS, as an operator's users would."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.browser import LAPTOP, chromium, new_page
from tests.nginxproc import NginxProcess
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess
from tests.turnproc import TurnProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(180)

SESSION = "ledarskap-2020-05-05"


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
        return ssl.create_default_context(
            cafile=str(self.nginx.directory / "certs" / "fullchain.pem")
        )

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
        await page.wait_for_function("document.body.dataset.connection === 'live'", timeout=15_000)
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
        replies = await asyncio.gather(
            *(v.request({"type": "vote", "question": qid}) for v in voters)
        )
        assert all(r["type"] == "ack" and r["voted"] for r in replies), replies
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
        topology.replicas[0].start()  # back for the next test, on the same ports
