"""The warning for a server behind a proxy it was not told to trust, from real processes."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(60)

WARNING = "COMPANION_TRUST_PROXY=1"


def get(server: ServerProcess, forwarded: str | None = None) -> None:
    """GET /healthz, as a proxy would forward it (or directly)."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    request = urllib.request.Request(f"{server.http}/healthz", headers=headers)
    urllib.request.urlopen(request, timeout=5).read()


def warned(server: ServerProcess, within: float = 3.0) -> bool:
    """Whether the server's log has the warning (waiting a little for it to be written)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if WARNING in server.log():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start server processes by name with extra environment; all stopped afterwards."""
    started: list[ServerProcess] = []

    def start(name: str, **env: str) -> ServerProcess:
        server = ServerProcess(tmp_path / name, extra_env=env)
        server.data_dir.mkdir()
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_http_through_an_untrusted_proxy_warns_once(servers: Callable[..., ServerProcess]) -> None:
    """Direct requests: no warning; a request with X-Forwarded-For from loopback: one warning."""
    server = servers("plain")
    get(server)
    assert not warned(server, 0.5)
    get(server, "203.0.113.7")
    assert warned(server)
    get(server, "203.0.113.8")
    assert server.log().count(WARNING) == 1


async def test_websocket_through_an_untrusted_proxy_warns(
    servers: Callable[..., ServerProcess],
) -> None:
    """The realtime upgrade with X-Forwarded-For from loopback warns too."""
    server = servers("ws")
    client = await Client.open(server.ws, additional_headers={"X-Forwarded-For": "203.0.113.9"})
    await client.close()
    assert warned(server)


def test_https_public_url_without_trust_warns_at_start(
    servers: Callable[..., ServerProcess],
) -> None:
    """TLS ends in front of the server: it says so before any request."""
    server = servers("https", COMPANION_PUBLIC_URL="https://companion.example.se")
    assert warned(server)


def test_trusted_proxy_does_not_warn(servers: Callable[..., ServerProcess]) -> None:
    """With COMPANION_TRUST_PROXY=1 (as compose sets it) no warning, whatever comes."""
    server = servers(
        "trusted", COMPANION_TRUST_PROXY="1", COMPANION_PUBLIC_URL="https://companion.example.se"
    )
    get(server, "203.0.113.7")
    assert not warned(server, 1.0)
