"""Who may connect: origin checks and per-address limits on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import SESSION, started
from tests.serverproc import ServerProcess
from tests.wsclient import Client


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server with small per-address limits."""
    env = {
        "COMPANION_MAX_CONNECTIONS_PER_ADDRESS": "6",
        "COMPANION_CONNECT_BURST": "12",
        "COMPANION_CONNECTS_PER_SECOND": "1",
        "COMPANION_NEW_PARTICIPANT_BURST": "3",
        "COMPANION_NEW_PARTICIPANTS_PER_MINUTE": "1",
    }
    with started(ServerProcess(tmp_path, extra_env=env)) as server:
        yield server


async def status_of(url: str, **kwargs: object) -> int:
    """The HTTP status of a WebSocket upgrade (101 when accepted)."""
    try:
        ws = await connect(url, open_timeout=5, **kwargs)
    except InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


async def test_pages_of_other_sites_cannot_connect(server: ServerProcess) -> None:
    """An upgrade from another site's page is refused with 403; our own pages' origin is accepted."""
    assert await status_of(server.ws, origin="https://evil.example") == 403
    assert await status_of(server.ws, origin=f"http://127.0.0.1:{server.port}") == 101
    assert await status_of(server.ws) == 101  # not a browser: no Origin header


async def test_connections_per_address_are_limited(strict_server: ServerProcess) -> None:
    """Past the per-address limit, an upgrade gets 429; closing one makes room again."""
    held = [await connect(strict_server.ws, open_timeout=5) for _ in range(6)]
    try:
        assert await status_of(strict_server.ws) == 429
        await held.pop().close()
        assert await status_of(strict_server.ws) == 101
    finally:
        for ws in held:
            await ws.close()


async def test_connection_attempts_per_address_are_rate_limited(
    strict_server: ServerProcess,
) -> None:
    """A burst of connection attempts beyond the allowance gets 429 with Retry-After."""
    statuses = [await status_of(strict_server.ws) for _ in range(14)]
    assert statuses[:12] == [101] * 12 and statuses[-1] == 429


async def test_fresh_identities_per_address_are_limited(strict_server: ServerProcess) -> None:
    """Vote stuffing with new tokens from one address is refused; known participants still join."""
    code, _ = strict_server.access()[SESSION]
    joined = []
    for _ in range(3):
        client = await Client.open(strict_server.ws)
        joined.append(client)
        assert (await client.join(code=code, where="room"))["type"] == "welcome"
    extra = await Client.open(strict_server.ws)
    joined.append(extra)
    refused = await extra.join(code=code, where="room")
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    token = joined[0].welcome["participant"]["token"]
    again = await extra.join(code=code, where="room", token=token)
    assert again["type"] == "welcome"
    for client in joined:
        await client.close()
