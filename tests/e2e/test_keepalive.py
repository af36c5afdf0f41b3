"""The server's keepalive, on a real server process with a 1 s interval: one ping frame to
every joined connection each round; a client that answers stays however quiet it is, and
one whose network went silent is closed and counted out within a few rounds."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from tests.e2e.conftest import SESSION, started
from tests.netproxy import SilentProxy
from tests.serverproc import ServerProcess
from tests.wsclient import Client

KEEPALIVE = 1.0


async def test_a_silent_network_is_counted_out_and_a_quiet_client_stays(tmp_path: Path) -> None:
    """Two participants, one behind a proxy that goes silent: after five rounds the quiet
    but answering one is still joined and the silent one is gone from presence."""
    env = {"COMPANION_KEEPALIVE_SECONDS": str(KEEPALIVE)}
    with started(ServerProcess(tmp_path, extra_env=env)) as server:
        code, token = server.access()[SESSION]
        proxy = SilentProxy(server.ws_port)
        await proxy.start()
        try:
            moderator = await Client.open(server.ws)
            await moderator.join(role="moderator", session=SESSION, moderator_token=token)
            # The library's own keepalive is off here: only the server's pings are answered.
            quiet = await Client.open(server.ws, ping_interval=None)
            assert (await quiet.join(code=code, where="room"))["type"] == "welcome"
            lost = await Client.open(f"ws://127.0.0.1:{proxy.port}/ws", ping_interval=None)
            assert (await lost.join(code=code, where="remote"))["type"] == "welcome"
            await moderator.wait_for(
                lambda m: m["type"] == "presence" and m["room"] == 1 and m["remote"] == 1
            )
            proxy.silent = True
            went_silent = time.monotonic()
            mark = len(moderator.messages)
            await moderator.wait_for(
                lambda m: m["type"] == "presence" and m["remote"] == 0,
                timeout=6 * KEEPALIVE + 4,  # two silent rounds, the next one, the close grace
                start=mark,
            )
            counted_out = time.monotonic() - went_silent
            print(f"\nsilent client counted out after {counted_out:.1f} s")
            await asyncio.sleep(max(0.0, 5 * KEEPALIVE - counted_out))
            assert not quiet.closed
            assert (await quiet.request({"type": "ping"}))["type"] == "pong"
            for client in (moderator, quiet):
                await client.close()
        finally:
            await proxy.stop()


async def test_a_quiet_room_hears_a_heartbeat_so_pages_never_need_to_ping(
    tmp_path: Path,
) -> None:
    """Nothing happens in the session for 8 s: a participant and a moderator still hear a
    message at least every 3 s (the pages ping after 3 s of silence): an unasked `pong`
    without `re`, which the pages ignore."""
    with started(ServerProcess(tmp_path)) as server:
        code, token = server.access()[SESSION]
        moderator = await Client.open(server.ws)
        await moderator.join(role="moderator", session=SESSION, moderator_token=token)
        participant = await Client.open(server.ws)
        assert (await participant.join(code=code, where="remote"))["type"] == "welcome"
        arrivals: dict[str, list[float]] = {"participant": [], "moderator": []}

        async def listen(name: str, client: Client) -> None:
            seen = len(client.messages)
            end = time.monotonic() + 8
            while time.monotonic() < end:
                with contextlib.suppress(TimeoutError):
                    await client.wait_for(
                        lambda m: True, timeout=end - time.monotonic(), start=seen
                    )
                    arrivals[name].append(time.monotonic())
                    seen = len(client.messages)

        started_at = time.monotonic()
        await asyncio.gather(listen("participant", participant), listen("moderator", moderator))
        for name, times in arrivals.items():
            gaps = [
                b - a for a, b in zip([started_at, *times], [*times, started_at + 8], strict=True)
            ]
            assert max(gaps) < 3.0, (name, gaps)
        heartbeats = [m for m in participant.messages if m["type"] == "pong"]
        assert heartbeats and all("re" not in m and "seq" not in m for m in heartbeats)
        for client in (moderator, participant):
            await client.close()
