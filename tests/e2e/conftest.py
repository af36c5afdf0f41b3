"""Fixtures for end-to-end tests: a real server process with the demo programme, clients
in each role, and a headless Chromium with the console helpers the browser tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.browser import TABLET, chromium, new_page
from tests.nginxproc import NginxProcess
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess, free_port
from tests.wsclient import Client

SESSION = "ledarskap-2020-05-05"


# Room for a burst of many participants through one or two processes (crash and outage
# tests): every request is decided by the rules, not refused by a rate limit.
BURST_LIMITS = {
    "COMPANION_QUESTION_BURST": "1000",
    "COMPANION_QUESTIONS_PER_MINUTE": "6000",
    "COMPANION_VOTE_BURST": "1000",
    "COMPANION_VOTES_PER_SECOND": "1000",
    "COMPANION_CONNECT_BURST": "1000",
    "COMPANION_NEW_PARTICIPANT_BURST": "1000",
}

LIFTED_LIMITS = {
    "COMPANION_QUESTION_BURST": "100000",
    "COMPANION_VOTE_BURST": "100000",
    "COMPANION_CONNECT_BURST": "100000",
    "COMPANION_NEW_PARTICIPANT_BURST": "100000",
    "COMPANION_SESSION_NEW_PARTICIPANT_BURST": "100000",
}


@contextmanager
def started(server: ServerProcess) -> Iterator[ServerProcess]:
    """The server (any settings in its `extra_env`) with the demo programme imported,
    running until the block ends: every server fixture's way to start one."""
    result = server.import_programme()
    assert result.returncode == 0, result.stderr
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def redis_pair(
    directory: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[tuple[RedisProcess, ServerProcess, ServerProcess]]:
    """A redis-server and two server processes sharing it (`directory`/a and /b), the demo
    programme imported once through the first."""
    redis = RedisProcess(directory / "redis")
    redis.start()
    env = {**(extra_env or {}), "REDIS_URL": redis.url}
    (directory / "a").mkdir()
    (directory / "b").mkdir()
    a = ServerProcess(directory / "a", extra_env=dict(env))
    b = ServerProcess(directory / "b", extra_env=dict(env))
    try:
        with started(a):
            b.start()
            try:
                yield redis, a, b
            finally:
                b.stop()
    finally:
        redis.stop()


@contextmanager
def nginx_pair(directory: Path) -> Iterator[tuple[NginxProcess, ServerProcess, ServerProcess]]:
    """`redis_pair` behind Debian's nginx with deploy/nginx.conf over TLS, the replicas
    configured for it as docker-compose.yml configures them (public URLs through nginx,
    the proxy trusted). Clients of `tests/media/peers.py` need SSL_CERT_FILE set to
    `nginx.certificate` to trust it."""
    https_port = free_port()
    public = f"localhost:{https_port}"
    env = {
        "COMPANION_HOST": "127.0.0.1",
        "COMPANION_PUBLIC_URL": f"https://{public}",
        "COMPANION_PUBLIC_WS_URL": f"wss://{public}/ws",
        "COMPANION_TRUST_PROXY": "1",
    }
    with redis_pair(directory, env) as (_, a, b):
        nginx = NginxProcess(
            directory / "nginx", [(a.port, a.ws_port), (b.port, b.ws_port)], https_port=https_port
        )
        nginx.start()
        try:
            yield nginx, a, b
        finally:
            nginx.stop()


@contextmanager
def fuzz_target(directory: Path) -> Iterator[ServerProcess]:
    """A server whose rate limits are lifted, so fuzzed messages meet the rules behind them;
    on the way out, its log must hold no traceback."""
    with started(ServerProcess(directory, extra_env=dict(LIFTED_LIMITS))) as server:
        yield server
    log = server.log()
    assert "Traceback" not in log, log


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh `companion serve` on free loopback ports with the demo programme imported."""
    with started(ServerProcess(tmp_path)) as proc:
        yield proc


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    """Collects clients opened by a test and closes them afterwards."""
    opened: list[Client] = []
    yield opened
    for client in opened:
        await client.close()


class Room:
    """Helpers to join the demo session in each role."""

    def __init__(self, server: ServerProcess, opened: list[Client], session: str = SESSION):
        self.server = server
        self.opened = opened
        self.session = session
        self.code, self.moderator_token = server.access()[session]

    async def connect(self) -> Client:
        """A connected, not yet joined client."""
        client = await Client.open(self.server.ws)
        self.opened.append(client)
        return client

    async def participant(self, where: str = "room", **fields: object) -> Client:
        """A joined participant."""
        client = await self.connect()
        welcome = await client.join(code=self.code.lower(), where=where, **fields)
        assert welcome["type"] == "welcome", welcome
        return client

    async def moderator(self, **fields: object) -> Client:
        """A joined moderator."""
        client = await self.connect()
        welcome = await client.join(
            role="moderator", session=self.session, moderator_token=self.moderator_token, **fields
        )
        assert welcome["type"] == "welcome", welcome
        return client

    async def screen(self) -> Client:
        """A joined big screen."""
        client = await self.connect()
        welcome = await client.join(role="screen", code=self.code)
        assert welcome["type"] == "welcome", welcome
        return client


@pytest.fixture
def room(server: ServerProcess, clients: list[Client]) -> Room:
    """The demo session, ready to join."""
    return Room(server, clients)


@pytest.fixture
async def chrome() -> AsyncIterator[Browser]:
    """One headless Chromium for the test."""
    async with chromium() as browser:
        yield browser


async def open_console(chrome: Browser, room: Room, key: str | None = None) -> Page:
    """A fresh tablet page (its own storage) on the console; the key goes in the fragment,
    the room's own unless given, none when it is ''."""
    _, page = await new_page(chrome, TABLET)
    token = room.moderator_token if key is None else key
    fragment = f"#key={token}" if token else ""
    await page.goto(f"{room.server.http}/moderate/{room.session}{fragment}")
    return page


async def console_ready(page: Page) -> None:
    """Wait until the console has its first snapshot."""
    await expect(page.locator("#console")).to_be_visible()
    await expect(page.locator("#console")).not_to_have_attribute("aria-busy", "true")
