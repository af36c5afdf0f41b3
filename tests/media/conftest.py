"""Fixtures for stream tests: one real server process per module (each test uses its own
session of the demo programme, so tests do not see each other's streams)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psutil
import pytest
from aiortc.mediastreams import MediaStreamTrack

from tests.e2e.conftest import redis_pair, started
from tests.media.peers import Publisher, Viewer, http
from tests.serverproc import ServerProcess
from tests.wsclient import Client


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A `companion serve` with the demo programme, shared by the tests of a module."""
    with started(ServerProcess(Path(tmp_path_factory.mktemp("media")))) as proc:
        yield proc


class Stage:
    """One session of the server, with what publishers and viewers need to get in."""

    def __init__(self, server: ServerProcess, session: str, opened: list[Client]) -> None:
        self.server = server
        self.session = session
        self.code, self.moderator_token = server.access()[session]
        self.opened = opened
        self.stream_key = ""
        self.whip_url = ""

    async def load_settings(self) -> dict:
        """The console's stream settings (stream key, WHIP URL), as the moderator sees them."""
        answer = await http(
            "GET",
            f"{self.server.http}/api/stream/{self.session}",
            token=self.moderator_token,
            content_type=None,
        )
        assert answer.status == 200, answer.text
        info = json.loads(answer.body)
        self.stream_key, self.whip_url = info["stream_key"], info["whip_url"]
        return info

    async def participant_token(self) -> str:
        """A participant token, from a real join of the remote page's kind."""
        client = await Client.open(self.server.ws)
        self.opened.append(client)
        welcome = await client.join(code=self.code, where="remote")
        assert welcome["type"] == "welcome", welcome
        return welcome["participant"]["token"]

    async def on_air(
        self,
        video: MediaStreamTrack,
        sound: MediaStreamTrack | None = None,
        **viewer: Any,
    ) -> tuple[Publisher, Viewer]:
        """A WHIP publisher with the stream key and one WHEP viewer with a participant's
        token, both accepted (201); `sound` is the publisher's audio track, `viewer` the
        Viewer's options (audio=False: video only)."""
        if not self.stream_key:
            await self.load_settings()
        token = await self.participant_token()
        publisher = Publisher(self.server.http, self.session, self.stream_key, video, sound)
        assert (await publisher.start()).status == 201
        watcher = Viewer(self.server.http, self.session, token, **viewer)
        assert (await watcher.start()).status == 201
        return publisher, watcher

    async def moderator(self) -> Client:
        """A joined moderator connection (it sees session and presence messages)."""
        client = await Client.open(self.server.ws)
        self.opened.append(client)
        welcome = await client.join(
            role="moderator", session=self.session, moderator_token=self.moderator_token
        )
        assert welcome["type"] == "welcome", welcome
        return client

    async def stats(self) -> dict:
        """The server's media counts."""
        answer = await http("GET", f"{self.server.http}/healthz/media", content_type=None)
        return json.loads(answer.body)


def udp_sockets(server: ServerProcess) -> int:
    """UDP sockets the server process holds (every peer connection binds its own)."""
    assert server.proc is not None
    return sum(1 for c in psutil.Process(server.proc.pid).net_connections(kind="udp"))


@pytest.fixture
async def opened() -> AsyncIterator[list[Client]]:
    """WebSocket clients a test opened, closed afterwards."""
    clients: list[Client] = []
    yield clients
    for client in clients:
        await client.close()


class Peer(Protocol):
    """A media peer of tests/media/peers.py (or a listener): it stops its connection."""

    async def stop(self) -> object: ...


P = TypeVar("P", bound=Peer)


@dataclass
class Replicas:
    """One session on two server processes sharing Redis, and the peers a test opened."""

    a: Stage
    b: Stage
    peers: list[Peer] = field(default_factory=list)

    def keep(self, peer: P) -> P:
        """Stop this peer when the test ends, whatever happens."""
        self.peers.append(peer)
        return peer


@asynccontextmanager
async def replicas(directory: Path, session: str) -> AsyncIterator[Replicas]:
    """`redis_pair` with a Stage of the session on each process (A's stream settings
    loaded); the peers kept and the realtime clients opened are closed at the end."""
    with redis_pair(directory) as (_, a, b):
        opened: list[Client] = []
        pair = Replicas(Stage(a, session, opened), Stage(b, session, opened))
        try:
            await pair.a.load_settings()
            yield pair
        finally:
            for peer in pair.peers:
                await peer.stop()
            for client in opened:
                await client.close()
