"""The realtime Origin check and the CSP's connect-src on real servers: real WebSocket
handshakes (a DNS-rebinding page included) and the real pages in Chromium."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.browser import PHONE, chromium, new_page
from tests.e2e.conftest import SESSION, Room, started
from tests.serverproc import ServerProcess, free_port
from tests.wsclient import Client

# Chromium resolves these names to this machine, as a rebinding attacker's DNS would.
RESOLVE = "--host-resolver-rules=MAP rebind.example 127.0.0.1, MAP companion.test 127.0.0.1"


async def handshake(server: ServerProcess, host: str, origins: list[str]) -> int:
    """The HTTP status of an upgrade opened to 127.0.0.1 under the name `host` (so the
    Host header says `host`), with these Origin headers; 101 when accepted."""
    sock = socket.create_connection(("127.0.0.1", server.ws_port))
    try:
        ws = await connect(
            f"ws://{host}:{server.ws_port}/ws",
            sock=sock,
            additional_headers=[("Origin", o) for o in origins],
            open_timeout=5,
        )
    except InvalidStatus as refused:
        return refused.response.status_code
    finally:
        sock.close()
    await ws.close()
    return 101


@pytest.fixture
def public_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that knows its public address: pages at http://companion.test:PORT."""
    port = free_port()
    env = {
        "COMPANION_PUBLIC_URL": f"http://companion.test:{port}",
        "COMPANION_ALLOWED_ORIGINS": "https://program.example.se",
    }
    with started(ServerProcess(tmp_path, port=port, extra_env=env)) as server:
        yield server


async def test_a_rebinding_page_and_other_local_pages_are_refused(server: ServerProcess) -> None:
    """Without a public URL: our pages by address or localhost connect; a page whose own
    DNS name was rebound to this machine, a page of another local port, a forged second
    Origin and `null` get 403."""
    pages = f"{server.port}"
    assert await handshake(server, "127.0.0.1", [f"http://127.0.0.1:{pages}"]) == 101
    assert await handshake(server, "localhost", [f"http://localhost:{pages}"]) == 101
    assert await handshake(server, "127.0.0.1", []) == 101  # not a browser
    assert await handshake(server, "rebind.example", [f"http://rebind.example:{pages}"]) == 403
    assert await handshake(server, "127.0.0.1", ["http://127.0.0.1:3000"]) == 403
    assert await handshake(server, "127.0.0.1", ["null"]) == 403
    twice = [f"http://127.0.0.1:{pages}", "https://evil.example"]
    assert await handshake(server, "127.0.0.1", twice) == 403


async def test_with_a_public_url_exactly_its_origin_connects(public_server: ServerProcess) -> None:
    """With COMPANION_PUBLIC_URL, its origin and COMPANION_ALLOWED_ORIGINS, nothing else."""
    port = public_server.port
    assert (
        await handshake(public_server, "companion.test", [f"http://companion.test:{port}"]) == 101
    )
    assert await handshake(public_server, "companion.test", ["https://program.example.se"]) == 101
    assert await handshake(public_server, "127.0.0.1", [f"http://127.0.0.1:{port}"]) == 403
    assert (
        await handshake(public_server, "rebind.example", [f"http://rebind.example:{port}"]) == 403
    )
    assert await handshake(public_server, "companion.test", ["http://companion.test"]) == 403


def csp_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.headers["content-security-policy"]


def test_connect_src_names_the_realtime_host_exactly(server: ServerProcess) -> None:
    """The CSP lets a page connect to its own host on the realtime port, no wildcard."""
    policy = csp_of(f"{server.http}/")
    ws = server.ws_port
    assert f"connect-src 'self' ws://127.0.0.1:{ws} wss://127.0.0.1:{ws};" in policy
    assert "*" not in policy


def joined_phones(moderator: Client) -> int:
    """The participants the server counts as connected, from the moderator's last presence."""
    presence = [m for m in moderator.messages if m["type"] == "presence"]
    return presence[-1]["room"] + presence[-1]["remote"] if presence else 0


async def test_the_real_pages_connect_and_a_rebound_page_does_not(room: Room) -> None:
    """Chromium: the phone page from 127.0.0.1 and from localhost joins; the same page
    loaded under a rebound name loads but its WebSocket is refused, so it never joins."""
    moderator = await room.moderator()
    http = room.server.http
    async with chromium([RESOLVE]) as browser:
        _, rebound = await new_page(browser, PHONE)
        await rebound.goto(f"http://rebind.example:{room.server.port}/room/{room.code}")
        # An absence has no event to wait on: give the join that must not happen 1.5 s (a
        # join reaches the moderator's presence within 100 ms).
        await asyncio.sleep(1.5)
        assert joined_phones(moderator) == 0
        refused = await rebound.evaluate(
            """url => new Promise(done => {
                 const ws = new WebSocket(url);
                 ws.onopen = () => done("open");
                 ws.onerror = () => done("refused");
               })""",
            f"ws://rebind.example:{room.server.ws_port}/ws",
        )
        assert refused == "refused"
        for base in (http, f"http://localhost:{room.server.port}"):
            _, phone = await new_page(browser, PHONE)
            await phone.goto(f"{base}/room/{room.code}")
            await phone.wait_for_selector("#question-text", state="visible")
            assert not phone.console_errors, phone.console_errors  # type: ignore[attr-defined]
        await moderator.wait_for(lambda m: m["type"] == "presence" and m["room"] + m["remote"] == 2)
        assert joined_phones(moderator) == 2


async def test_behind_a_public_url_the_public_pages_connect(public_server: ServerProcess) -> None:
    """Chromium with COMPANION_PUBLIC_URL: the page at the public address joins."""
    code, token = public_server.access()[SESSION]
    moderator = await Client.open(public_server.ws)
    try:
        welcome = await moderator.join(role="moderator", session=SESSION, moderator_token=token)
        assert welcome["type"] == "welcome"
        async with chromium([RESOLVE]) as browser:
            _, phone = await new_page(browser, PHONE)
            await phone.goto(f"http://companion.test:{public_server.port}/room/{code}")
            await moderator.wait_for(
                lambda m: m["type"] == "presence" and m["room"] + m["remote"] == 1
            )
            _, local = await new_page(browser, PHONE)
            await local.goto(f"http://127.0.0.1:{public_server.port}/room/{code}")
            await asyncio.sleep(1.5)  # an absence, as above
            assert joined_phones(moderator) == 1  # not the public origin
    finally:
        await moderator.close()
