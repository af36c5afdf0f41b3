"""Real processes on a real Redis whose appends fail, stall or stop: what is answered is true."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.conftest import SESSION
from tests.redisproc import RedisProcess
from tests.redisproxy import RedisProxy
from tests.serverproc import ServerProcess
from tests.wsclient import Client


async def test_a_rotation_whose_append_fails_changes_nothing_anywhere(tmp_path: Path) -> None:
    """Process A reaches Redis through a proxy that drops its appends: the rotation is
    refused with store_unavailable, and the old key still opens the console on A, on B and
    after a restart; once appends pass again, a rotation reaches B and a process started
    later."""
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    proxy = RedisProxy(redis.port)
    await proxy.start()
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    a = ServerProcess(tmp_path / "a", extra_env={"REDIS_URL": proxy.url})
    b = ServerProcess(tmp_path / "b", extra_env={"REDIS_URL": redis.url})
    c = ServerProcess(tmp_path / "c", extra_env={"REDIS_URL": redis.url})
    opened: list[Client] = []

    async def console(server: ServerProcess, key: str) -> Client:
        client = await Client.open(server.ws)
        opened.append(client)
        await client.join(role="moderator", session=SESSION, moderator_token=key)
        return client

    async def opens(server: ServerProcess, key: str) -> bool:
        client = await Client.open(server.ws)
        opened.append(client)
        reply = await client.join(role="moderator", session=SESSION, moderator_token=key)
        return reply["type"] == "welcome"

    assert b.import_programme().returncode == 0
    await asyncio.to_thread(a.start)  # A's Redis is the proxy on this loop: keep it running
    b.start()
    try:
        _, key = b.access()[SESSION]
        on_a = await console(a, key)
        on_b = await console(b, key)
        proxy.drop_appends = True
        refused = await on_a.request({"type": "session.rotate_key"}, timeout=10)
        assert refused["type"] == "error" and refused["code"] == "store_unavailable"
        assert proxy.dropped >= 1
        proxy.drop_appends = False
        # Nothing half-done: the old key works on both processes and is what Redis holds.
        assert b.access()[SESSION][1] == key
        assert await opens(a, key) and await opens(b, key)
        assert (await on_a.request({"type": "agenda.next"}))["type"] == "ack"
        assert (await on_b.request({"type": "agenda.next"}))["type"] == "ack"
        assert not on_a.closed and not on_b.closed
        b.stop()
        b.start()
        assert await opens(b, key)

        new_key = (await on_a.request({"type": "session.rotate_key"}))["moderator_token"]
        c.start()
        for server in (a, b, c):
            assert await opens(server, new_key), server.data_dir.name
            assert not await opens(server, key), server.data_dir.name
        assert b.access()[SESSION][1] == new_key
    finally:
        for client in opened:
            await client.close()
        for server in (a, b, c):
            server.stop()
        await proxy.stop()
        redis.stop()
